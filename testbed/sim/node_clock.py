"""Node behaviour as functions of virtual time: who is up, when that changes, how long work takes.

:class:`NodeClock` turns each node's :class:`~testbed.topology.dynamics.NodeDynamics` into pure
functions of ``(node, t_s)`` -- :meth:`NodeClock.available`, :meth:`NodeClock.next_change_s`,
:meth:`NodeClock.crash_time_s` -- and charges compute (:meth:`NodeClock.finish_s`): the work of a
task at speed 1 is spread over the node's speed profile, paused while the node is down, and scaled
by a seeded slowdown draw.  Everything is seeded by the run's seed and the node id (one stream per
node, drawn in the node's own order), so a run is deterministic on any backend; methods read it
through the Session, never through the wall clock.  The seeded on/off model draws its up and down
spells lazily, as far as anyone has asked; a node that is always up keeps nothing, and a population
client's spells are forgotten when many are held (:data:`MAX_CACHED_TOGGLES`) and drawn again if asked.
The engine asks several of these per message (is the receiver crashed? can it be down?), so a listed node's
parsed behaviour and speed are looked up once and kept (a handful of nodes); a population client's are
looked up anew each time, so nothing is kept per client.
A slowdown stream is stateful (one draw per compute call), so it is kept per node that has one.  A worker
whose availability is a ``trace`` takes one client's down intervals (:meth:`NodeClock.trace_owner`: client i
for the i-th worker naming the file, or a seeded choice of clients when the trace has more clients than
workers); service nodes of a datacenter with a trace stay up (a trace describes clients, not aggregators).
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from testbed.topology.availability_trace import AvailabilityTrace, client_assignment
from testbed.topology.dynamics import Availability, NodeDynamics, Slowdown
from testbed.topology.model import Topology

_AVAILABILITY_STREAM = 1
_SLOWDOWN_STREAM = 2
_TRACE_STREAM = 3
_UNSEEN = object()
MAX_CACHED_TOGGLES = 65_536
"""Availability spells kept at once: a population client's are dropped beyond this and drawn again from its
seed when asked (the same spells: they depend only on the run seed and the node id)."""


class _Toggles:
    """A node's down intervals as sorted toggle times: up before ``times[0]``, down until ``times[1]``, ..."""

    def __init__(self, availability: Availability, seed: int, node: str,
                 down_s: list[tuple[float, float]] | None = None) -> None:
        intervals = availability.down_s if down_s is None else down_s
        self.times: list[float] = [t for interval in intervals for t in interval]
        self.crash_s = availability.crash_at_s if availability.crash_at_s is not None else math.inf
        self._model = availability if availability.on_off else None
        self._rng = np.random.default_rng([seed, zlib.crc32(node.encode()), _AVAILABILITY_STREAM])

    def _extend_to(self, t_s: float) -> None:
        """Draw on/off spells (exponential, means mean_up / mean_down; starting up) until past ``t_s``."""
        model = self._model
        if model is None:
            return
        last = self.times[-1] if self.times else 0.0
        while last <= t_s and last < self.crash_s:
            mean = model.mean_up_s if len(self.times) % 2 == 0 else model.mean_down_s
            last += float(self._rng.exponential(mean))
            self.times.append(last)

    def up(self, t_s: float) -> bool:
        if t_s >= self.crash_s:
            return False
        self._extend_to(t_s)
        return bisect.bisect_right(self.times, t_s) % 2 == 0

    def next_change_s(self, t_s: float) -> float:
        if t_s >= self.crash_s:
            return math.inf
        self._extend_to(t_s)
        i = bisect.bisect_right(self.times, t_s)
        return min(self.times[i] if i < len(self.times) else math.inf, self.crash_s)


class NodeClock:
    """Availability and compute time of every node of ``topology``, seeded by the run's ``seed``."""

    def __init__(self, topology: Topology, seed: int) -> None:
        self.topology = topology
        self.seed = seed
        self._toggles: dict[str, _Toggles | None] = {}
        self._slowdown_rngs: dict[str, np.random.Generator] = {}
        self._trace_owners: dict[int, dict[str, int | str | None]] = {}
        self._dynamics: dict[str, NodeDynamics] = {}  # listed nodes only (never a population's clients)
        self._speeds: dict[str, float] = {}

    def dynamics(self, node: str) -> NodeDynamics:
        """The node's parsed behaviour (service nodes: their datacenter's)."""
        return self._kept(self._dynamics, node, self.topology.dynamics_of)

    def speed(self, node: str) -> float:
        """The node's relative compute speed (``Topology.speed_of``; service nodes: their datacenter's)."""
        return self._kept(self._speeds, node, self.topology.speed_of)

    def _kept(self, cache: dict, node: str, look_up: Callable[[str], Any]) -> Any:
        """``look_up(node)``, kept in ``cache`` for a listed node, asked anew for a population's client."""
        value = cache.get(node)
        if value is None:
            value = look_up(node)
            if not self.topology.is_client(node):
                cache[node] = value
        return value

    def _toggles_of(self, node: str) -> _Toggles | None:
        toggles = self._toggles.get(node, _UNSEEN)
        if toggles is _UNSEEN:
            availability = self.dynamics(node).availability
            if availability is None:
                if node in self._dynamics:
                    self._toggles[node] = None  # a listed node that is always up: remembered as such
                return None  # a population's clients cost nothing here
            if availability.trace is not None:
                owner = self.trace_owner(node)
                down = [] if owner is None else availability.trace.down_intervals(owner)
                toggles = _Toggles(availability, self.seed, node, down)
            else:
                toggles = _Toggles(availability, self.seed, node)
            if len(self._toggles) >= MAX_CACHED_TOGGLES and self.topology.is_client(node):
                self._toggles = {n: t for n, t in self._toggles.items() if not self.topology.is_client(n)}
            self._toggles[node] = toggles
        return toggles

    def trace_owner(self, node: str) -> int | str | None:
        """The trace client (or node id) whose down intervals ``node`` takes; None: always up (a service
        node, or a worker left without a client).  Client i goes to the i-th worker naming the trace file
        (topology order) unless the trace has more clients than such workers: then to a seeded choice."""
        availability = self.dynamics(node).availability
        trace = availability.trace if availability is not None else None
        if trace is None:
            return None
        if trace.keyed_by == "node":
            return node
        owners = self._trace_owners.get(id(trace))
        if owners is None:
            owners = self._trace_owners[id(trace)] = self._assign_clients(trace)
        return owners.get(node)

    def _assign_clients(self, trace: AvailabilityTrace) -> dict[str, int | str | None]:
        workers = [w.node_id for w in self.topology.workers
                   if w.dynamics.availability is not None and w.dynamics.availability.trace is trace]
        rng = np.random.default_rng([self.seed, zlib.crc32(trace.name.encode()), _TRACE_STREAM])
        return dict(zip(workers, client_assignment(trace.num_clients, len(workers), rng), strict=True))

    # -- availability ----------------------------------------------------------------------------------
    def available(self, node: str, t_s: float) -> bool:
        """Whether ``node`` is up at ``t_s`` (not inside a down interval, not crashed)."""
        toggles = self._toggles_of(node)
        return toggles is None or toggles.up(t_s)

    def next_change_s(self, node: str, t_s: float) -> float:
        """The first time after ``t_s`` at which ``node``'s availability changes (``inf``: never)."""
        toggles = self._toggles_of(node)
        return math.inf if toggles is None else toggles.next_change_s(t_s)

    def crash_time_s(self, node: str) -> float:
        """When ``node`` crashes for good (``inf``: never)."""
        toggles = self._toggles_of(node)
        return math.inf if toggles is None else toggles.crash_s

    # -- compute ---------------------------------------------------------------------------------------
    def slowdown_factor(self, node: str) -> float:
        """The next seeded slowdown draw of ``node`` (1.0 without a slowdown); one per compute call."""
        slowdown = self.dynamics(node).slowdown
        if slowdown is None:
            return 1.0
        rng = self._slowdown_rngs.get(node)
        if rng is None:
            rng = self._slowdown_rngs[node] = np.random.default_rng(
                [self.seed, zlib.crc32(node.encode()), _SLOWDOWN_STREAM])
        return _draw(slowdown, rng)

    def speed_at(self, node: str, t_s: float) -> float:
        """Relative speed at ``t_s``: the last speed-profile step at or before it, else the node's speed."""
        steps = self.dynamics(node).speed_profile
        i = bisect.bisect_right([at for at, _ in steps], t_s)
        return steps[i - 1][1] if i else self.speed(node)

    def finish_s(self, node: str, start_s: float, work_s: float) -> float:
        """When ``work_s`` seconds of speed-1 work started at ``start_s`` are done: the integral of the
        node's speed (0 while it is down) reaches ``work_s``.  A node that crashes first finishes at its
        crash (its process is stopped there)."""
        t, left = start_s, work_s
        steps = [at for at, _ in self.dynamics(node).speed_profile]
        while True:
            i = bisect.bisect_right(steps, t)
            next_step = steps[i] if i < len(steps) else math.inf
            up = self.available(node, t)
            boundary = min(next_step, self.next_change_s(node, t))
            if up:
                speed = self.speed_at(node, t)
                if left <= speed * (boundary - t):
                    return t + left / speed
                left -= speed * (boundary - t)
            if not math.isfinite(boundary):
                return self.crash_time_s(node)
            t = boundary


def _draw(slowdown: Slowdown, rng: np.random.Generator) -> float:
    if slowdown.kind == "lognormal":
        return float(math.exp(slowdown.sigma * rng.standard_normal()))
    return slowdown.factor if rng.random() < slowdown.p else 1.0
