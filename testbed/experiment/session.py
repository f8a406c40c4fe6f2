"""The Session verbs shared by every Session: forwarding ones, and the run's stop and iteration rules.

testbed.experiment.run.Run (the real one), testbed.experiment.replay.ReplayRun (a finished run
re-costed) and the tests' fake session (tests/fake_session.py) all implement
testbed.methods.api.Session; what they have in common -- hosting and calling node states, spawning
processes, asking the engine's node clock about availability and crashes -- is written once here
(:class:`ExecutorSession`), so the fake cannot drift from the real thing.  When a run stops and how
its iterations are counted (:class:`StopRules`) is shared by the run and its replay -- a replay is
exact only if it stops exactly where the run on its setting would.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from testbed.exec.executor import Executor
from testbed.sim.engine import Engine, Process
from testbed.sim.optrace import SESSION, OpRecorder

if TYPE_CHECKING:
    from testbed.experiment.spec import ExperimentSpec


class ExecutorSession:
    """The Session verbs that only forward: ``host``/``call``/``resolve`` to an executor, ``spawn`` to an
    engine (testbed.experiment.run.Run and the tests' fake session share them; the rest of a Session is theirs)."""

    executor: Executor
    engine: Engine | None
    recorder: OpRecorder | None = None
    """The op trace the session's own reads go to (testbed.sim.optrace), or None."""

    def host(self, node: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Create a node's state on the executor."""
        self.executor.host(node, factory, *args, **kwargs)

    def host_population(self, datacenter: str, factory: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Host a datacenter's client population as one object whose ``client(i)`` builds client i on demand."""
        self.executor.host_population(datacenter, factory, *args, **kwargs)

    def call(self, node: str, method: str, *args: Any, num_returns: int = 1, **kwargs: Any) -> Any:
        """Dispatch a cheap call on a node's state (outside virtual time); returns a handle."""
        return self.executor.call(node, method, *args, num_returns=num_returns, **kwargs)

    def resolve(self, handle: Any) -> Any:
        """The value behind a handle (noted in the op trace: a replay reads it from there)."""
        value = self.executor.resolve(handle)
        if self.recorder is not None:
            self.recorder.resolved(SESSION, value)
        return value

    def spawn(self, node: str, process: Process) -> None:
        """Start a node's process on the engine (once training has begun)."""
        if self.engine is None:
            raise RuntimeError("processes are spawned in Algorithm.start(), after setup")
        self.engine.spawn(node, process)

    def available(self, node: str) -> bool:
        """Whether ``node`` is up now (virtual time; testbed.sim.node_clock)."""
        return self.engine is None or self.engine.available(node)

    def next_change_s(self, node: str, after_s: float | None = None) -> float:
        """When ``node``'s availability next changes after ``after_s`` (default: now; ``inf``: never)."""
        return math.inf if self.engine is None else self.engine.next_change_s(node, after_s)

    def crash_time_s(self, node: str) -> float:
        """When ``node`` crashes for good (``inf``: never)."""
        return math.inf if self.engine is None else self.engine.crash_time_s(node)

    def watch_crashes(self, on_crash: Callable[[str, float], str | None]) -> None:
        """After the engine exists: ask ``on_crash(node, t_s)`` at every crash; a returned reason stops the run."""
        engine = self.engine
        assert engine is not None

        def listen(node: str) -> None:
            reason = on_crash(node, engine.now_s)
            if reason is not None:
                self.stop(reason)

        engine.on_crash(listen)

    def stop(self, reason: str) -> None:
        """End the run with ``reason`` (its stop_reason); a Session implements it."""
        raise NotImplementedError


class StopRules:
    """When a run stops and how it counts iterations: ``max_iterations``, ``max_virtual_time``, ``max_bytes``
    and a method's own ``stop(reason)``; an evaluation every ``eval_every`` iterations.  Shared by the run
    (testbed.experiment.run.Run) and its replay, which subclass it and say what an evaluation is."""

    spec: ExperimentSpec
    engine: Engine | None
    recorder: OpRecorder | None
    iteration: int
    stop_reason: str | None
    stop_time_s: float | None

    def evaluate(self) -> dict[str, float]:
        """Score (or, in a replay, note) the current state: one metrics row."""
        raise NotImplementedError

    def _progressed(self) -> None:
        """One more iteration (a progress bar may show it)."""

    def should_stop(self) -> bool:
        """True once a stop condition has been met."""
        if self.stop_reason is None and self.engine is not None:
            spec = self.spec
            if spec.max_virtual_time_s is not None and self.engine.now_s >= spec.max_virtual_time_s:
                self._stop("max_virtual_time")
            elif spec.max_bytes is not None and self.engine.accountant.total_nbytes >= spec.max_bytes:
                self._stop("max_bytes")
        return self.stop_reason is not None

    def complete_iteration(self) -> None:
        """A global step finished: count it, evaluate if due, check the stop conditions."""
        self.iteration += 1
        if self.recorder is not None:
            self.recorder.iteration()
        self._progressed()
        if self.iteration % self.spec.eval_every == 0:
            self.evaluate()
        if self.spec.max_iterations is not None and self.iteration >= self.spec.max_iterations:
            self._stop("max_iterations")
        self.should_stop()

    def stop(self, reason: str) -> None:
        """End the run with ``reason`` (a method's: e.g. a node it needs crashed)."""
        self._stop(reason)

    def _stop(self, reason: str) -> None:
        """The stop is the stop: the engine halts here, so nothing is sent, computed or delivered after it
        and the totals written at the end are the traffic up to this instant."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stop_time_s = self.engine.now_s if self.engine is not None else 0.0
            if self.recorder is not None:
                self.recorder.stop(reason)
            if self.engine is not None:  # the bandwidth series ends at the stop, as the totals do
                self.engine.network.freeze_meters(self.stop_time_s)
                self.engine.halt()

    def finish(self, last_row: dict[str, Any]) -> None:
        """After training: name the stop (``finished`` when nothing stopped it) and evaluate the end state
        unless the last metrics row already is it -- so that row has the summary's totals."""
        assert self.engine is not None
        if self.stop_reason is None:
            self._stop("max_virtual_time" if self.spec.max_virtual_time_s is not None else "finished")
        if (last_row["iteration"], last_row.get("virtual_time_s"), last_row.get("total_bytes")) != (
                self.iteration, self.engine.now_s, self.engine.accountant.total_nbytes):
            self.evaluate()

    @property
    def virtual_time_s(self) -> float:
        """Virtual seconds until the stop condition was met."""
        assert self.engine is not None
        return self.stop_time_s if self.stop_time_s is not None else self.engine.now_s
