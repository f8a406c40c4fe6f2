"""Time-varying links: bandwidth/latency profiles, outages and nodes that are down, as a step schedule.

WAN links are not constant: Gaia measured large swings between EC2 regions, and
links fail.  A link's ``profile`` sets its capacity/latency from given times on;
an ``outage`` ``[start, end)`` makes it carry nothing (flows stall, then resume).
A node that is down (topology ``availability``, testbed.sim.node_clock) is offline: both
of its NIC links carry nothing while it is down, so every flow to or from it stalls at
rate 0 and resumes when it is back -- the same capacity-0 mechanism as an outage, so
the max-min solver and its exactness tests see one kind of event.  (Nodes never relay:
a route crosses its two ends' NICs and datacenter switches only, testbed.topology.model.)
This module turns all of it into one sorted stream of change times, so the network
model only has to ask "what is the next change?" and "what is this link now?".
Otherwise NIC (LAN) links are constant.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable

from testbed.sim.node_clock import NodeClock
from testbed.topology.model import LinkKey, Topology, WanLink


class LinkSchedule:
    """Capacity and latency of every directed link as a function of time.

    ``clock``: the nodes' availability (None: every node always up).  A node's changes join the
    schedule once someone asks for the capacity of one of its NIC links (a network registering the
    link), so nodes that never communicate cost nothing."""

    def __init__(self, topology: Topology, clock: NodeClock | None = None) -> None:
        self._links: dict[LinkKey, WanLink] = {}
        changes: dict[float, set[LinkKey]] = {}
        for link in topology.links:
            keys = ((link.a, link.b), (link.b, link.a))
            if not (link.profile or link.outages):
                continue
            for key in keys:
                self._links[key] = link
            times = [step.at_s for step in link.profile] + [t for o in link.outages for t in o]
            for t in times:
                changes.setdefault(t, set()).update(keys)
        self._times = sorted(changes)
        self._keys = [sorted(changes[t]) for t in self._times]
        self._next = 0
        self._clock = clock
        self._node_of_key: dict[LinkKey, str | None] = {}
        self._watched: set[str] = set()
        self._node_changes: list[tuple[float, str]] = []  # heap: (next availability change, node)

    def node_of(self, key: LinkKey) -> str | None:
        """The node whose NIC ``key`` is, if that node can be down; else None."""
        if key not in self._node_of_key:
            node = key[0] if "/" in key[0] else key[1] if "/" in key[1] else None
            if node is not None and (self._clock is None or self._clock.dynamics(node).availability is None):
                node = None
            self._node_of_key[key] = node
        return self._node_of_key[key]

    def capacity_bps(self, key: LinkKey, t_s: float, nominal_bps: float) -> float:
        """Capacity of directed link ``key`` at ``t_s`` (0 during an outage, or while its node is down)."""
        node = self.node_of(key)
        if node is not None:
            clock = self._clock
            assert clock is not None
            if node not in self._watched:
                self._watched.add(node)
                after = clock.next_change_s(node, t_s)
                if math.isfinite(after):
                    heapq.heappush(self._node_changes, (after, node))
            return nominal_bps if clock.available(node, t_s) else 0.0
        link = self._links.get(key)
        if link is None:
            return nominal_bps
        if any(start <= t_s < end for start, end in link.outages):
            return 0.0
        forward = key[0] == link.a
        for step in reversed(link.profile):
            if step.at_s <= t_s:
                value = step.bandwidth_ab_bps if forward else step.bandwidth_ba_bps
                if value is not None:
                    return value
        return nominal_bps

    def latency_s(self, key: LinkKey, t_s: float, nominal_s: float) -> float:
        """One-way latency of directed link ``key`` at ``t_s``."""
        link = self._links.get(key)
        if link is None:
            return nominal_s
        for step in reversed(link.profile):
            if step.at_s <= t_s and step.latency_s is not None:
                return step.latency_s
        return nominal_s

    def next_change_s(self, now_s: float) -> float:
        """The earliest change not yet applied (``inf`` if none)."""
        t = self._times[self._next] if self._next < len(self._times) else math.inf
        return min(t, self._node_changes[0][0]) if self._node_changes else t

    def apply_changes(self, now_s: float, refresh: Callable[[LinkKey], None]) -> bool:
        """Call ``refresh(key)`` for every link changing at or before ``now_s``; True if any."""
        end = bisect.bisect_right(self._times, now_s, lo=self._next)
        for i in range(self._next, end):
            for key in self._keys[i]:
                refresh(key)
        changed = end > self._next
        self._next = end
        nodes = self._node_changes
        while nodes and nodes[0][0] <= now_s:
            _, node = heapq.heappop(nodes)
            refresh((node, self._dc_of(node)))
            refresh((self._dc_of(node), node))
            after = self._clock.next_change_s(node, now_s) if self._clock is not None else math.inf
            if math.isfinite(after):
                heapq.heappush(nodes, (after, node))
            changed = True
        return changed

    @staticmethod
    def _dc_of(node: str) -> str:
        return node.partition("/")[0]
