"""The topology's cross-traffic as one time-ordered stream of events, seeded by the run.

Why: background sources (testbed.topology.background) are parsed as plain data; something must turn
them into flows at virtual times, the same on every machine, without drawing from the run's own
streams (so a run with background traffic and one without make the same choices).  Each source in
each direction has its own generator, seeded by (run seed, crc32 of the directed link, the source's
index), and is advanced lazily -- only as far as the network has asked (:meth:`BackgroundTraffic.pop_due`).

Events: ``("flow", link, nbytes, source)`` starts an elastic flow on the directed WAN link; ``("rate",
link, bps, source)`` sets a capped stream's offered rate from now on (0: off).  Poisson sizes are
exponential with the given mean, or lognormal with it (mu = ln(mean) - sigma^2 / 2).  Offered load
is kept per directed link: bytes of arrived flows, and the offered rate's integral for streams.
"""

from __future__ import annotations

import heapq
import math
import zlib
from collections import defaultdict
from collections.abc import Iterator

import numpy as np

from testbed.topology.background import BackgroundSource
from testbed.topology.model import LinkKey, Topology

_STREAM = 7
Event = tuple[str, LinkKey, float, int]


class BackgroundTraffic:
    """Every background source of ``topology``, as events in time order (ties: in source order)."""

    def __init__(self, topology: Topology, seed: int) -> None:
        self.sources: list[tuple[LinkKey, BackgroundSource]] = []
        self._heap: list[tuple[float, int, Event]] = []
        self._streams: list[Iterator[tuple[float, Event]]] = []
        self._arrived: dict[LinkKey, list[tuple[float, float]]] = defaultdict(list)
        self._steps: dict[tuple[LinkKey, int], list[tuple[float, float]]] = {}
        for link in topology.links:
            for k, source in enumerate(link.background):
                for direction in source.directions(link.a, link.b):
                    rng = np.random.default_rng([seed, zlib.crc32(f"{direction[0]}->{direction[1]}".encode()), _STREAM,
                                                 k])
                    index = len(self.sources)
                    self.sources.append((direction, source))
                    self._streams.append(_events(source, direction, index, rng))
                    self._push(index)

    @property
    def empty(self) -> bool:
        """True when the topology has no background sources."""
        return not self.sources

    def _push(self, index: int) -> None:
        nxt = next(self._streams[index], None)
        if nxt is not None:
            heapq.heappush(self._heap, (nxt[0], index, nxt[1]))

    def next_s(self) -> float:
        """When the next event is due (``inf``: none is left)."""
        return self._heap[0][0] if self._heap else math.inf

    def pop_due(self, now_s: float) -> list[Event]:
        """The events due at or before ``now_s``, in time order; records the offered load."""
        due = []
        while self._heap and self._heap[0][0] <= now_s:
            t_s, index, event = heapq.heappop(self._heap)
            kind, link, value, source = event
            if kind == "flow":
                self._arrived[link].append((t_s, value))
            else:
                self._steps.setdefault((link, source), []).append((t_s, value))
            due.append(event)
            self._push(index)
        return due

    def offered_nbytes(self, link: LinkKey, until_s: float) -> float:
        """Bytes offered on the directed ``link`` before ``until_s``: arrived flows plus streams' rate x time."""
        total = sum(nbytes for t, nbytes in self._arrived.get(link, []) if t < until_s)
        for (stream_link, _), steps in self._steps.items():
            if stream_link != link:
                continue
            for (t0, bps), t1 in zip(steps, [t for t, _ in steps[1:]] + [math.inf], strict=True):
                total += bps / 8.0 * max(0.0, min(t1, until_s) - t0)
        return total

    def links(self) -> list[LinkKey]:
        """Directed links with a background source."""
        return sorted({link for link, _ in self.sources})


def _events(source: BackgroundSource, link: LinkKey, index: int,
            rng: np.random.Generator) -> Iterator[tuple[float, Event]]:
    """One source's events on one directed link, lazily."""
    if source.kind == "rate":
        yield 0.0, ("rate", link, source.rate_bps, index)
    elif source.kind == "load":
        for t_s, bps in source.steps:
            yield t_s, ("rate", link, bps, index)
    elif source.kind == "replay":
        times, sizes = source.replay.get(link, (np.zeros(0), np.zeros(0)))
        for t_s, nbytes in zip(times.tolist(), sizes.tolist(), strict=True):
            yield t_s, ("flow", link, nbytes, index)
    else:
        t_s = 0.0
        mu = math.log(source.mean_nbytes) - (source.sigma or 0.0) ** 2 / 2
        while True:
            t_s += float(rng.exponential(1.0 / source.flows_per_s))
            nbytes = (float(rng.exponential(source.mean_nbytes)) if source.sigma is None
                      else float(rng.lognormal(mu, source.sigma)))
            yield t_s, ("flow", link, nbytes, index)
