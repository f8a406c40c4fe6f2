"""A node's process acts through its :class:`NodeContext`: compute, send, receive, wait, call, resolve.

Why a module of its own: this is the engine's side of the method contract (testbed.methods.api.Context);
a method's process sees nothing else of the simulation.  The context holds its own mailbox and time
breakdown and asks its engine only through the engine's public verbs.

Receiving is one verb, :meth:`NodeContext.recv`: the next message matching ``kind`` (one or several),
``src`` and ``tag``, or ``None`` once virtual time reaches ``until_s`` or a node named in
``or_crash_of`` crashes -- the "wait for this reply, or until the deadline or its sender's crash" that
FedAvg, MD-GAN and the parameter server need.  A wait that ends without a message is withdrawn, so a
later message stays in the mailbox for the next ``recv``.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import simpy

from testbed.exec.executor import Executor, Handle
from testbed.sim.mailbox import Matcher
from testbed.sim.messages import Delivery, Message
from testbed.sim.optrace import OpRecorder
from testbed.topology.model import Topology


@dataclass
class NodeStats:
    """Where a node's virtual time went."""

    compute_s: float = 0.0
    communication_s: float = 0.0
    waiting_s: float = 0.0
    tasks: dict[str, int] = field(default_factory=dict)

    def add(self, other: NodeStats) -> NodeStats:
        """Add ``other``'s times and task counts to these (a population's clients summed); returns self."""
        self.compute_s += other.compute_s
        self.communication_s += other.communication_s
        self.waiting_s += other.waiting_s
        for kind, count in other.tasks.items():
            self.tasks[kind] = self.tasks.get(kind, 0) + count
        return self


class EngineSide(Protocol):
    """The engine's public verbs a context uses (testbed.sim.engine.Engine)."""

    env: simpy.Environment
    executor: Executor
    topology: Topology
    halted: bool
    recorder: OpRecorder | None
    header_nbytes: int

    def task_duration_s(self, node_id: str, kind: str, units: float, handle: Any) -> float: ...

    def before_compute(self, node_id: str, kind: str) -> None: ...

    def transmit(self, src: str, dst: str, payload: Any, kind: str, nbytes: int | None,
                 tag: Any = None) -> Delivery: ...

    def crash_time_s(self, node_id: str) -> float: ...


class NodeContext:
    """What a node's process can do (testbed.methods.api.Context)."""

    def __init__(self, engine: EngineSide, node_id: str, mailbox: simpy.FilterStore, stats: NodeStats) -> None:
        self.engine = engine
        self.node_id = node_id
        self.datacenter = engine.topology.datacenter_of(node_id)
        self._env = engine.env
        self._mailbox = mailbox
        self._stats = stats
        self._trace = engine.recorder

    @property
    def now_s(self) -> float:
        """Current virtual time."""
        return float(self._env.now)

    def compute(self, kind: str, method: str, *args: Any, units: float = 1.0, num_returns: int = 1,
                until_s: float = math.inf, **kwargs: Any) -> simpy.Event:
        """Dispatch ``method`` on this node's executor state; completes after the modelled duration.

        ``units`` says how many tasks of ``kind`` the call performs (e.g. the local steps of
        a federated round): the virtual duration is ``units`` x the cost of one.  The event's
        value is the call's handle (a list of handles when ``num_returns`` > 1) -- or None at
        ``until_s`` if the task would end later (abandoned there: its work is lost).  After the
        run's stop nothing is computed (the event never fires).
        """
        if self.engine.halted:
            return self._env.event()
        self.engine.before_compute(self.node_id, kind)
        handle = self.engine.executor.call(self.node_id, method, *args, num_returns=num_returns, **kwargs)
        duration = self.engine.task_duration_s(self.node_id, kind, units, handle)
        if self.now_s + duration > until_s:
            duration, handle = max(until_s - self.now_s, 0.0), None
        else:
            self._stats.tasks[kind] = self._stats.tasks.get(kind, 0) + int(units)
        self._stats.compute_s += duration
        if self._trace is not None:
            self._trace.compute(self.node_id, kind, units)
        return self._env.timeout(duration, value=handle)

    def call(self, method: str, *args: Any, num_returns: int = 1, **kwargs: Any) -> Any:
        """Dispatch a cheap method (a read) on this node's state, taking no virtual time."""
        return self.engine.executor.call(self.node_id, method, *args, num_returns=num_returns, **kwargs)

    def send(self, dst: str, payload: Any, kind: str, nbytes: int | None = None, tag: Any = None) -> Delivery:
        """Send ``payload`` to ``dst``; the returned :class:`Delivery` (``.seq``: the message's sequence
        number) fires with the Message on arrival.  A computed payload (a handle) needs ``nbytes``
        unless the executor knows its size without waiting.  ``tag`` travels as the message's header
        metadata (messages can overtake each other under jitter, so order alone cannot match them)."""
        halted = self.engine.halted
        delivery = self.engine.transmit(self.node_id, dst, payload, kind, nbytes, tag)
        if self._trace is not None and not halted:  # after the stop nothing is sent
            self._trace.sent(delivery.seq, self.node_id, dst, kind, delivery.wire_nbytes - self.engine.header_nbytes,
                             tag)
        return delivery

    def send_and_wait(self, dst: str, payload: Any, kind: str,
                      nbytes: int | None = None) -> Generator[simpy.Event, Any, Message]:
        """``yield from ctx.send_and_wait(...)``: send and block until delivered (counted as communication)."""
        start = self.now_s
        message = yield self.send(dst, payload, kind, nbytes)
        self._stats.communication_s += self.now_s - start
        return message

    def recv(self, kind: str | tuple[str, ...] | None = None, src: str | None = None, tag: Any = None,
             until_s: float = math.inf, or_crash_of: str | Iterable[str] | None = None) -> simpy.Event:
        """An event whose value is the next message matching ``kind`` (a kind or a tuple of kinds),
        ``src`` and ``tag`` (None matches any), or ``None`` once virtual time reaches ``until_s`` or a
        node of ``or_crash_of`` crashes (one that has already crashed ends the wait at once).  A wait
        that ends without a message is withdrawn: a later message stays in the mailbox."""
        start = self.now_s
        get = self._mailbox.get(_matcher(kind, src, tag))
        wake_s = min(until_s, self._first_crash_s(or_crash_of, start))
        if not math.isfinite(wake_s):
            get.callbacks.append(lambda ev: self._received(start, ev.value))
            return get
        result = self._env.event()
        timer = self._env.timeout(max(wake_s - start, 0.0))

        def on_message(event: simpy.Event) -> None:
            if not result.triggered:
                self._received(start, event.value)
                result.succeed(event.value)

        def on_wake(_event: simpy.Event) -> None:
            if not result.triggered and not get.triggered:
                get.cancel()
                self._stats.waiting_s += self.now_s - start
                if self._trace is not None:
                    self._trace.received(self.node_id, None, None, None)
                result.succeed(None)

        get.callbacks.append(on_message)
        timer.callbacks.append(on_wake)
        return result

    def _first_crash_s(self, nodes: str | Iterable[str] | None, now_s: float) -> float:
        if nodes is None:
            return math.inf
        crashes = [self.engine.crash_time_s(n) for n in ([nodes] if isinstance(nodes, str) else nodes)]
        return max(min(crashes, default=math.inf), now_s)

    def _received(self, start_s: float, message: Message) -> None:
        """A ``recv`` got ``message``: count the time it waited, note it in the op trace."""
        if self._trace is not None:
            self._trace.received(self.node_id, message.src, message.kind, message.seq)
        end = self.now_s
        in_flight_from = max(start_s, message.t_send_s)
        self._stats.communication_s += max(end - in_flight_from, 0.0)
        self._stats.waiting_s += max(min(message.t_send_s, end) - start_s, 0.0)

    def resolve(self, handle: Any) -> Any:
        """The value behind a handle (blocks on the executor; use only for control flow)."""
        value = self.engine.executor.resolve(handle) if isinstance(handle, Handle) else handle
        if self._trace is not None:
            self._trace.resolved(self.node_id, value)
        return value

    def wait(self, seconds: float) -> simpy.Event:
        """Idle for ``seconds`` of virtual time (counted as waiting)."""
        self._stats.waiting_s += seconds
        if self._trace is not None:
            self._trace.wait(self.node_id, seconds)
        return self._env.timeout(seconds)


def _matcher(kind: str | tuple[str, ...] | None, src: str | None, tag: Any) -> Matcher:
    return Matcher(kind, src, tag)
