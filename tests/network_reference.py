"""Reference flow model for tests: the network core as it was before the incremental rewrite.

Why keep it: ``testbed/sim/network.py`` now recomputes max-min rates only for the classes an event
can affect and skips idle classes, which is fast but intricate.  This file is the old, simple
implementation (every event recomputes every class's rate by vectorised progressive filling)
that agreed with SimGrid's max-min solver to 5e-14; ``tests/test_network_reference.py`` runs
both on many random scenarios and requires the same completion times.  Do not optimise it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from testbed.sim.link_schedule import LinkSchedule
from testbed.sim.node_clock import NodeClock
from testbed.sim.tcp import TcpModel
from testbed.topology.model import LinkKey, Topology

_REL_TOL = 1e-9  # a flow whose remaining bytes are below this share of its size is done


@dataclass(frozen=True)
class Completion:
    """A flow whose last byte has left: when, and when it arrives at the destination."""

    flow_id: int
    drain_end_s: float
    arrival_s: float


@dataclass
class _Class:
    """All active flows on one route: they share one rate and one service counter."""

    links: np.ndarray  # directed-link indices of the route
    latency_s: float
    cap_nbytes_per_s: float  # per-flow rate cap (TCP window/Mathis), inf without TCP
    count: int = 0
    served_nbytes: float = 0.0  # bytes delivered to every flow of the class so far
    rate_nbytes_per_s: float = 0.0  # current per-flow rate
    heap: list[tuple[float, int]] | None = None  # (served threshold at which flow ends, flow id)


class FlowNetwork:
    """Event-driven max-min fair flow model over a :class:`Topology`.

    Drive it with non-decreasing times: :meth:`start_flow` at ``now_s``,
    :meth:`next_event_s` to learn the next time anything changes, and
    :meth:`advance` to move to a time and collect the flows that finished draining.
    """

    def __init__(self, topology: Topology, seed: int = 0, tcp: TcpModel | None = None) -> None:
        self.topology = topology
        self.tcp = tcp
        self.now_s = 0.0
        self._rng = np.random.default_rng(seed)
        self._schedule = LinkSchedule(topology, NodeClock(topology, seed))  # the capacities, nodes down included
        self._link_index: dict[LinkKey, int] = {}
        self._links: list[LinkKey] = []
        self._nominal_bps: list[float] = []
        self._capacity = np.zeros(0)  # bytes/s, current
        self.busy_s = np.zeros(0)
        self._load = np.zeros(0)
        self._classes: list[_Class] = []
        self._class_of_route: dict[tuple[str, str], int] = {}
        self._flow_meta: dict[int, tuple[float, float]] = {}  # flow -> (size, latency_s)
        self._pending: list[tuple[float, int, int, float]] = []  # delayed starts (tcp slow start)
        self._completed: list[Completion] = []  # finished, not yet collected by advance()
        self._next_flow_id = 0
        self._settled_s = -math.inf  # the last time every event due was processed
        self._dirty = True
        self._incidence: tuple[np.ndarray, np.ndarray] | None = None

    # -- links -----------------------------------------------------------------------------
    def _link(self, key: LinkKey) -> int:
        idx = self._link_index.get(key)
        if idx is None:
            idx = len(self._links)
            self._link_index[key] = idx
            self._links.append(key)
            nominal = self.topology.link_capacity_bps(key)
            self._nominal_bps.append(nominal)
            cap = self._schedule.capacity_bps(key, self.now_s, nominal) / 8.0
            self._capacity = np.append(self._capacity, cap)
            self.busy_s = np.append(self.busy_s, 0.0)
            self._load = np.append(self._load, 0.0)
        return idx

    @property
    def links(self) -> list[LinkKey]:
        """Directed links that have carried (or are carrying) traffic, in index order."""
        return list(self._links)

    def link_busy_s(self) -> dict[LinkKey, float]:
        """Seconds each directed link carried at least one flow at a positive rate."""
        return {key: float(self.busy_s[i]) for i, key in enumerate(self._links)}

    # -- flows -------------------------------------------------------------------------------
    def start_flow(self, src: str, dst: str, nbytes: float, now_s: float) -> int:
        """Start a flow of ``nbytes`` from node ``src`` to ``dst`` at ``now_s``; returns its id."""
        if nbytes < 0:
            raise ValueError(f"flow size must be >= 0, got {nbytes}")
        self._advance_to(now_s)
        flow_id = self._next_flow_id
        self._next_flow_id += 1
        route = self.topology.route(src, dst)
        latency = sum(self._schedule.latency_s(k, now_s, self.topology.link_latency_s(k)) for k in route.links)
        latency += self._jitter(route.links)
        cls_id = self._class_id(src, dst)
        cls = self._classes[cls_id]
        delay_s, nbytes_left = 0.0, float(nbytes)
        if self.tcp is not None and nbytes > 0:
            delay_s, nbytes_left = self.tcp.slow_start(nbytes, 2 * cls.latency_s, self._path_capacity_bps(cls))
        self._flow_meta[flow_id] = (float(nbytes), latency)
        if not route.links or nbytes_left <= 0:
            end = now_s + delay_s
            if delay_s == 0:
                self._completed.append(Completion(flow_id, end, end + latency))
            else:
                heapq.heappush(self._pending, (end, flow_id, cls_id, 0.0))
        elif delay_s > 0:
            heapq.heappush(self._pending, (now_s + delay_s, flow_id, cls_id, nbytes_left))
        else:
            self._join(cls_id, flow_id, nbytes_left)
        return flow_id

    def start_link_flow(self, key: LinkKey, nbytes: float, now_s: float, cap_bps: float = math.inf) -> int:
        """A flow of ``nbytes`` on the one directed link ``key`` (cross-traffic: no NICs, no latency, no TCP),
        each such flow capped at ``cap_bps``; flows with one (link, cap) share a class."""
        self._advance_to(now_s)
        flow_id = self._next_flow_id
        self._next_flow_id += 1
        route = ("link", key, cap_bps)
        cls_id = self._class_of_route.get(route)  # type: ignore[call-overload]
        if cls_id is None:
            cls_id = len(self._classes)
            self._classes.append(_Class(links=np.array([self._link(key)], dtype=np.int64), latency_s=0.0,
                                        cap_nbytes_per_s=cap_bps / 8.0, heap=[]))
            self._class_of_route[route] = cls_id  # type: ignore[index]
            self._incidence = None
        self._flow_meta[flow_id] = (float(nbytes), 0.0)
        self._join(cls_id, flow_id, float(nbytes))
        return flow_id

    def end_flow(self, flow_id: int, now_s: float) -> None:
        """Take flow ``flow_id`` out at ``now_s`` before it drains (a capped stream that stops)."""
        self._advance_to(now_s)
        for cls in self._classes:
            entries = [e for e in cls.heap or [] if e[1] == flow_id]
            if entries:
                cls.heap.remove(entries[0])
                heapq.heapify(cls.heap)
                cls.count -= 1
                self._flow_meta.pop(flow_id, None)
                self._dirty = True
                return

    def _jitter(self, links: Sequence[LinkKey]) -> float:
        total = 0.0
        for key in links:
            jitter = self._jitter_s(key)
            if jitter > 0:
                total += float(self._rng.uniform(-jitter, jitter))
        return max(total, -sum(self.topology.link_latency_s(k) for k in links))

    def _jitter_s(self, key: LinkKey) -> float:
        return self.topology.link(key).jitter_s

    def _class_id(self, src: str, dst: str) -> int:
        key = (src, dst)
        cls_id = self._class_of_route.get(key)
        if cls_id is None:
            route = self.topology.route(src, dst)
            links = np.array([self._link(k) for k in route.links], dtype=np.int64)
            cap = math.inf
            if self.tcp is not None and route.links:
                loss = 1.0 - math.prod(1.0 - self._loss(k) for k in route.links)
                cap = self.tcp.rate_cap_bps(2 * route.latency_s, loss) / 8.0
            cls_id = len(self._classes)
            self._classes.append(_Class(links=links, latency_s=route.latency_s, cap_nbytes_per_s=cap, heap=[]))
            self._class_of_route[key] = cls_id
            self._incidence = None
        return cls_id

    def _loss(self, key: LinkKey) -> float:
        return self.topology.link(key).loss

    def _path_capacity_bps(self, cls: _Class) -> float:
        if len(cls.links) == 0:
            return math.inf
        return float(min(self._nominal_bps[i] for i in cls.links))

    def _join(self, cls_id: int, flow_id: int, nbytes: float) -> None:
        cls = self._classes[cls_id]
        heapq.heappush(cls.heap, (cls.served_nbytes + nbytes, flow_id))
        cls.count += 1
        self._dirty = True

    # -- time --------------------------------------------------------------------------------
    def next_event_s(self) -> float:
        """When the driver should next call :meth:`advance` (now, if completions await collection)."""
        return self.now_s if self._completed else self._next_change_s()

    def _next_change_s(self) -> float:
        """The next time at which a flow drains, a delayed flow starts or a link changes."""
        self._ensure_rates()
        t = self._schedule.next_change_s(self.now_s)
        if self._pending:
            t = min(t, self._pending[0][0])
        for cls in self._classes:
            if cls.count and cls.rate_nbytes_per_s > 0:
                remaining = cls.heap[0][0] - cls.served_nbytes
                t = min(t, self.now_s + max(remaining, 0.0) / cls.rate_nbytes_per_s)
        return t

    def advance(self, t_s: float) -> list[Completion]:
        """Move the clock to ``t_s``; return the flows whose last byte left since the last call."""
        self._advance_to(t_s)
        done, self._completed = self._completed, []
        return done

    def _advance_to(self, t_s: float) -> None:
        if t_s < self.now_s - 1e-9 * max(1.0, self.now_s):
            raise ValueError(f"time goes forward only: now {self.now_s}, asked {t_s}")
        if t_s <= self._settled_s:
            # Everything due at this instant was handled, and flows started since cannot finish in
            # zero time: skip the rate recomputation (a burst of N starts would otherwise pay N).
            return
        while True:
            t_next = self._next_change_s()
            if t_next > t_s:
                break
            self._progress(t_next)
            self._completed.extend(self._finish_drained())
            self._completed.extend(self._start_pending())
            if self._schedule.apply_changes(self.now_s, self._refresh_capacity):
                self._dirty = True
        self._progress(max(t_s, self.now_s))
        self._settled_s = self.now_s

    def _progress(self, t_s: float) -> None:
        dt = t_s - self.now_s
        if dt > 0:
            for cls in self._classes:
                if cls.count:
                    cls.served_nbytes += cls.rate_nbytes_per_s * dt
            self.busy_s[self._load > 0] += dt
        self.now_s = max(self.now_s, t_s)

    def _finish_drained(self) -> list[Completion]:
        # Done: remaining bytes are a negligible share of the flow, or would take less time
        # than the clock can represent at ``now`` (else now + dt == now and time never moves).
        tick_s = 8 * math.ulp(max(self.now_s, 1.0))
        done = []
        for cls in self._classes:
            while cls.count and cls.heap[0][0] - cls.served_nbytes <= max(
                    _REL_TOL * max(cls.heap[0][0], 1.0), cls.rate_nbytes_per_s * tick_s):
                _, flow_id = heapq.heappop(cls.heap)
                cls.count -= 1
                latency = self._flow_meta.pop(flow_id)[1]
                done.append(Completion(flow_id, self.now_s, self.now_s + latency))
                self._dirty = True
            if not cls.count:
                cls.served_nbytes = 0.0
                cls.heap.clear()
        return done

    def _start_pending(self) -> list[Completion]:
        done = []
        while self._pending and self._pending[0][0] <= self.now_s:
            _, flow_id, cls_id, nbytes = heapq.heappop(self._pending)
            if nbytes <= 0:
                latency = self._flow_meta.pop(flow_id)[1]
                done.append(Completion(flow_id, self.now_s, self.now_s + latency))
            else:
                self._join(cls_id, flow_id, nbytes)
        return done

    def _refresh_capacity(self, key: LinkKey) -> None:
        idx = self._link_index.get(key)
        if idx is not None:
            self._capacity[idx] = self._schedule.capacity_bps(key, self.now_s, self._nominal_bps[idx]) / 8.0

    # -- max-min fair rates ----------------------------------------------------------------------
    def _ensure_rates(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        if self._incidence is None:
            cls_of_entry = np.concatenate([np.full(len(c.links), i, dtype=np.int64)
                                           for i, c in enumerate(self._classes)] or [np.zeros(0, np.int64)])
            link_of_entry = np.concatenate([c.links for c in self._classes] or [np.zeros(0, np.int64)])
            self._incidence = (cls_of_entry, link_of_entry)
        counts = np.array([c.count for c in self._classes], dtype=float)
        caps = np.array([c.cap_nbytes_per_s for c in self._classes], dtype=float)
        rates = max_min_rates(self._capacity, counts, caps, *self._incidence)
        for cls, rate in zip(self._classes, rates, strict=True):
            cls.rate_nbytes_per_s = float(rate)
        cls_of_entry, link_of_entry = self._incidence
        self._load = np.bincount(link_of_entry, weights=(counts * rates)[cls_of_entry],
                                 minlength=len(self._links))


def max_min_rates(capacity: np.ndarray, counts: np.ndarray, caps: np.ndarray,
                  cls_of_entry: np.ndarray, link_of_entry: np.ndarray) -> np.ndarray:
    """Per-flow max-min fair rate of each class (progressive filling, vectorised).

    ``capacity[l]`` is link l's capacity; class c has ``counts[c]`` flows, each capped
    at ``caps[c]``; the pairs (``cls_of_entry[e]``, ``link_of_entry[e]``) say which links
    each class crosses.  Classes with no flows get rate 0.  Repeatedly: the tightest
    constraint (a link's leftover per unfrozen flow, or a class's own cap) fixes the
    rate of every class it binds; their use is taken off every link they cross.
    """
    n_links = len(capacity)
    rates = np.zeros(len(counts))
    unfrozen = counts > 0
    remaining = capacity.astype(float).copy()
    weight = counts[cls_of_entry] * unfrozen[cls_of_entry]
    users = np.bincount(link_of_entry, weights=weight, minlength=n_links)
    while unfrozen.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(users > 0, np.maximum(remaining, 0.0) / users, np.inf)
        level = min(share.min(initial=np.inf), caps[unfrozen].min())
        if not np.isfinite(level):  # classes with no links and no cap: unconstrained
            rates[unfrozen] = np.inf
            break
        tight = share <= level * (1 + 1e-12)
        freeze = np.zeros(len(counts), dtype=bool)
        hit = tight[link_of_entry] & unfrozen[cls_of_entry]
        freeze[cls_of_entry[hit]] = True
        freeze |= unfrozen & (caps <= level * (1 + 1e-12))
        rates[freeze] = level
        entries = freeze[cls_of_entry]
        flows = counts[cls_of_entry[entries]]
        remaining -= np.bincount(link_of_entry[entries], weights=flows * level, minlength=n_links)
        users -= np.bincount(link_of_entry[entries], weights=flows, minlength=n_links)
        unfrozen &= ~freeze
    return rates


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
