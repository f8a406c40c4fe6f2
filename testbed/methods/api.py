"""The narrow interface between a distribution method and the testbed that runs it.

A method (Flower's ``Strategy`` spirit) only decides *who computes what and who sends what to
whom*.  It sees a :class:`Session` -- its workers and topology, the node setup, a seeded RNG, and
the verbs (host a node state, call a node, resolve a value, spawn a process, ask whether to
stop, complete an iteration, stop with a reason, ask whether a node is up) -- and never the
orchestrator behind it: not the wall clock, the
evaluator, the progress bar, the files, the transport.  testbed.experiment.run implements the Session for
real runs; a test can drive a method through a small fake one.

An :class:`Algorithm` hosts node states (:meth:`Algorithm.setup`), starts one process per
logical node (:meth:`Algorithm.start`), says where its generator(s) live
(:meth:`Algorithm.generators`: snapshots with parameters *and* BatchNorm buffers, evaluated
exactly as trained), which optimisers to read the learning rates from
(:meth:`Algorithm.lr_probes`), and its footing (:meth:`Algorithm.footing`: simultaneous or
alternating G/D updates, optimiser steps per iteration) so equal-iteration comparisons are read
right.  Methods register themselves by name (:func:`register`); their ``Params`` dataclass is the
schema of their YAML parameters (testbed.methods.params).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from testbed.core.errors import ConfigError
from testbed.core.registry import Registry
from testbed.topology.model import Topology

if TYPE_CHECKING:

    from testbed.methods.common.setup import NodeSetup
    from testbed.sim.engine import Process

EMPTY = np.zeros(0, dtype=np.float32)
"""Stands in for a parameter segment a shard does not hold."""



class Session(Protocol):
    """What a method may use of the run it is part of -- and nothing else."""

    topology: Topology
    workers: list[str]
    """The topology's worker node ids (``<dc>/w<i>``), in order; worker i has data shard i."""
    setup: NodeSetup
    """Data, model, training settings and seed: what a node state is built from."""
    rng: np.random.Generator
    """The run's seeded RNG (client selection, batch assignment)."""
    iteration: int
    """Iterations completed so far."""

    def host(self, node: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Create node ``node``'s state as ``factory(*args, **kwargs)`` on its executor."""

    def call(self, node: str, method: str, *args: Any, num_returns: int = 1, **kwargs: Any) -> Any:
        """Run a cheap method (a read) on a node's state, outside virtual time; returns a handle."""

    def resolve(self, handle: Any) -> Any:
        """The value behind a handle (blocks: only for setup and control flow)."""

    def spawn(self, node: str, process: Process) -> None:
        """Start node ``node``'s process on the virtual-time engine."""

    def should_stop(self) -> bool:
        """True once a stop condition (iterations, virtual time, bytes) has been met."""

    def complete_iteration(self) -> None:
        """One iteration of the method finished (the run may evaluate or stop)."""

    def stop(self, reason: str) -> None:
        """End the run now with ``reason`` as its stop_reason (e.g. a node the method needs crashed)."""

    def available(self, node: str) -> bool:
        """Whether ``node`` is up at the current virtual time (topology ``availability``; testbed.sim.node_clock)."""

    def next_change_s(self, node: str) -> float:
        """The virtual time at which ``node``'s availability next changes (``inf``: never)."""

    def crash_time_s(self, node: str) -> float:
        """The virtual time at which ``node`` crashes for good (``inf``: never)."""


@dataclasses.dataclass(frozen=True)
class NoParams:
    """For methods without parameters."""


class Algorithm(ABC):
    """Base class of every registered method."""

    name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    task_kinds: ClassVar[tuple[str, ...]] = ()
    """Compute task kinds this method charges (calibrated before training)."""
    crash_note: ClassVar[str] = "it cannot go on without it"
    """Why a crash stops this method (the default :meth:`node_crashed` puts it in the stop reason)."""
    update_orders: ClassVar[tuple[str, ...]] = ("simultaneous",)
    """G/D update orders the method offers (``training.update_order``); the first is its native one."""
    compressible_kinds: ClassVar[tuple[str, ...]] = ()
    """Message kinds whose payloads are float32 tensors, so ``network.compression`` may name them."""

    def __init__(self, session: Session, params: Any) -> None:
        self.session = session
        self.params = params

    @classmethod  # noqa: B027 - an optional hook, empty by default
    def validate(cls, params: Any, topology: Topology, src: str) -> None:
        """Check parameters against the topology (e.g. ``server_at``); raise ConfigError."""

    @abstractmethod
    def setup(self) -> None:
        """Host every node's state through the session."""

    @abstractmethod
    def start(self) -> None:
        """Spawn the node processes through the session."""

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

    def node_crashed(self, node: str, t_s: float) -> str | None:
        """Node ``node`` crashed at ``t_s`` (its process has stopped, its state is lost): return the run's
        stop reason, or None where the method goes on without it.  Default: stop, naming the node."""
        return f"crashed: {node} at {t_s:g}s ({self.name}: {self.crash_note})"

    def snapshot_of(self, node: str) -> Any:
        """The snapshot handle of a node holding a whole G (worker, server, learner)."""
        return self.session.call(node, "generator_snapshot")

    def probes_of(self, nodes: list[str]) -> list[Any]:
        """``current_lrs()`` handles of ``nodes``."""
        return [self.session.call(node, "current_lrs") for node in nodes]

    def calibration_node(self, kind: str) -> str:
        """A node whose state can time tasks of ``kind`` (default: the first worker)."""
        return self.session.workers[0]


ALGORITHMS: Registry[type[Algorithm]] = Registry("algorithm")


def register(name: str) -> Callable[[type[Algorithm]], type[Algorithm]]:
    """Class decorator: register an algorithm under ``name`` (the YAML's ``algorithm.name``)."""

    def add(cls: type[Algorithm]) -> type[Algorithm]:
        cls.name = name
        return ALGORITHMS.add(name, cls)

    return add


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


MAX_BATCH_SIZE = 65536


def check_batch_size(value: int, src: str, symbol: str = "b") -> None:
    """ConfigError unless a method's own ``batch_size`` is in [0, 65536] (0: use ``training.batch_size``)."""
    if not 0 <= value <= MAX_BATCH_SIZE:
        raise ConfigError(src, "algorithm.batch_size", f"{value} is outside [0, {MAX_BATCH_SIZE}]",
                          f"use {symbol} >= 1, or 0 for training.batch_size")


def server_datacenters(value: Any, topology: Topology) -> list[str]:
    """``server_at`` as a list of datacenters (default: the first datacenter)."""
    if value is None:
        return [topology.datacenters[0].name]
    return [value] if isinstance(value, str) else list(value)


def workers_by_datacenter(session: Session) -> dict[str, list[str]]:
    """The session's workers grouped by datacenter, in topology order (datacenters without workers left out)."""
    groups: dict[str, list[str]] = {}
    for worker in session.workers:
        groups.setdefault(session.topology.datacenter_of(worker), []).append(worker)
    return groups
