"""``executors: {batch: true}``: an in-process executor that runs same-kind calls of many nodes as one.

Why: with the ``fixed`` and ``calibrated`` compute models the engine never reads a call's wall time,
so a call need not run when it is dispatched -- only before its value is read.  This executor queues
each call and returns a :class:`DeferredHandle`; the queue is flushed when a value, a wall time or a
barrier is asked for (or when it holds :data:`MAX_QUEUED` calls).  A flush cuts the queue, in order,
into *groups*: maximal runs of consecutive calls of the same method on states of the same class that
provides ``batched_<method>(states, calls)``, each on a different node, none taking a value another
call of the run produces.  A group runs as one batched computation (e.g.
:meth:`testbed.methods.common.worker.GanWorker.batched_train_steps`, K workers' GAN steps vmapped);
everything else runs one call at a time in queue order, exactly as :class:`InProcessExecutor` would.

Deterministic: the groups depend only on the sequence of calls and of value requests, which the
engine makes the same on every backend; the batched implementations draw every worker's batches and
noise from its own generators in the unbatched order, so values equal the unbatched path's up to
float rounding, and the traffic log, virtual times and byte counts are identical (tests/test_batching.py).

Where it cannot apply: ``compute: measured`` (the engine needs each call's own wall time at
dispatch), and Ray actors (their calls already run asynchronously in other processes); both are
refused with a ConfigError (testbed.experiment.spec, testbed.experiment.launch).  On Ray, ``placement: in_task`` runs
the nodes in the run's own process and batches there.  An exception raised by a deferred call
surfaces at the next flush, not at dispatch; so do a deferred message's size and finiteness checks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from testbed.core.payload import payload_nbytes
from testbed.exec.executor import Handle, InProcessExecutor, LocalHandle, map_handles, split_returns
from testbed.exec.spec import ExecutorsSpec

MAX_QUEUED = 4096
"""A flush is forced at this many queued calls (bounds memory; still a function of the call sequence)."""
MAX_GROUP = 12
"""At most this many calls form one batched group (bounds the stacked working set).  Measured on the
digits DCGAN (CPU, one thread, benchmarks/batched_executor.py): 36 workers in one group cost 8.3-10.8
ms per worker step against 8.1-8.4 in groups of 12, so larger groups were not seen to help."""


@dataclass(eq=False)
class _Call:
    node_id: str
    state: Any
    method: str
    args: tuple
    kwargs: dict[str, Any]
    num_returns: int
    values: list[Any] | None = None
    elapsed_s: float = 0.0
    sources: set[int] = field(default_factory=set)
    """ids of the queued calls whose values this call's arguments take."""


@dataclass(eq=False)
class DeferredHandle(Handle):
    """A queued call's value (or its ``index``-th value when it returns several)."""

    call: _Call
    index: int


class BatchingExecutor(InProcessExecutor):
    """:class:`InProcessExecutor` with deferred calls, run in batched groups (module docstring)."""

    def __init__(self, device: str = "cpu", torch_threads: int | None = 1) -> None:
        super().__init__(device, torch_threads)
        self._queue: list[_Call] = []
        self._checks: list[tuple[DeferredHandle, int, str]] = []
        self._finite_checks: list[tuple[Any, str, str, str]] = []
        self.groups_run: list[tuple[str, int]] = []
        """(method, size) of every batched group run so far (inspection and tests)."""

    def state(self, node_id: str) -> Any:
        self.flush()
        return super().state(node_id)

    def call(self, node_id: str, method: str, *args: Any, num_returns: int = 1, **kwargs: Any) -> Any:
        state = super().state(node_id)
        getattr(state, method)  # an unknown method fails at dispatch, as it does unbatched
        call = _Call(node_id, state, method, args, kwargs, num_returns)
        call.sources = {id(source) for source in _deferred((args, kwargs))}
        self._queue.append(call)
        handles = [DeferredHandle(call, i) for i in range(num_returns)]
        if len(self._queue) >= MAX_QUEUED:
            self.flush()
        return handles[0] if num_returns == 1 else handles

    def flush(self) -> None:
        """Run every queued call (in batched groups where possible), then the pending size checks."""
        while self._queue:
            queue, self._queue = self._queue, []
            for group in plan_groups(queue):
                self._run(group)
        checks, self._checks = self._checks, []
        for handle, nbytes, kind in checks:
            super().check_nbytes(LocalHandle(self._value(handle), 0.0), nbytes, kind)
        finite, self._finite_checks = self._finite_checks, []
        for payload, kind, src, dst in finite:
            super().check_finite(_resolve(payload), kind, src, dst)

    def _run(self, group: list[_Call]) -> None:
        values = None
        start = time.perf_counter()
        if len(group) > 1:
            batched = getattr(type(group[0].state), f"batched_{group[0].method}")
            values = batched([c.state for c in group], [(_resolve(c.args), _resolve(c.kwargs)) for c in group])
        if values is None:
            for call in group:
                self._run_one(call)
            return
        elapsed = (time.perf_counter() - start) / len(group)
        self.groups_run.append((group[0].method, len(group)))
        for call, value in zip(group, values, strict=True):
            self._store(call, value, elapsed)

    def _run_one(self, call: _Call) -> None:
        target = getattr(call.state, call.method)
        args, kwargs = _resolve(call.args), _resolve(call.kwargs)
        start = time.perf_counter()
        value = target(*args, **kwargs)
        self._store(call, value, time.perf_counter() - start)

    @staticmethod
    def _store(call: _Call, value: Any, elapsed_s: float) -> None:
        call.values, call.elapsed_s = split_returns(value, call.num_returns, call.method), elapsed_s

    def _value(self, handle: DeferredHandle) -> Any:
        if handle.call.values is None:
            self.flush()
        assert handle.call.values is not None
        return handle.call.values[handle.index]

    def resolve(self, handle: Handle) -> Any:
        if _pending(handle):
            self.flush()
        return _resolve(handle)

    def known_nbytes(self, handle: Handle) -> int | None:
        return payload_nbytes(self.resolve(handle))

    def check_nbytes(self, handle: Handle, nbytes: int, kind: str) -> None:
        if isinstance(handle, DeferredHandle):
            self._checks.append((handle, nbytes, kind))  # checked once computed, at the next flush
            return
        super().check_nbytes(handle, nbytes, kind)

    def check_finite(self, payload: Any, kind: str, src: str, dst: str) -> None:
        if _pending(payload):
            self._finite_checks.append((payload, kind, src, dst))  # checked once computed, at the next flush
            return
        super().check_finite(_resolve(payload), kind, src, dst)

    def elapsed_s(self, handle: Handle) -> float:
        if isinstance(handle, DeferredHandle):
            self._value(handle)
            return handle.call.elapsed_s
        return super().elapsed_s(handle)

    def barrier(self) -> None:
        self.flush()


def in_process_executor(executors: ExecutorsSpec, torch_threads: int, device: str = "cpu") -> InProcessExecutor:
    """The in-process executor an ``executors:`` setting asks for: batching or eager, on ``device``."""
    return (BatchingExecutor if executors.batch else InProcessExecutor)(device=device, torch_threads=torch_threads)


def plan_groups(queue: list[_Call]) -> list[list[_Call]]:
    """Cut ``queue`` (in order) into runs that may execute as one batched call (module docstring)."""
    groups: list[list[_Call]] = []
    nodes: set[str] = set()
    members: set[int] = set()
    for call in queue:
        group = groups[-1] if groups else None
        joins = (group is not None and call.method == group[0].method and type(call.state) is type(group[0].state)
                 and hasattr(type(call.state), f"batched_{call.method}") and call.node_id not in nodes
                 and not (call.sources & members) and len(group) < MAX_GROUP)
        if not joins:
            groups.append([])
            nodes, members = set(), set()
        groups[-1].append(call)
        nodes.add(call.node_id)
        members.add(id(call))
    return groups


def _deferred(value: Any) -> list[_Call]:
    """The queued calls whose handles ``value`` holds, at any depth."""
    found: list[_Call] = []
    map_handles(value, lambda h: found.append(h.call) if isinstance(h, DeferredHandle) else None)
    return found


def _pending(value: Any) -> bool:
    """Whether ``value`` is, or holds, a deferred handle not yet computed."""
    return any(call.values is None for call in _deferred(value))


def _value_of(handle: Handle) -> Any:
    if isinstance(handle, DeferredHandle):
        assert handle.call.values is not None, "a deferred call ran before the call producing its argument"
        return handle.call.values[handle.index]
    return handle.value if isinstance(handle, LocalHandle) else handle


def _resolve(value: Any) -> Any:
    """``value`` with every handle replaced by its value (deferred ones are computed by now)."""
    return map_handles(value, _value_of)
