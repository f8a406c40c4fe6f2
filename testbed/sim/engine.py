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
* ``msg = yield ctx.recv(kind=..., src=..., tag=..., until_s=..., or_crash_of=...)`` -- wait for a
  matching message (or None at a deadline or a crash; testbed.sim.context).

A message kind named in ``network.compression`` goes through its transform on the way
(testbed.compression.wire): compressed on the sender's executor, charged the transform's bytes,
decompressed on the receiver's -- dispatched, never waited for, as compute tasks (testbed.sim.codec).

``ctx.resolve(handle)`` blocks on the executor only when control flow needs a value.
The network is driven by one "pump" process that sleeps until the flow model's next
event and is woken whenever a new flow starts.  Given a seed and a compute-cost
table the resulting traffic log is deterministic on any backend.

**Offline means offline** (topology ``availability``, docs/design.md §2).  A node that is down
cannot compute, send or receive: its process does not run (whatever it waits for, it resumes
when the node is back), its flows stall at rate 0 (its NIC links carry nothing:
testbed.sim.link_schedule), and a message that would arrive while it is down is delivered when
it is back.  A crash stops the process for good and ends the node's flows: the bytes they moved
stay in the traffic log, the message is marked lost and never delivered (so is one that reaches
a crashed node after its last byte left).  **The stop is the stop**: once the run stops
(:meth:`Engine.halt`) nothing more is sent, computed or delivered, and the engine returns.

Per node the engine keeps a time breakdown (compute / communication / waiting):
time blocked in ``recv`` counts as communication while the awaited message was in
flight and as waiting before it was sent; time blocked on one's own ``send`` is
communication.  :class:`RealtimeEngine` makes virtual time follow the wall clock
(SimPy's ``RealtimeEnvironment``), for demonstrations and checks against real links.

Finite or stopped: every message a node sends is checked for NaN and infinity by the executor
(``Executor.check_finite``; testbed.core.finite), and the clock never spins in place: past
:data:`~testbed.core.units.MAX_SECONDS` (where a float64 clock stops resolving a microsecond), or when
the network's next event stays at the current instant without anything happening, the pump raises
:class:`ClockError` -- a reason the run records -- instead of looping for ever.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Callable, Generator
from typing import Any

import simpy
import simpy.rt
from simpy.core import StopSimulation

from testbed.compression.spec import CompressionSpec
from testbed.compression.wire import Wire
from testbed.core.payload import HEADER_NBYTES, payload_nbytes
from testbed.core.units import MAX_SECONDS
from testbed.exec.executor import Executor, Handle
from testbed.sim.accounting import TrafficAccountant
from testbed.sim.clients import ClientRetirement
from testbed.sim.codec import Codec
from testbed.sim.compute import ComputeModel, WarmUp
from testbed.sim.context import NodeContext, NodeStats
from testbed.sim.cross_traffic import make_network
from testbed.sim.either import either
from testbed.sim.mailbox import Mailbox
from testbed.sim.messages import Delivery, Message
from testbed.sim.node_clock import NodeClock
from testbed.sim.node_process import until_interrupted, while_up
from testbed.sim.optrace import OpRecorder
from testbed.sim.tcp import TcpModel
from testbed.topology.model import Topology

Process = Callable[[NodeContext], Generator[simpy.Event, Any, Any]]

__all__ = ["ClockError", "Delivery", "Engine", "Message", "NodeContext", "NodeStats", "Process", "RealtimeEngine"]

STUCK_WAKEUPS = 1000
"""Pump wake-ups in a row at one instant, with nothing delivered, after which the clock is stuck: a burst
of sends at one instant delivers or moves on long before (each flow needs time to drain)."""


class ClockError(RuntimeError):
    """Virtual time cannot go on (past :data:`MAX_SECONDS`, or stuck at one instant): the run stops with this reason."""


class Engine(ClientRetirement):
    """Runs node processes against the flow network and the compute model."""

    def __init__(self, topology: Topology, executor: Executor, compute: ComputeModel, *, seed: int = 0,
                 tcp: TcpModel | None = None, run_id: str = "run", header_nbytes: int = HEADER_NBYTES,
                 compression: CompressionSpec | None = None, task_kinds: tuple[str, ...] | None = None,
                 recorder: OpRecorder | None = None, calibration_repeats: int = 3,
                 rate_window_s: float = 1.0) -> None:
        self.topology = topology
        self.task_kinds = None if task_kinds is None else frozenset(task_kinds)
        """The kinds the running method declares (Algorithm.task_kinds); None: not checked."""
        self.recorder = recorder  # the op trace (testbed.sim.optrace) the contexts write to, or None
        self.executor = executor
        self.compute_model = compute
        self.header_nbytes = header_nbytes
        self.env = self._make_environment()
        self.clock = NodeClock(topology, seed)
        self.network = make_network(topology, seed, tcp, self.clock, rate_window_s)  # + cross-traffic, rate meter
        self.accountant = TrafficAccountant(topology, run_id)
        self.stats: dict[str, NodeStats] = {}
        self.codec = Codec(Wire(compression, executor, seed), compute, self.clock, topology, executor, self.stats,
                           calibration_repeats) if compression else None
        """Compressed message kinds, their encode / decode tasks (testbed.sim.codec), or None."""
        self.warm_up = WarmUp(executor) if compute.needs_measurement else None  # compute: measured only
        self.halted = False
        """True once the run has stopped (:meth:`halt`): nothing more is sent, computed or delivered."""
        self._halt = self.env.event()
        self._halt.callbacks.append(StopSimulation.callback)
        self._refused = 0
        self._crash_listeners: list[Callable[[str], None]] = []
        self._crashes: list[tuple[float, int, str, simpy.Process]] = []
        """Crashes still to come, (time, order, node, process), a heap: kept out of SimPy's queue so that
        a run whose only future events are crashes is seen to be over without peeking into SimPy."""
        self._init_clients()
        self._mailboxes: dict[str, Mailbox] = {}
        self._contexts: dict[str, NodeContext] = {}
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
        """The context through which node ``node_id``'s process acts (one per node)."""
        self._register(node_id)
        return self._contexts[node_id]

    def _register(self, node_id: str) -> None:
        """Give a node its mailbox, stats and context (once; validates the id)."""
        if node_id not in self._mailboxes:
            self.topology.datacenter_of(node_id)
            self.stats[node_id] = NodeStats()
            self._mailboxes[node_id] = Mailbox(self.env)
            self._contexts[node_id] = NodeContext(self, node_id, self._mailboxes[node_id], self.stats[node_id])

    def spawn(self, node_id: str, process: Process) -> simpy.Process:
        """Start ``process(ctx)`` as node ``node_id``'s SimPy process: it runs only while the node is up, and
        a node that crashes is stopped then.  A population client's mailbox, context and stats are let go
        when its process ends with an empty mailbox (stats summed per population: :meth:`node_stats`)."""
        gen = process(self.node(node_id))
        if self._can_be_down(node_id):
            gen = while_up(self.env, self.clock, self.stats[node_id], node_id, gen)
        crash_s = self.clock.crash_time_s(node_id)
        if math.isfinite(crash_s):
            gen = until_interrupted(gen)
        if self.topology.is_client(node_id):
            gen = self._retiring(node_id, gen)
        if not math.isfinite(crash_s):
            return self.env.process(gen)
        proc = self.env.process(gen)
        heapq.heappush(self._crashes, (max(crash_s, self.now_s), len(self._crashes), node_id, proc))
        return proc

    def halt(self) -> None:
        """The run has stopped: from now on nothing is sent, computed or delivered, and :meth:`run`
        returns once the events of this instant already queued are processed."""
        if not self.halted:
            self.halted = True
            self._halt.succeed()

    def _can_be_down(self, node_id: str) -> bool:
        return self.clock.dynamics(node_id).availability is not None

    # -- what a node's process and the session may ask -------------------------------------------
    def available(self, node_id: str) -> bool:
        """Whether ``node_id`` is up now (topology ``availability``)."""
        return self.clock.available(node_id, self.now_s)

    def next_change_s(self, node_id: str, after_s: float | None = None) -> float:
        """When ``node_id``'s availability next changes after ``after_s`` (default: now; ``inf``: never)."""
        return self.clock.next_change_s(node_id, self.now_s if after_s is None else after_s)

    def crash_time_s(self, node_id: str) -> float:
        """When ``node_id`` crashes for good (``inf``: never)."""
        return self.clock.crash_time_s(node_id)

    def on_crash(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(node_id)`` whenever a node crashes (after its process is stopped)."""
        self._crash_listeners.append(listener)

    def before_compute(self, node_id: str, kind: str) -> None:
        """Under ``compute: measured``, warm ``kind`` up once per executor process before a call is timed."""
        if self.warm_up is not None:
            self.warm_up(node_id, kind)

    def task_duration_s(self, node_id: str, kind: str, units: float, handle: Any) -> float:
        """Virtual seconds for ``units`` tasks of ``kind`` on ``node_id`` starting now: cost / speed, or
        (speed profile, slowdown, down time) integrated over the node's clock (testbed.sim.node_clock)."""
        if self.task_kinds is not None and kind not in self.task_kinds:
            raise KeyError(f"{node_id} charged task kind {kind!r}, which its method does not declare: add it to the "
                           f"Algorithm's task_kinds {tuple(sorted(self.task_kinds))}, with a calibration task on the "
                           "state that runs it (testbed.methods.common.timing)")
        measured = None
        if self.compute_model.needs_measurement:
            first = handle[0] if isinstance(handle, list) else handle
            measured = self.executor.elapsed_s(first) / max(units, 1e-12)
        dynamics = self.clock.dynamics(node_id)
        if dynamics.static:
            return units * self.compute_model.duration_s(kind, self.clock.speed(node_id), measured)
        work_s = units * self.compute_model.duration_s(kind, 1.0, measured) * self.clock.slowdown_factor(node_id)
        return self.clock.finish_s(node_id, self.now_s, work_s) - self.now_s

    def _crash(self, node_id: str, proc: simpy.Process) -> None:
        for flow_id, unsent_nbytes in self.network.end_flows(node_id, self.now_s):
            message, _ = self._in_flight.pop(flow_id)
            self.accountant.record_lost(message.seq, unsent_nbytes)
        self._wake_network()
        if proc.is_alive:
            proc.interrupt("crashed")
        for listener in self._crash_listeners:
            listener(node_id)

    def run(self, until: float | simpy.Event | None = None) -> None:
        """Advance virtual time until ``until`` (a time or an event) or until nothing is left.

        A crash still to come is not "something left": once only crashes remain, the run is over (else
        a crash configured at 1 h would drag every run's clock to 1 h).  Crashes are kept in a heap of
        their own and applied when virtual time reaches them, before the other events of that instant.
        A halted engine (the run has stopped) returns at once."""
        if self.halted:
            return
        if not self._crashes or isinstance(until, simpy.Event):
            self.env.run(until=until)
            return
        limit = math.inf if until is None else float(until)
        while self._crashes and not self.halted:
            t_crash = self._crashes[0][0]
            t_next = self.env.peek()
            if not math.isfinite(t_next) or min(t_crash, t_next) > limit:
                break
            if t_crash <= t_next:
                if t_crash > self.now_s:
                    self.env.run(until=t_crash)
                    if self.halted:
                        return
                _, _, node_id, proc = heapq.heappop(self._crashes)
                self._crash(node_id, proc)
            else:
                try:
                    self.env.step()
                except StopSimulation:
                    return
        if self.halted:
            return
        if self._crashes:
            if math.isfinite(limit) and self.env.peek() > limit and self.now_s < limit:
                self.env.run(until=limit)  # as env.run(until=limit) would end: at the limit
            return
        if not math.isfinite(limit):
            self.env.run()
        elif limit > self.now_s:
            self.env.run(until=limit)

    # -- network ---------------------------------------------------------------------------------
    def transmit(self, src: str, dst: str, payload: Any, kind: str, nbytes: int | None, tag: Any = None) -> Delivery:
        """Hand a message from ``src`` to ``dst`` to the flow network (NodeContext.send).  After the stop
        nothing is sent: the Delivery never fires.  A payload holding NaN or infinity raises
        :class:`~testbed.core.finite.NonFiniteError` (where the executor can look without waiting)."""
        if self.halted:
            self._refused += 1
            return Delivery(self.env, len(self.accountant) + self._refused - 1, self.now_s, 0)
        self.executor.check_finite(payload, kind, src, dst)
        now = ready_s = self.now_s
        numel = 0
        if self.codec is not None:
            payload, nbytes, numel, ready_s = self.codec.outgoing(src, dst, kind, payload, nbytes, now, tag)
        if isinstance(payload, Handle):
            nbytes = self._handle_nbytes(payload, kind, nbytes)
        elif nbytes is None:
            nbytes = payload_nbytes(payload)
        self._register(dst)
        seq = self.accountant.record_send(kind, src, dst, nbytes, self.header_nbytes, ready_s,
                                          self.topology.route(src, dst))
        delivered = Delivery(self.env, seq, ready_s, nbytes + self.header_nbytes)
        if self.clock.crash_time_s(dst) <= now:  # nothing reaches a crashed node, nothing moves
            self.accountant.record_lost(seq, nbytes + self.header_nbytes)
            return delivered
        message = Message(seq, src, dst, kind, payload, nbytes, ready_s, math.nan, tag)
        if numel:
            self.codec.numel[seq] = numel  # type: ignore[union-attr]  (its decode is priced on it)
        if ready_s > now:  # a compressed kind's flow starts when its encode ends
            self.env.timeout(ready_s - now).callbacks.append(lambda _event: self._start_flow(message, delivered))
        else:
            self._start_flow(message, delivered)
        return delivered

    def _start_flow(self, message: Message, delivered: Delivery) -> None:
        """Put ``message``'s bytes on the network now (never, if its sender or receiver crashed while encoding)."""
        if min(self.clock.crash_time_s(message.src), self.clock.crash_time_s(message.dst)) <= self.now_s:
            self.accountant.record_lost(message.seq, message.payload_nbytes + self.header_nbytes)
            return
        flow_id = self.network.start_flow(message.src, message.dst, message.payload_nbytes + self.header_nbytes,
                                          self.now_s)
        self._in_flight[flow_id] = (message, delivered)
        self._wake_network()

    def _wake_network(self) -> None:
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

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
        stuck = 0
        while True:
            completions = self.network.advance(self.now_s)
            self._deliver(completions)
            self._wake = self.env.event()
            t_next = self.network.next_event_s()
            stuck = stuck + 1 if t_next <= self.now_s and not completions else 0
            if stuck > STUCK_WAKEUPS or self.now_s > MAX_SECONDS:
                raise ClockError(f"virtual time {self.now_s:.1f} s " + (
                    f"is past {MAX_SECONDS:g} s, where the clock no longer resolves a microsecond"
                    if self.now_s > MAX_SECONDS else "stopped advancing (the network's next event is always now)"))
            if math.isfinite(t_next):
                yield either(self.env, self._wake, self.env.timeout(max(t_next - self.now_s, 0.0)))
            else:
                yield self._wake

    def _deliver(self, completions: list) -> None:
        for completion in completions:
            message, delivered = self._in_flight.pop(completion.flow_id)
            m = message
            arrived = Message(m.seq, m.src, m.dst, m.kind, m.payload, m.payload_nbytes, m.t_send_s,
                              completion.arrival_s, m.tag)
            timer = self.env.timeout(max(completion.arrival_s - self.now_s, 0.0), value=arrived)
            timer.callbacks.append(lambda event, done=delivered: self._arrive(event.value, done))

    def _arrive(self, message: Message, delivered: simpy.Event) -> None:
        if self.halted:
            return
        dst = message.dst
        if self._can_be_down(dst) and not self.clock.available(dst, self.now_s):
            if self.clock.crash_time_s(dst) <= self.now_s:  # never delivered to a crashed node
                self.accountant.record_lost(message.seq, 0)
                return
            back_s = self.clock.next_change_s(dst, self.now_s)  # delivered when it is back
            later = dataclasses.replace(message, t_arrive_s=back_s)
            self.env.timeout(back_s - self.now_s).callbacks.append(lambda _e: self._arrive(later, delivered))
            return
        self.accountant.record_arrival(message.seq, message.t_arrive_s)
        if self.codec is not None:
            message, ready_s = self.codec.incoming(message, self.now_s)
            if ready_s > self.now_s:
                self.env.timeout(ready_s - self.now_s).callbacks.append(lambda _e: self._hand_over(message, delivered))
                return
        self._hand_over(message, delivered)

    def _hand_over(self, message: Message, delivered: simpy.Event) -> None:
        if self.halted or self.clock.crash_time_s(message.dst) <= self.now_s:  # stopped, or crashed decoding
            return
        self._register(message.dst)  # a population client let go meanwhile is built anew
        self._mailboxes[message.dst].deliver(message)
        delivered.arrive(message)


class RealtimeEngine(Engine):
    """Virtual time follows the wall clock: ``time_scale`` wall seconds per virtual second."""

    def __init__(self, *args: Any, time_scale: float = 1.0, **kwargs: Any) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self.time_scale = time_scale
        super().__init__(*args, **kwargs)

    def _make_environment(self) -> simpy.Environment:
        return simpy.rt.RealtimeEnvironment(factor=self.time_scale, strict=False)
