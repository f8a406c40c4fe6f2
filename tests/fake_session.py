"""A small fake :class:`~testbed.methods.api.Session`: drive one method without a Run.

Why: a method is supposed to need nothing of the testbed but the Session's few verbs.  This
fake provides exactly those -- an in-process executor, a virtual-time engine with fixed task
costs, an iteration counter that stops at a budget -- and no evaluator, results, wall clock or
progress bar, so a test that passes through it shows the method stands on the Session alone.
Its executor also refuses to size computed payloads for free (as Ray cannot), so every message
a method sends must declare its size, and each declared size is checked against the payload.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from conftest import tiny_topology

from testbed.compression import CompressionSpec
from testbed.exec.executor import Handle, InProcessExecutor
from testbed.experiment.session import ExecutorSession
from testbed.methods import algorithm_class, parse_params
from testbed.methods.api import Algorithm
from testbed.methods.common.setup import NodeSetup
from testbed.methods.common.training import Training
from testbed.sim.compute import CostTable
from testbed.sim.engine import Engine
from testbed.topology.model import Topology
from testbed.topology.schema import load_topology

TASK_S = 0.002
"""Virtual seconds of one task of any declared kind, unless a test says otherwise."""


class SizeBlindExecutor(InProcessExecutor):
    """In-process, but like Ray it does not know a computed payload's size without waiting."""

    def known_nbytes(self, handle: Handle) -> int | None:
        return None


class FakeSession(ExecutorSession):
    """Workers, topology, setup, a seeded rng and the Session verbs; stops after ``budget`` iterations."""

    def __init__(self, topology: Topology, setup: NodeSetup, budget: int) -> None:
        self.topology = topology
        self.workers = list(topology.nodes)
        self.setup = setup
        self.rng = np.random.default_rng(setup.seed)
        self.iteration = 0
        self.budget = budget
        self.executor = SizeBlindExecutor()
        self.engine: Engine | None = None
        self.stop_reason: str | None = None

    def should_stop(self) -> bool:
        return self.stop_reason is not None or self.iteration >= self.budget

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            self._halt()

    def complete_iteration(self) -> None:
        self.iteration += 1
        if self.iteration >= self.budget:
            self._halt()

    def _halt(self) -> None:
        """As a real run: the stop is the stop (the engine halts; nothing is sent after it)."""
        if self.engine is not None:
            self.engine.halt()

    def drive(self, method: Algorithm, costs_s: dict[str, float] | None = None,
              compression: CompressionSpec | None = None) -> Engine:
        """Set the method up, run it to the budget in virtual time; returns the engine (traffic, stats).

        Every kind the method declares (``task_kinds``) costs :data:`TASK_S` unless ``costs_s`` says
        otherwise; there is no default cost, so a kind charged but not declared fails here, as in a run."""
        method.setup()
        codec = {"encode": TASK_S, "decode": TASK_S} if compression else {}  # compressed kinds' codec tasks
        costs = {kind: TASK_S for kind in method.task_kinds} | codec | dict(costs_s or {})
        self.engine = Engine(self.topology, self.executor, CostTable(costs, "fixed", None), seed=self.setup.seed,
                             compression=compression, task_kinds=method.task_kinds)
        self.watch_crashes(method.node_crashed)
        method.start()
        self.engine.run()
        return self.engine


TINY_MLP = ("mlp2d", {"depth": 2, "hidden": 16})


def fake_method(algorithm: dict[str, Any], *, workers: tuple[int, ...] = (2, 1, 2), budget: int = 3,
                update_order: str = "alternating", batch_size: int = 16,
                topology_dict: dict[str, Any] | None = None,
                training: dict[str, Any] | None = None, dataset: str = "ring8",
                model: tuple[str, dict[str, Any]] = TINY_MLP) -> tuple[Algorithm, FakeSession]:
    """A method on a fake session: ring8 (400 samples), a small MLP, ``workers`` per datacenter
    (or the topology ``topology_dict``); ``training``: further :class:`Training` fields; ``dataset``
    and ``model`` (name, settings) replace ring8 and the MLP."""
    topology = load_topology(topology_dict or tiny_topology(workers, latency="15ms"))
    setup = NodeSetup.for_topology(
        topology, dataset=dataset, partition="iid", model=model[0], model_overrides=model[1],
        training=Training(batch_size=batch_size, update_order=update_order, **(training or {})), seed=0,
        dataset_n=400 if dataset == "ring8" else None, max_iterations=budget)
    session = FakeSession(topology, setup, budget)
    raw = dict(algorithm)
    cls = algorithm_class(raw.pop("name"))
    return cls(session, parse_params(cls, raw, "<test>", topology)), session
