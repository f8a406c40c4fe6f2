"""WAN bandwidth over time: bytes each directed WAN link carried in each window, exactly.

Why: a method's bandwidth claim (Streaming DiLoCo: a lower *peak* WAN bandwidth than DiLoCo at the same
mean) is about how bursty its traffic is, which totals cannot show.  The flow network knows every
class's rate at every instant (rates change only at events), so the meter integrates it: whenever a
flow class's carried rate (per-flow rate x flows) changes, the bytes it carried since its last change
are spread over fixed windows of ``window_s`` on each WAN link of its route.  Nothing is sampled or
estimated; LAN links are not metered (there are one or two per node).

On a fixed WAN one flow alone always gets the whole link, so the *instantaneous* rate is the link's
capacity whenever anything is sent; what differs between methods is the rate averaged over a window
of the training's time scale.  So the meter reports, over ``[0, until_s)``: the mean rate (all WAN bits
/ duration), the peak window (the largest WAN bits carried in one window / ``window_s``), per link and
summed over every directed WAN link ("the WAN").  ``network.rate_window`` sets the window (default 1 s,
a monitoring tool's sampling interval).  A constant rate over many windows is kept as one range, not
window by window, so a run of any length costs memory in its rate changes only; a report of a run
longer than :data:`MAX_WINDOWS` windows merges consecutive windows (its ``window_s`` says by how much).
"""

from __future__ import annotations

import math
from typing import Any

from testbed.topology.model import LinkKey

MAX_WINDOWS = 100_000
"""Windows a report holds at most (a longer run's windows are merged k at a time: window_s x k)."""


class RateMeter:
    """Carried bytes per (WAN link, window) from the flow classes' piecewise-constant rates."""

    def __init__(self, window_s: float = 1.0) -> None:
        if not window_s > 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.window_s = window_s
        self._since: dict[int, tuple[float, float, tuple[LinkKey, ...]]] = {}
        self._live = _Carried()
        self._frozen: _Carried | None = None

    @property
    def _carried(self) -> _Carried:
        return self._live if self._frozen is None else self._frozen

    @property
    def links(self) -> list[LinkKey]:
        """The directed WAN links that carried something (up to :meth:`freeze`'s instant once it was called)."""
        return sorted(self._carried.links)

    def freeze(self, now_s: float) -> None:
        """The run stopped at ``now_s``: what is reported is what was carried until then (flows still draining
        after the stop go on in the network, not in the report).  Only the first call counts."""
        if self._frozen is None:
            self.finish(now_s)
            self._frozen = self._live.copy()

    def set_rate(self, cls_id: int, links: tuple[LinkKey, ...], now_s: float, nbytes_per_s: float) -> None:
        """Flow class ``cls_id`` (whose route crosses the WAN ``links``) carries ``nbytes_per_s`` from ``now_s``."""
        self._flush(cls_id, now_s)
        self._since[cls_id] = (now_s, nbytes_per_s, links)

    def _flush(self, cls_id: int, now_s: float) -> None:
        previous = self._since.get(cls_id)
        if previous is None:
            return
        start_s, rate, links = previous
        if rate <= 0 or now_s <= start_s:
            return
        window = self.window_s
        first, last = int(start_s // window), math.ceil(now_s / window) - 1
        if last <= first:
            self._live.add(links, first, rate * (now_s - start_s))
            return
        self._live.add(links, first, rate * ((first + 1) * window - start_s))
        self._live.add(links, last, rate * (now_s - last * window))
        if last > first + 1:
            self._live.add_range(links, first + 1, last - 1, rate * window)

    def finish(self, now_s: float) -> None:
        """Account every class up to ``now_s`` (the end of the run)."""
        for cls_id, (_, rate, links) in list(self._since.items()):
            self.set_rate(cls_id, links, now_s, rate)

    def merged(self, until_s: float) -> int:
        """How many windows a report of ``[0, until_s)`` merges into one (1 up to :data:`MAX_WINDOWS` windows)."""
        return max(1, math.ceil(until_s / self.window_s / MAX_WINDOWS)) if until_s > 0 else 1

    def series_bps(self, until_s: float, links: list[LinkKey] | None = None) -> list[float]:
        """Bits per second in each reported window of ``[0, until_s)`` (``window_s`` x :meth:`merged`), summed
        over ``links`` (default: every WAN link); the last window is divided by its part inside ``until_s``."""
        if until_s <= 0:
            return []
        k = self.merged(until_s)
        width = self.window_s * k
        totals = self._carried.totals(self.links if links is None else links, math.ceil(until_s / self.window_s), k)
        return [8.0 * nbytes / min(width, until_s - i * width) for i, nbytes in enumerate(totals)]

    def summary(self, until_s: float) -> dict[str, Any]:
        """Mean and peak WAN bandwidth over ``[0, until_s)``: summed over the WAN, and per directed link."""
        width = self.window_s * self.merged(until_s)

        def stats(links: list[LinkKey] | None) -> dict[str, float | None]:
            series = self.series_bps(until_s, links)
            if not series:
                return {"mean_bps": 0.0, "peak_bps": 0.0, "peak_at_s": None}
            peak = max(range(len(series)), key=series.__getitem__)
            bits = sum(r * min(width, until_s - i * width) for i, r in enumerate(series))
            return {"mean_bps": bits / until_s, "peak_bps": series[peak], "peak_at_s": peak * width}

        return {"window_s": width, **stats(None), "by_link": {f"{a}->{b}": stats([(a, b)]) for a, b in self.links}}


class _Carried:
    """Bytes per link: single windows (the ends of a constant-rate stretch) and ranges of full windows."""

    def __init__(self) -> None:
        self.windows: dict[LinkKey, dict[int, float]] = {}
        self.ranges: dict[LinkKey, list[tuple[int, int, float]]] = {}

    @property
    def links(self) -> set[LinkKey]:
        return set(self.windows) | set(self.ranges)

    def add(self, links: tuple[LinkKey, ...], index: int, nbytes: float) -> None:
        for link in links:
            windows = self.windows.setdefault(link, {})
            windows[index] = windows.get(index, 0.0) + nbytes

    def add_range(self, links: tuple[LinkKey, ...], first: int, last: int, nbytes_each: float) -> None:
        for link in links:
            self.ranges.setdefault(link, []).append((first, last, nbytes_each))

    def copy(self) -> _Carried:
        out = _Carried()
        out.windows = {link: dict(windows) for link, windows in self.windows.items()}
        out.ranges = {link: list(ranges) for link, ranges in self.ranges.items()}
        return out

    def totals(self, links: list[LinkKey], count: int, k: int) -> list[float]:
        """Bytes in each group of ``k`` windows among the first ``count``, summed over ``links``."""
        groups = math.ceil(count / k)
        totals = [0.0] * groups
        steps = [0.0] * (groups + 1)  # ranges: one value per full group, added as a difference array
        for link in links:
            for index, nbytes in self.windows.get(link, {}).items():
                if index < count:
                    totals[index // k] += nbytes
            for first, last, each in self.ranges.get(link, []):
                last = min(last, count - 1)
                if last < first:
                    continue
                g0, g1 = first // k, last // k
                if g0 == g1:
                    totals[g0] += each * (last - first + 1)
                    continue
                totals[g0] += each * ((g0 + 1) * k - first)
                totals[g1] += each * (last - g1 * k + 1)
                steps[g0 + 1] += each * k
                steps[g1] -= each * k
        running = 0.0
        for g in range(groups):
            running += steps[g]
            totals[g] += running
        return totals
