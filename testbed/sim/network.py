"""Flow-level network model: when does each message arrive on the WAN the user described?

Like SimGrid's fluid model: every message is a flow over the directed links of its
route; concurrent flows share every link **max-min fairly** (progressive filling),
and rates are recomputed whenever a flow starts or ends or a link changes capacity
(a ``profile`` step, the start or end of an ``outage``).  A flow's bytes drain from
its start at the rates it gets; it *arrives* one path latency after the last byte
left (latency and jitter are sampled when the flow starts).

Why flow classes: flows with the same route always get the same max-min rate, so
rates are computed per class (route) with a flow count, and each class keeps a heap
of per-flow finish thresholds on a shared "bytes served per flow" counter.

Why events are cheap: an event touches only what it can change.  Rates are re-solved
only for the classes an event can reach through their bottleneck links, and verified
to be the global max-min allocation (:mod:`testbed.sim.maxmin`); a class's counter advances
lazily (served = served at its last rate change + rate x elapsed); the next drain end
comes from a heap of per-class finish times (entries retire when a class's rate
changes); idle classes cost nothing.  So the cost of an event grows with the classes
sharing a bottleneck with it, not with the active routes or the flows in flight.

Offline nodes: while a node is down its NIC links carry 0 (testbed.sim.link_schedule), so its
flows stall as on an outaged link; :meth:`FlowNetwork.end_flows` takes a crashed node's flows out.
With nothing in flight no wake-up is asked for (changes are applied when the next flow starts),
so an on/off node's endless toggles never keep a finished run going.

Pure: no wall clock, no SimPy.  :class:`FlowNetwork` is driven by explicit times
(``start_flow(..., now_s)``, ``advance(t_s)``); the engine and :func:`simulate_flows`
are its two drivers.  Optional TCP realism lives in :mod:`testbed.sim.tcp`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable

import numpy as np

from testbed.sim.drain_heap import DueEntry, earliest_drain_s
from testbed.sim.flow_class import Completion, FlowClass, class_for_route
from testbed.sim.link_schedule import LinkSchedule
from testbed.sim.maxmin import MaxMinRates
from testbed.sim.node_clock import NodeClock
from testbed.sim.rate_meter import RateMeter
from testbed.sim.tcp import TcpModel
from testbed.topology.model import LinkKey, Topology

__all__ = ["Completion", "FlowNetwork", "simulate_flows"]

_REL_TOL = 1e-9  # a flow whose remaining bytes are below this share of its threshold is done


class FlowNetwork:
    """Event-driven max-min fair flow model over a :class:`Topology`.

    Drive it with non-decreasing times: :meth:`start_flow` at ``now_s``,
    :meth:`next_event_s` to learn the next time anything changes, and
    :meth:`advance` to move to a time and collect the flows that finished draining.
    """

    def __init__(self, topology: Topology, seed: int = 0, tcp: TcpModel | None = None,
                 clock: NodeClock | None = None, meter: RateMeter | None = None) -> None:
        self.topology = topology
        self.tcp = tcp
        self.meter = meter
        """Records the bytes every WAN link carries per window (testbed.sim.rate_meter), or None."""
        self.now_s = 0.0
        self._rng = np.random.default_rng(seed)
        self._schedule = LinkSchedule(topology, clock if clock is not None else NodeClock(topology, seed))
        self._link_index: dict[LinkKey, int] = {}
        self._links: list[LinkKey] = []
        self._nominal_bps: list[float] = []
        self._rates = MaxMinRates()
        self._classes: list[FlowClass] = []
        self._class_of_route: dict[tuple[str, str], int] = {}
        self._classes_of_node: dict[str, list[int]] = {}  # the classes a node's flows start or end in
        self._flows_joined = 0  # flows sharing links now (not pending, not finished)
        self._due: list[DueEntry] = []  # when each class's first flow counts as drained (testbed.sim.drain_heap)
        self._reschedule: set[int] = set()  # classes whose heap entries must be renewed
        self._pending: list[tuple[float, int, int, float, float, float, float]] = []
        """Flows in TCP slow start: (join time, id, class, bytes left then, latency, start time, bytes)."""
        self._completed: list[Completion] = []  # finished, not yet collected by advance()
        self._next_flow_id = 0
        self._settled_s = -math.inf  # the last time every event due was processed
        self._link_change_s = self._schedule.next_change_s(0.0)  # next profile step or outage edge
        self._other_events = type(self)._other_events_s is not FlowNetwork._other_events_s
        """Whether a subclass has events of its own (else the hook is not called at every event)."""

    # -- links -----------------------------------------------------------------------------
    def _link(self, key: LinkKey) -> int:
        idx = self._link_index.get(key)
        if idx is None:
            nominal = self.topology.link(key).bandwidth_bps
            idx = self._rates.add_link(self._schedule.capacity_bps(key, self.now_s, nominal) / 8.0)
            self._link_index[key] = idx
            self._links.append(key)
            self._nominal_bps.append(nominal)
            self._link_change_s = self._schedule.next_change_s(self.now_s)  # its node may now be watched
        return idx

    @property
    def links(self) -> list[LinkKey]:
        """Directed links that have carried (or are carrying) traffic, in index order."""
        return list(self._links)

    @property
    def busy_s(self) -> np.ndarray:
        """Seconds each directed link (in :attr:`links` order) carried a flow at a positive rate."""
        return np.array(self._rates.busy_s(self.now_s))

    def freeze_meters(self, now_s: float) -> None:
        """The run stopped at ``now_s``: its bandwidth series ends there (testbed.sim.rate_meter)."""
        self._advance_to(now_s)
        if self.meter is not None:
            self.meter.freeze(self.now_s)

    def link_busy_s(self) -> dict[LinkKey, float]:
        """Seconds each directed link carried at least one flow at a positive rate."""
        return dict(zip(self._links, self._rates.busy_s(self.now_s), strict=True))

    # -- flows -------------------------------------------------------------------------------
    def start_flow(self, src: str, dst: str, nbytes: float, now_s: float) -> int:
        """Start a flow of ``nbytes`` from node ``src`` to ``dst`` at ``now_s``; returns its id."""
        if nbytes < 0:
            raise ValueError(f"flow size must be >= 0, got {nbytes}")
        if now_s > self._settled_s or now_s < self.now_s:  # else this instant is settled already
            self._advance_to(now_s)
        flow_id = self._next_flow_id
        self._next_flow_id += 1
        cls_id = self._class_of_route.get((src, dst))
        if cls_id is None:
            cls_id = self._new_class(src, dst)
        cls = self._classes[cls_id]
        latency = cls.static_latency_s
        if latency is None:
            latency = sum(self._schedule.latency_s(k, now_s, self.topology.link(k).latency_s) for k in cls.links)
        if cls.jitters_s:
            jitter = 0.0
            for amplitude in cls.jitters_s:
                jitter += float(self._rng.uniform(-amplitude, amplitude))
            latency += max(jitter, cls.latency_floor_s)
        else:
            latency += max(0.0, cls.latency_floor_s)
        delay_s, nbytes_left = 0.0, float(nbytes)
        if self.tcp is not None and nbytes > 0:
            delay_s, nbytes_left = self.tcp.slow_start(nbytes, 2 * cls.latency_s, cls.path_capacity_bps)
        if not cls.links or nbytes_left <= 0:
            end = now_s + delay_s
            if delay_s == 0:
                self._completed.append(Completion(flow_id, end, end + latency))
            else:
                heapq.heappush(self._pending, (end, flow_id, cls_id, 0.0, latency, now_s, float(nbytes)))
        elif delay_s > 0:
            heapq.heappush(self._pending, (now_s + delay_s, flow_id, cls_id, nbytes_left, latency, now_s,
                                           float(nbytes)))
        else:
            self._join(cls_id, flow_id, nbytes_left, latency)
        return flow_id

    def _new_class(self, src: str, dst: str) -> int:
        cls, cap = class_for_route(self.topology, src, dst, self.tcp, self.meter)
        cls_id = self._rates.add_class(tuple(self._link(k) for k in cls.links), cap)
        self._classes.append(cls)
        self._class_of_route[(src, dst)] = cls_id
        for node in {src, dst}:
            self._classes_of_node.setdefault(node, []).append(cls_id)
        return cls_id

    def _join(self, cls_id: int, flow_id: int, nbytes: float, latency_s: float) -> None:
        cls, now = self._classes[cls_id], self.now_s
        served = cls.served_nbytes + cls.rate_nbytes_per_s * (now - cls.since_s) if now > cls.since_s \
            else cls.served_nbytes  # FlowClass.served_at, inlined
        heapq.heappush(cls.heap, (served + nbytes, flow_id, latency_s))
        cls.count += 1
        self._flows_joined += 1
        self._rates.set_count(cls_id, cls.count)
        self._reschedule.add(cls_id)

    # -- time --------------------------------------------------------------------------------
    def next_event_s(self) -> float:
        """When the driver should next call :meth:`advance` (now, if completions await collection;
        never, while no flow is in the network)."""
        if self._completed:
            return self.now_s
        t_s = self._next_change_s()  # also settles the rates, whether or not anything is in flight
        return t_s if self._flows_joined or self._pending else math.inf

    def end_flows(self, node: str, now_s: float) -> list[tuple[int, float]]:
        """Take every flow from or to ``node`` out at ``now_s`` (it crashed): ``(flow id, bytes not yet
        moved)`` each.  Flows whose last byte has left are completions, untouched."""
        self._advance_to(now_s)
        now, ended = self.now_s, []
        classes = self._classes_of_node.get(node, [])
        for cls_id in classes:
            cls = self._classes[cls_id]
            served = cls.served_at(now)
            ended += [(flow_id, max(threshold - served, 0.0)) for threshold, flow_id, _ in sorted(cls.heap)]
            if cls.count:
                self._flows_joined -= cls.count
                cls.heap, cls.count, cls.version = [], 0, cls.version + 1
                cls.served_nbytes, cls.since_s, cls.rate_nbytes_per_s = 0.0, now, 0.0
                self._rates.set_count(cls_id, 0)
                self._reschedule.add(cls_id)
        for t_join, flow_id, cls_id, left, _, t0, total in self._pending:  # in TCP slow start: pro rata
            if cls_id in classes:
                ended.append((flow_id, left + (total - left) * (t_join - now) / max(t_join - t0, 1e-300)))
        self._pending = [entry for entry in self._pending if entry[2] not in classes]
        heapq.heapify(self._pending)
        return ended

    def _next_change_s(self) -> float:
        """The next time at which a flow drains, a delayed flow starts or a link changes."""
        if self._rates.dirty or self._reschedule:
            self._ensure_rates()
        t = self._link_change_s
        if self._other_events:
            other = self._other_events_s()
            if other < t:
                t = other
        if self._pending and self._pending[0][0] < t:
            t = self._pending[0][0]
        due, classes = self._due, self._classes
        while due:
            head = due[0]
            if classes[head[2]].version == head[1]:
                end_s = head[3]
                n = len(due)
                if (n > 1 and due[1][0] <= end_s) or (n > 2 and due[2][0] <= end_s):
                    end_s = earliest_drain_s(due, classes, end_s)
                if end_s < self.now_s:
                    end_s = self.now_s
                return end_s if end_s < t else t
            heapq.heappop(due)
        return t

    def _other_events_s(self) -> float:
        """When a subclass's own next event is due (testbed.sim.cross_traffic; ``inf``: none)."""
        return math.inf

    def _apply_other_events(self) -> None:
        """Apply a subclass's events due now."""

    def advance(self, t_s: float) -> list[Completion]:
        """Move the clock to ``t_s``; return the flows whose last byte left since the last call."""
        self._advance_to(t_s)
        done, self._completed = self._completed, []
        return done

    def _advance_to(self, t_s: float) -> None:
        now = self.now_s
        if t_s < now - 1e-9 * (now if now > 1.0 else 1.0):
            raise ValueError(f"time goes forward only: now {now}, asked {t_s}")
        if t_s <= self._settled_s:
            # Everything due at this instant was handled, and flows started since cannot finish in
            # zero time: skip the rate recomputation (a burst of N starts would otherwise pay N).
            return
        due = self._due
        while True:
            t_next = self._next_change_s()
            if t_next > t_s:
                break
            if t_next > self.now_s:
                self.now_s = t_next
            now = self.now_s
            if due and due[0][0] <= now:
                self._finish_drained()
            if self._pending:
                self._start_pending()
            if self._link_change_s <= now:
                self._schedule.apply_changes(now, self._refresh_capacity)
                self._link_change_s = self._schedule.next_change_s(now)
            if self._other_events and self._other_events_s() <= now:
                self._apply_other_events()
        if t_s > self.now_s:
            self.now_s = t_s
        self._settled_s = self.now_s

    def _finish_drained(self) -> None:
        # Done: remaining bytes are a negligible share of the flow's threshold, or would take less
        # time than the clock can represent at ``now`` (else now + dt == now and time never moves),
        # or the drain end computed when its rate was set has come.  Only classes whose due time
        # has come are looked at; they are finished in class order, as a full scan would.
        now, due, classes, pop = self.now_s, self._due, self._classes, heapq.heappop
        candidates: dict[int, float] = {}
        while due and due[0][0] <= now:
            _, version, cls_id, end_s = pop(due)
            if classes[cls_id].version == version:
                candidates[cls_id] = end_s
        tick_s = 8 * math.ulp(now if now > 1.0 else 1.0)
        complete = self._complete
        for cls_id in sorted(candidates) if len(candidates) > 1 else candidates:
            cls = classes[cls_id]
            heap, rate, served = cls.heap, cls.rate_nbytes_per_s, cls.served_nbytes
            if now > cls.since_s:  # FlowClass.served_at, inlined
                served = served + rate * (now - cls.since_s)
            forced = candidates[cls_id] <= now
            finished = 0
            slack = rate * tick_s
            while heap:
                threshold = heap[0][0]
                if not forced and threshold - served > max(_REL_TOL * (threshold if threshold > 1.0 else 1.0), slack):
                    break
                _, flow_id, latency_s = pop(heap)
                complete(flow_id, now, latency_s)
                finished += 1
                forced = False
            if not finished:  # rounding: not quite done; look again at its drain end
                heapq.heappush(due, (candidates[cls_id], cls.version, cls_id, candidates[cls_id]))
                continue
            cls.count -= finished
            self._flows_joined -= finished
            self._rates.set_count(cls_id, cls.count)
            self._reschedule.add(cls_id)
            cls.version += 1
            if not cls.count:
                cls.served_nbytes, cls.since_s, cls.rate_nbytes_per_s = 0.0, now, 0.0

    def _complete(self, flow_id: int, drain_end_s: float, latency_s: float) -> None:
        """A flow's last byte has left (a subclass may keep some flows to itself: testbed.sim.cross_traffic)."""
        self._completed.append(Completion(flow_id, drain_end_s, drain_end_s + latency_s))

    def _start_pending(self) -> None:
        while self._pending and self._pending[0][0] <= self.now_s:
            _, flow_id, cls_id, nbytes, latency_s, _, _ = heapq.heappop(self._pending)
            if nbytes <= 0:
                self._completed.append(Completion(flow_id, self.now_s, self.now_s + latency_s))
            else:
                self._join(cls_id, flow_id, nbytes, latency_s)

    def _refresh_capacity(self, key: LinkKey) -> None:
        idx = self._link_index.get(key)
        if idx is not None:
            self._rates.set_capacity(idx, self._schedule.capacity_bps(key, self.now_s, self._nominal_bps[idx]) / 8.0)

    # -- max-min fair rates ----------------------------------------------------------------------
    def _ensure_rates(self) -> None:
        now, classes, reschedule = self.now_s, self._classes, self._reschedule
        solver = self._rates
        if solver.dirty:
            rates = solver.rate_nbytes_per_s
            for cls_id in solver.update(now):
                cls = classes[cls_id]
                since = cls.since_s
                if now > since:
                    cls.served_nbytes += cls.rate_nbytes_per_s * (now - since)
                    cls.since_s = now
                cls.rate_nbytes_per_s = rates[cls_id]
                reschedule.add(cls_id)
        due, push = self._due, heapq.heappush
        tick_s = 8 * math.ulp(now if now > 1.0 else 1.0)
        for cls_id in reschedule:
            cls = classes[cls_id]
            version = cls.version = cls.version + 1
            rate, count = cls.rate_nbytes_per_s, cls.count
            if cls.meter is not None:  # a count or rate change: the carried rate changes now
                cls.meter.set_rate(cls_id, cls.wan_links, now, rate * count)
            if count and rate > 0:
                threshold = cls.heap[0][0]
                since = cls.since_s
                left = threshold - cls.served_nbytes - (rate * (now - since) if now > since else 0.0)
                end_s = now + (left if left > 0 else 0.0) / rate
                early_s = _REL_TOL * (threshold if threshold > 1.0 else 1.0) / rate
                if early_s < tick_s:
                    early_s = tick_s
                push(due, (end_s - early_s, version, cls_id, end_s))
        reschedule.clear()
        if len(due) > 64 + 4 * len(classes):  # drop retired entries now and then
            due[:] = [e for e in due if classes[e[2]].version == e[1]]  # in place: callers hold it
            heapq.heapify(due)


def simulate_flows(topology: Topology, flows: Iterable[tuple[str, str, float, float]], *,
                   seed: int = 0, tcp: TcpModel | None = None) -> list[float]:
    """Arrival time of each flow ``(src, dst, nbytes, start_s)``, in input order.

    The pure entry point for tests and analysis: no engine, no SimPy.
    """
    flows = list(flows)
    order = sorted(range(len(flows)), key=lambda i: flows[i][3])
    net = FlowNetwork(topology, seed=seed, tcp=tcp)
    arrival: dict[int, float] = {}
    flow_to_input: dict[int, int] = {}
    for i in order:
        src, dst, nbytes, start_s = flows[i]
        for c in net.advance(start_s):
            arrival[flow_to_input[c.flow_id]] = c.arrival_s
        flow_to_input[net.start_flow(src, dst, nbytes, start_s)] = i
    while len(arrival) < len(flows):
        t = net.next_event_s()
        if not math.isfinite(t):
            raise RuntimeError("flows can never finish (a link is down forever?)")
        for c in net.advance(t):
            arrival[flow_to_input[c.flow_id]] = c.arrival_s
    return [arrival[i] for i in range(len(flows))]
