"""Time-varying links: bandwidth/latency profiles and outages as a step schedule.

WAN links are not constant: Gaia measured large swings between EC2 regions, and
links fail.  A link's ``profile`` sets its capacity/latency from given times on;
an ``outage`` ``[start, end)`` makes it carry nothing (flows stall, then resume).
This module turns both into one sorted list of change times, so the network
model only has to ask "what is the next change?" and "what is this link now?".
NIC (LAN) links are constant.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

from testbed.topology.model import LinkKey, Topology, WanLink


class LinkSchedule:
    """Capacity and latency of every directed link as a function of time."""

    def __init__(self, topology: Topology) -> None:
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

    def capacity_bps(self, key: LinkKey, t_s: float, nominal_bps: float) -> float:
        """Capacity of directed link ``key`` at ``t_s`` (0 during an outage)."""
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
        return self._times[self._next] if self._next < len(self._times) else math.inf

    def apply_changes(self, now_s: float, refresh: Callable[[LinkKey], None]) -> bool:
        """Call ``refresh(key)`` for every link changing at or before ``now_s``; True if any."""
        end = bisect.bisect_right(self._times, now_s, lo=self._next)
        for i in range(self._next, end):
            for key in self._keys[i]:
                refresh(key)
        changed = end > self._next
        self._next = end
        return changed
