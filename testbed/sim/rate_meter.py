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
a monitoring tool's sampling interval).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from testbed.topology.model import LinkKey


class RateMeter:
    """Carried bytes per (WAN link, window) from the flow classes' piecewise-constant rates."""

    def __init__(self, window_s: float = 1.0) -> None:
        if not window_s > 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.window_s = window_s
        self._since: dict[int, tuple[float, float, tuple[LinkKey, ...]]] = {}
        self._live: dict[LinkKey, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        self._frozen: dict[LinkKey, dict[int, float]] | None = None

    @property
    def carried(self) -> dict[LinkKey, dict[int, float]]:
        """Bytes per WAN link per window index: up to :meth:`freeze`'s instant once it was called."""
        return self._live if self._frozen is None else self._frozen

    def freeze(self, now_s: float) -> None:
        """The run stopped at ``now_s``: what is reported is what was carried until then (flows still draining
        after the stop go on in the network, not in the report).  Only the first call counts."""
        if self._frozen is None:
            self.finish(now_s)
            self._frozen = {link: dict(windows) for link, windows in self._live.items()}

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
        for index in range(first, max(first, last) + 1):
            lo, hi = max(start_s, index * window), min(now_s, (index + 1) * window)
            if hi > lo:
                for link in links:
                    self._live[link][index] += rate * (hi - lo)

    def finish(self, now_s: float) -> None:
        """Account every class up to ``now_s`` (the end of the run)."""
        for cls_id, (_, rate, links) in list(self._since.items()):
            self.set_rate(cls_id, links, now_s, rate)

    def series_bps(self, until_s: float, links: list[LinkKey] | None = None) -> list[float]:
        """Bits per second in each window of ``[0, until_s)``, summed over ``links`` (default: every WAN link);
        the last window is divided by its part inside ``until_s``."""
        count = max(1, math.ceil(until_s / self.window_s)) if until_s > 0 else 0
        totals = [0.0] * count
        for link in (self.carried if links is None else links):
            for index, nbytes in self.carried.get(link, {}).items():
                if index < count:
                    totals[index] += nbytes
        out = []
        for index, nbytes in enumerate(totals):
            width = min(self.window_s, until_s - index * self.window_s)
            out.append(8.0 * nbytes / width if width > 0 else 0.0)
        return out

    def summary(self, until_s: float) -> dict[str, Any]:
        """Mean and peak WAN bandwidth over ``[0, until_s)``: summed over the WAN, and per directed link."""
        def stats(links: list[LinkKey] | None) -> dict[str, float | None]:
            series = self.series_bps(until_s, links)
            if not series:
                return {"mean_bps": 0.0, "peak_bps": 0.0, "peak_at_s": None}
            peak = max(range(len(series)), key=series.__getitem__)
            bits = sum(r * min(self.window_s, until_s - i * self.window_s) for i, r in enumerate(series))
            return {"mean_bps": bits / until_s, "peak_bps": series[peak], "peak_at_s": peak * self.window_s}

        return {"window_s": self.window_s, **stats(None),
                "by_link": {f"{a}->{b}": stats([(a, b)]) for a, b in sorted(self.carried)}}
