"""The Session verbs that only forward to an executor and an engine, shared by every Session.

testbed.experiment.run.Run (the real one) and the tests' fake session (tests/fake_session.py) both implement
testbed.methods.api.Session; what they have in common -- hosting and calling node states, spawning
processes, asking the engine's node clock about availability and crashes -- is written once here,
so the fake cannot drift from the real thing.  Stopping, iterations and the rng stay theirs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from testbed.exec.executor import Executor
from testbed.sim.engine import Engine, Process


class ExecutorSession:
    """The Session verbs that only forward: ``host``/``call``/``resolve`` to an executor, ``spawn`` to an
    engine (testbed.experiment.run.Run and the tests' fake session share them; the rest of a Session is theirs)."""

    executor: Executor
    engine: Engine | None

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
        """The value behind a handle."""
        return self.executor.resolve(handle)

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
