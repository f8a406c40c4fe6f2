"""The virtual-time engine: one SimPy process per logical node, time from models only.

docs/design.md §2: Ray (or the in-process executor) does the real work; this engine
decides *when* things happen.  A node's process is a generator over three
primitives on its :class:`NodeContext`:

* ``yield ctx.compute(kind, method, *args)`` -- dispatch ``method`` to the node's
  executor at once (non-blocking), and finish after the compute model's virtual
  duration; the value is a :class:`~testbed.exec.executor.Handle`.
* ``ctx.send(dst, payload, kind, nbytes=...)`` -- hand the message to the flow network;
  returns a :class:`Delivery`: an event that fires when the message *arrives* (yield it to
  wait, or don't), carrying the message's sequence number.  A payload still being computed
  on an executor must come with its size (known from the shapes: testbed.methods.common.sizes)
  -- the engine never blocks on an executor to size a message; the in-process executor checks
  each declared size against the real payload.
* ``msg = yield ctx.recv(kind=..., src=...)`` -- wait for a matching message.

A message kind named in ``network.compression`` goes through its transform on the way
(testbed.compression.wire): compressed on the sender's executor, charged the transform's bytes,
decompressed on the receiver's -- all dispatched, never waited for.

``ctx.resolve(handle)`` blocks on the executor only when control flow needs a value.
The network is driven by one "pump" process that sleeps until the flow model's next
event and is woken whenever a new flow starts.  Given a seed and a compute-cost
table the resulting traffic log is deterministic on any backend.

Per node the engine keeps a time breakdown (compute / communication / waiting):
time blocked in ``recv`` counts as communication while the awaited message was in
flight and as waiting before it was sent; time blocked on one's own ``send`` is
communication.  :class:`RealtimeEngine` makes virtual time follow the wall clock
(SimPy's ``RealtimeEnvironment``), for demonstrations and checks against real links.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy
import simpy.rt

from testbed.compression.spec import CompressionSpec
from testbed.compression.wire import Wire
from testbed.core.payload import HEADER_NBYTES, payload_nbytes
from testbed.exec.executor import Executor, Handle
from testbed.sim.accounting import TrafficAccountant
from testbed.sim.compute import ComputeModel
from testbed.sim.network import FlowNetwork
from testbed.sim.node_clock import NodeClock
from testbed.sim.tcp import TcpModel
from testbed.topology.model import Topology

Process = Callable[["NodeContext"], Generator[simpy.Event, Any, Any]]


@dataclass(frozen=True)
class Message:
    """A delivered message."""

    seq: int
    src: str
    dst: str
    kind: str
    payload: Any
    payload_nbytes: int
    t_send_s: float
    t_arrive_s: float
    tag: Any = None
    """Protocol metadata the sender attaches (e.g. the round a reply answers); not counted as bytes,
    like the other header fields (``network.header_nbytes`` stands for all of them)."""


class Delivery(simpy.Event):
    """Fires with the :class:`Message` when it arrives; knows the message's sequence number at once."""

    def __init__(self, env: simpy.Environment, seq: int, t_send_s: float, wire_nbytes: int) -> None:
        super().__init__(env)
        self.seq = seq
        self.t_send_s = t_send_s
        self.wire_nbytes = wire_nbytes
        """Payload plus header: the bytes the flow carries."""


@dataclass
class NodeStats:
    """Where a node's virtual time went."""

    compute_s: float = 0.0
    communication_s: float = 0.0
    waiting_s: float = 0.0
    tasks: dict[str, int] = field(default_factory=dict)


class Engine:
    """Runs node processes against the flow network and the compute model."""

    def __init__(self, topology: Topology, executor: Executor, compute: ComputeModel, *, seed: int = 0,
                 tcp: TcpModel | None = None, run_id: str = "run", header_nbytes: int = HEADER_NBYTES,
                 compression: CompressionSpec | None = None) -> None:
        self.topology = topology
        self.executor = executor
        self.compute_model = compute
        self.header_nbytes = header_nbytes
        self.wire = Wire(compression, executor) if compression else None
        """Compressed message kinds (testbed.compression.wire), or None."""
        self.env = self._make_environment()
        self.network = FlowNetwork(topology, seed=seed, tcp=tcp)
        self.accountant = TrafficAccountant(topology, run_id)
        self.stats: dict[str, NodeStats] = {}
        self.clock = NodeClock(topology, seed)
        self.crash_listeners: list[Callable[[str], None]] = []
        """Called with a node's id when it crashes (after its process is stopped)."""
        self._crashes_pending = 0
        self._mailboxes: dict[str, simpy.FilterStore] = {}
        self._in_flight: dict[int, tuple[Message, simpy.Event]] = {}
        self._wake: simpy.Event | None = None
        self.env.process(self._pump())

    def _make_environment(self) -> simpy.Environment:
        return simpy.Environment()

    @property
    def now_s(self) -> float:
        """Current virtual time in seconds."""
        return float(self.env.now)

    def node(self, node_id: str) -> NodeContext:
        """The context through which node ``node_id``'s process acts."""
        self._register(node_id)
        return NodeContext(self, node_id)

    def _register(self, node_id: str) -> None:
        """Give a node its mailbox and stats (once; validates the id)."""
        if node_id not in self._mailboxes:
            self.topology.datacenter_of(node_id)
            self.stats[node_id] = NodeStats()
            self._mailboxes[node_id] = simpy.FilterStore(self.env)

    def spawn(self, node_id: str, process: Process) -> simpy.Process:
        """Start ``process(ctx)`` as node ``node_id``'s SimPy process; a node that crashes is stopped then."""
        crash_s = self.clock.crash_time_s(node_id)
        if not math.isfinite(crash_s):
            return self.env.process(process(self.node(node_id)))
        proc = self.env.process(_until_interrupted(process(self.node(node_id))))
        timer = self.env.timeout(max(crash_s - self.now_s, 0.0))
        timer.callbacks.append(lambda _event: self._crash(node_id, proc))
        self._crashes_pending += 1
        return proc

    def _crash(self, node_id: str, proc: simpy.Process) -> None:
        self._crashes_pending -= 1
        if proc.is_alive:
            proc.interrupt("crashed")
        for listener in self.crash_listeners:
            listener(node_id)

    def run(self, until: float | simpy.Event | None = None) -> None:
        """Advance virtual time until ``until`` (a time or an event) or until nothing is left.

        A crash still to come is not "something left": once only crash timers remain, the run is over
        (else a crash configured at 1 h would drag every run's clock to 1 h)."""
        if not self._crashes_pending or isinstance(until, simpy.Event):
            self.env.run(until=until)
            return
        limit = math.inf if until is None else float(until)
        while self.env.peek() <= limit and len(self.env._queue) > self._crashes_pending:  # SimPy: no public size
            self.env.step()
        if math.isfinite(limit) and self.env.peek() > limit:
            self.env.run(until=limit)  # as env.run(until=limit) would end: at the limit

    # -- network ---------------------------------------------------------------------------------
    def _transmit(self, src: str, dst: str, payload: Any, kind: str, nbytes: int | None, tag: Any = None) -> Delivery:
        if self.wire is not None:
            payload, nbytes = self.wire.outgoing(src, dst, kind, payload, nbytes)
        if isinstance(payload, Handle):
            nbytes = self._handle_nbytes(payload, kind, nbytes)
        elif nbytes is None:
            nbytes = payload_nbytes(payload)
        self._register(dst)
        now = self.now_s
        seq = self.accountant.record_send(kind, src, dst, nbytes, self.header_nbytes, now,
                                          self.topology.route(src, dst))
        delivered = Delivery(self.env, seq, now, nbytes + self.header_nbytes)
        message = Message(seq, src, dst, kind, payload, nbytes, now, math.nan, tag)
        flow_id = self.network.start_flow(src, dst, nbytes + self.header_nbytes, now)
        self._in_flight[flow_id] = (message, delivered)
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()
        return delivered

    def _handle_nbytes(self, handle: Handle, kind: str, nbytes: int | None) -> int:
        """The size of a computed payload: declared by the sender (checked where that is free), or
        known to the executor without waiting; never a blocking fetch."""
        if nbytes is None:
            nbytes = self.executor.known_nbytes(handle)
            if nbytes is None:
                raise TypeError(f"a {kind!r} message carries a computed payload of unknown size: pass nbytes= "
                                "(known from the shapes, testbed.methods.common.sizes)")
            return nbytes
        self.executor.check_nbytes(handle, nbytes, kind)
        return int(nbytes)

    def _pump(self) -> Generator[simpy.Event, Any, None]:
        while True:
            self._deliver(self.network.advance(self.now_s))
            self._wake = self.env.event()
            t_next = self.network.next_event_s()
            if math.isfinite(t_next):
                yield self._wake | self.env.timeout(max(t_next - self.now_s, 0.0))
            else:
                yield self._wake

    def _deliver(self, completions: list) -> None:
        for completion in completions:
            message, delivered = self._in_flight.pop(completion.flow_id)
            arrived = Message(**{**message.__dict__, "t_arrive_s": completion.arrival_s})
            timer = self.env.timeout(max(completion.arrival_s - self.now_s, 0.0), value=arrived)
            timer.callbacks.append(lambda event, done=delivered: self._arrive(event.value, done))

    def _arrive(self, message: Message, delivered: simpy.Event) -> None:
        self.accountant.record_arrival(message.seq, message.t_arrive_s)
        if self.wire is not None:
            payload = self.wire.incoming(message.dst, message.kind, message.payload)
            message = dataclasses.replace(message, payload=payload)
        self._mailboxes[message.dst].put(message)
        delivered.succeed(message)


def _until_interrupted(gen: Generator[simpy.Event, Any, Any]) -> Generator[simpy.Event, Any, Any]:
    """Run a node's process until it ends or its node crashes (an Interrupt): then it just stops."""
    try:
        return (yield from gen)
    except simpy.Interrupt:
        gen.close()
        return None


class NodeContext:
    """What a node's process can do: compute, send, receive, resolve."""

    def __init__(self, engine: Engine, node_id: str) -> None:
        self.engine = engine
        self.node_id = node_id
        self.speed = engine.topology.speed_of(node_id)
        self.datacenter = engine.topology.datacenter_of(node_id)
        self._stats = engine.stats[node_id]
        self._static = engine.topology.dynamics_of(node_id).static

    @property
    def now_s(self) -> float:
        """Current virtual time."""
        return self.engine.now_s

    def compute(self, kind: str, method: str, *args: Any, units: float = 1.0, num_returns: int = 1,
                **kwargs: Any) -> simpy.Event:
        """Dispatch ``method`` on this node's executor state; completes after the modelled duration.

        ``units`` says how many tasks of ``kind`` the call performs (e.g. the local steps of
        a federated round): the virtual duration is ``units`` x the cost of one.  The event's
        value is the call's handle (a list of handles when ``num_returns`` > 1).
        """
        engine = self.engine
        handle = engine.executor.call(self.node_id, method, *args, num_returns=num_returns, **kwargs)
        measured = None
        if engine.compute_model.needs_measurement:
            first = handle[0] if isinstance(handle, list) else handle
            measured = engine.executor.elapsed_s(first) / max(units, 1e-12)
        if self._static:
            duration = units * engine.compute_model.duration_s(kind, self.speed, measured)
        else:  # speed profile, slowdown, down time: testbed.sim.node_clock
            work_s = units * engine.compute_model.duration_s(kind, 1.0, measured) * engine.clock.slowdown_factor(
                self.node_id)
            duration = engine.clock.finish_s(self.node_id, self.now_s, work_s) - self.now_s
        self._stats.compute_s += duration
        self._stats.tasks[kind] = self._stats.tasks.get(kind, 0) + int(units)
        return engine.env.timeout(duration, value=handle)

    def call(self, method: str, *args: Any, num_returns: int = 1, **kwargs: Any) -> Any:
        """Dispatch a cheap method (a read) on this node's state, taking no virtual time."""
        return self.engine.executor.call(self.node_id, method, *args, num_returns=num_returns, **kwargs)

    def send(self, dst: str, payload: Any, kind: str, nbytes: int | None = None, tag: Any = None) -> Delivery:
        """Send ``payload`` to ``dst``; the returned :class:`Delivery` (``.seq``: the message's sequence
        number) fires with the Message on arrival.  A computed payload (a handle) needs ``nbytes``
        unless the executor knows its size without waiting.  ``tag`` travels as the message's header
        metadata (messages can overtake each other under jitter, so order alone cannot match them)."""
        return self.engine._transmit(self.node_id, dst, payload, kind, nbytes, tag)

    def send_and_wait(self, dst: str, payload: Any, kind: str,
                      nbytes: int | None = None) -> Generator[simpy.Event, Any, Message]:
        """``yield from ctx.send_and_wait(...)``: send and block until delivered (counted as communication)."""
        start = self.now_s
        message = yield self.send(dst, payload, kind, nbytes)
        self._stats.communication_s += self.now_s - start
        return message

    def recv(self, kind: str | None = None, src: str | None = None) -> simpy.Event:
        """An event that yields the next message matching ``kind`` and ``src`` (None matches any)."""
        mailbox = self.engine._mailboxes[self.node_id]
        start = self.now_s

        def matches(message: Message) -> bool:
            return (kind is None or message.kind == kind) and (src is None or message.src == src)

        event = mailbox.get(matches)
        event.callbacks.append(lambda ev: self._account_wait(start, ev.value))
        return event

    def recv_until(self, deadline_s: float, accept: Callable[[Message], bool]) -> Generator[
            simpy.Event, Any, Message | None]:
        """``msg = yield from ctx.recv_until(t, accept)``: the next message ``accept`` takes, or None at
        virtual time ``deadline_s`` (the wait is then withdrawn: a later message stays in the mailbox)."""
        engine = self.engine
        start = self.now_s
        get = engine._mailboxes[self.node_id].get(accept)
        if math.isfinite(deadline_s):
            timer = engine.env.timeout(max(deadline_s - start, 0.0))
            yield get | timer
        else:
            yield get
        if get.triggered:
            self._account_wait(start, get.value)
            return get.value
        get.cancel()
        self._stats.waiting_s += self.now_s - start
        return None

    def _account_wait(self, start_s: float, message: Message) -> None:
        end = self.now_s
        in_flight_from = max(start_s, message.t_send_s)
        self._stats.communication_s += max(end - in_flight_from, 0.0)
        self._stats.waiting_s += max(min(message.t_send_s, end) - start_s, 0.0)

    def resolve(self, handle: Any) -> Any:
        """The value behind a handle (blocks on the executor; use only for control flow)."""
        return self.engine.executor.resolve(handle) if isinstance(handle, Handle) else handle

    def wait(self, seconds: float) -> simpy.Event:
        """Idle for ``seconds`` of virtual time (counted as waiting)."""
        self._stats.waiting_s += seconds
        return self.engine.env.timeout(seconds)


class RealtimeEngine(Engine):
    """Virtual time follows the wall clock: ``time_scale`` wall seconds per virtual second."""

    def __init__(self, *args: Any, time_scale: float = 1.0, **kwargs: Any) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self.time_scale = time_scale
        super().__init__(*args, **kwargs)

    def _make_environment(self) -> simpy.Environment:
        return simpy.rt.RealtimeEnvironment(factor=self.time_scale, strict=False)
