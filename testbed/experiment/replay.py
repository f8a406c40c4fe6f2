"""Re-cost a finished run: every node's protocol again, on the engine, with nothing trained.

Why it can be exact: a method decides *who computes what and who sends what to whom*, and for most
methods those decisions never read a trained value -- only virtual time, message arrivals and a few
numbers read once during setup (a data shard's size).  So the replay builds the method as the run did,
hosts nothing (testbed.exec.sizeonly: handles that name a call and carry no value; every message's
size is declared from the shapes, never read from a payload), answers the setup's reads from the op
trace the run left (testbed.sim.optrace), and lets the engine, the flow network and the compute model
of the *new* setting decide every time -- the same code path a full run on that setting takes, so its
traffic log is that run's, to the bit, with no torch step and no data.  Whether the *values* (and so
the quality a replay copies from its source) would also be the same is the method's declaration
(``Algorithm.timing_dependence``), checked after the fact against the op trace
(testbed.experiment.exactness).

A purely sequential re-execution of the recorded operations cannot be exact: a parameter-server shard
answers each pull as it arrives, so on a network that reorders the pulls the recorded order would
hold an answer back behind a message that now comes later.  Re-running the protocol keeps every
decision where the new timing puts it.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np

from testbed.exec.sizeonly import SizeOnlyExecutor, next_value
from testbed.experiment.run import make_engine, node_setup
from testbed.experiment.session import ExecutorSession, StopRules
from testbed.experiment.spec import ExperimentSpec
from testbed.methods import algorithm_class
from testbed.sim.compute import ComputeModel
from testbed.sim.engine import Engine
from testbed.sim.optrace import SESSION, OpRecorder

BOOKKEEPING = ("iteration", "virtual_time_s", "total_bytes", "wan_bytes", "lan_bytes", "egress_usd")
"""The metrics columns a replay measures itself; the quality columns come from the source run."""


class BeyondSourceError(RuntimeError):
    """The replayed setting trains further than the recorded run did: no quality to copy for it."""


class ReplayTooLongError(RuntimeError):
    """The replay ran past its wall-clock budget (a dry run's estimate falls back to extrapolation)."""


class ReplayRun(StopRules, ExecutorSession):
    """One replay: the spec of the *new* setting, the run's recorded reads, the new compute model."""

    def __init__(self, spec: ExperimentSpec, session_reads: list[float], node_reads: dict[str, list[float]],
                 compute: ComputeModel, max_iterations: int | None = None,
                 wall_budget_s: float | None = None) -> None:
        self.spec = spec
        self.topology = spec.topology
        self.workers = list(spec.topology.nodes)
        self.setup = node_setup(spec)
        self.recorder = OpRecorder()
        self.executor = SizeOnlyExecutor(node_reads)
        self._session_reads = deque(session_reads)
        self.rng = np.random.default_rng(spec.seed)
        self.iteration = 0
        self.stop_reason: str | None = None
        self.stop_time_s: float | None = None
        self.metrics: list[dict[str, Any]] = []
        self.algorithm = algorithm_class(spec.algorithm)(self, spec.algorithm_params)
        self.engine: Engine | None = None
        self._compute = compute
        self._limit = max_iterations
        self._deadline = None if wall_budget_s is None else time.perf_counter() + wall_budget_s
        self.wall_time_s = 0.0

    def resolve(self, handle: Any) -> Any:
        """A value the method's setup reads: the recorded run's, in the same order."""
        value = next_value(self._session_reads, "the method's setup")
        self.recorder.resolved(SESSION, value)
        return value

    def complete_iteration(self) -> None:
        super().complete_iteration()
        if self._limit is not None and self.iteration > self._limit:
            raise BeyondSourceError(f"the new setting runs past iteration {self._limit}, "
                                    "where the recorded run stopped")
        if self._deadline is not None and time.perf_counter() > self._deadline:
            raise ReplayTooLongError(f"past its budget at iteration {self.iteration}")

    def evaluate(self) -> dict[str, float]:
        """No scoring: note the point (its cut goes into the op trace) and what it has cost so far."""
        self.recorder.evaluate(self.iteration)
        acc = self.engine.accountant
        self.metrics.append({"iteration": self.iteration, "virtual_time_s": self.engine.now_s,
                             "total_bytes": acc.total_nbytes, "wan_bytes": acc.wan_nbytes,
                             "lan_bytes": acc.lan_nbytes, "egress_usd": acc.egress_usd})
        return {}

    def execute(self) -> None:
        """What :meth:`testbed.experiment.run.Run.execute` does to the engine, in the same order."""
        start = time.perf_counter()
        self.algorithm.setup()
        self.engine = make_engine(self.spec, self.executor, self._compute, self.recorder)
        self.watch_crashes(self.algorithm.node_crashed)
        self.evaluate()
        self.algorithm.start()
        self.engine.run(until=self.spec.max_virtual_time_s)
        self.finish(self.metrics[-1])
        self.wall_time_s = time.perf_counter() - start
