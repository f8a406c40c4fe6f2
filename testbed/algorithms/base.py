"""What every distribution method implements, and the helpers they share.

An algorithm (Flower's ``Strategy`` spirit) only decides *who computes what and
who sends what to whom*: it hosts node states on the run's executor
(:meth:`Algorithm.setup`), starts one process per logical node on the engine
(:meth:`Algorithm.start`), says where its generator(s) live (:meth:`Algorithm.generators`:
snapshots with parameters *and* BatchNorm buffers, evaluated exactly as trained) and
which optimisers to read the learning rates from (:meth:`Algorithm.lr_probes`), and
states its footing (:meth:`Algorithm.footing`: simultaneous or alternating G/D
updates, optimiser steps per iteration) so equal-iteration comparisons are read right.
It never sleeps, reads the wall clock or writes files: time comes from the engine, bytes from the accountant, and the
run (testbed.run) does evaluation, stopping and results.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from testbed.errors import ConfigError
from testbed.topology import Topology

if TYPE_CHECKING:
    from testbed.run import Run

EMPTY = np.zeros(0, dtype=np.float32)
"""Stands in for a parameter segment a shard does not hold."""


@dataclasses.dataclass(frozen=True)
class NoParams:
    """For methods without parameters."""


class Algorithm(ABC):
    """Base class of every registered method."""

    name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    task_kinds: ClassVar[tuple[str, ...]] = ()
    """Compute task kinds this method charges (calibrated before training)."""
    update_orders: ClassVar[tuple[str, ...]] = ("simultaneous",)
    """G/D update orders the method offers (``training.update_order``); the first is its native one."""

    def __init__(self, run: Run, params: Any) -> None:
        self.run = run
        self.params = params

    @classmethod  # noqa: B027 - an optional hook, empty by default
    def validate(cls, params: Any, topology: Topology, src: str) -> None:
        """Check parameters against the topology (e.g. ``server_at``); raise ConfigError."""

    @abstractmethod
    def setup(self) -> None:
        """Host every node's state on ``self.run.executor``."""

    @abstractmethod
    def start(self) -> None:
        """Spawn the node processes on ``self.run.engine``."""

    @abstractmethod
    def generators(self) -> dict[str, Any]:
        """Label -> snapshot of each generator the method trains, as handles: ``{"params", "buffers"}``
        read from the node that holds G, or ``{"segments", "buffers"}`` for a G held by PS shards."""

    @abstractmethod
    def lr_probes(self) -> list[Any]:
        """Handles of ``current_lrs()`` calls on the nodes whose optimisers train G and D."""

    @abstractmethod
    def footing(self) -> dict[str, Any]:
        """``update_order``, what one ``iteration`` is, and the optimiser steps it applies to G and D
        (``g_steps_per_iteration``, ``d_steps_per_iteration``, summed over every copy of each net)."""

    def snapshot_of(self, node: str) -> Any:
        """The snapshot handle of a node holding a whole G (worker, server, learner)."""
        return self.run.executor.call(node, "generator_snapshot")

    def probes_of(self, nodes: list[str]) -> list[Any]:
        """``current_lrs()`` handles of ``nodes``."""
        return [self.run.executor.call(node, "current_lrs") for node in nodes]

    def calibration_node(self, kind: str) -> str:
        """A node whose state can time tasks of ``kind`` (default: the first worker)."""
        return self.run.workers[0]


def check_datacenter(value: Any, topology: Topology, src: str, fieldname: str = "algorithm.server_at") -> None:
    """ConfigError unless ``value`` (a name or list of names) names datacenters of the topology."""
    names = [value] if isinstance(value, str) else list(value or [])
    for name in names:
        if not isinstance(name, str) or not topology.has_datacenter(name):
            raise ConfigError(src, fieldname, f"{name!r} is not a datacenter of topology {topology.name!r}",
                              f"use one of {[dc.name for dc in topology.datacenters]}")


def check_one_datacenter(value: Any, topology: Topology, src: str, fieldname: str = "algorithm.server_at") -> None:
    """As :func:`check_datacenter`, for parameters that take exactly one datacenter."""
    if value is not None and not isinstance(value, str):
        raise ConfigError(src, fieldname, f"expected one datacenter, got {value!r}", "name a single datacenter")
    check_datacenter(value, topology, src, fieldname)


def server_datacenters(value: Any, topology: Topology) -> list[str]:
    """``server_at`` as a list of datacenters (default: the first datacenter)."""
    if value is None:
        return [topology.datacenters[0].name]
    return [value] if isinstance(value, str) else list(value)
