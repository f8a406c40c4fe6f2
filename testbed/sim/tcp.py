"""Optional TCP realism for the fluid network model (``tcp: true``; off by default).

The fluid model lets a single flow fill a 10 Gbit/s link across an ocean; real TCP
does not.  Three effects, each a closed form so the model stays exact and cheap:

* **window cap**: a flow moves at most ``window / RTT`` (the receive window, or the
  autotuned buffer, bounds the bytes in flight);
* **Mathis cap** under loss ``p``: ``MSS / (RTT * sqrt(2p/3))`` (Mathis et al. 1997);
* **slow start**: the congestion window starts at ``initial_window_segments * MSS``
  and doubles every RTT until it reaches the target window
  ``min(window, bottleneck capacity * RTT)``.  A flow that ends inside slow start takes
  ``(rounds - 1) * RTT`` plus its last round's bytes through the fluid model; a longer
  flow enters the fluid model after ``rounds * RTT`` with the slow-start bytes already
  sent.  (Approximation: slow-start bytes do not take capacity from other flows.)

Calibrating these against real links is the job of ``benchmarks/fidelity.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TcpModel:
    """TCP parameters; the defaults are Linux's (MSS 1460 B, IW 10, ~4 MiB max window)."""

    window_nbytes: float = 4 * 2**20
    mss_nbytes: float = 1460.0
    initial_window_segments: int = 10

    def rate_cap_bps(self, rtt_s: float, loss: float) -> float:
        """Per-flow rate cap in bits/s from the window and (if ``loss`` > 0) Mathis."""
        if rtt_s <= 0:
            return math.inf
        cap = self.window_nbytes * 8 / rtt_s
        if loss > 0:
            cap = min(cap, self.mss_nbytes * 8 / (rtt_s * math.sqrt(2 * loss / 3)))
        return cap

    def slow_start(self, nbytes: float, rtt_s: float, bottleneck_bps: float) -> tuple[float, float]:
        """``(delay_s, nbytes_left)``: time spent in slow start and bytes left for the fluid model."""
        if rtt_s <= 0 or nbytes <= 0:
            return 0.0, nbytes
        initial = self.initial_window_segments * self.mss_nbytes
        target = min(self.window_nbytes, bottleneck_bps / 8 * rtt_s)
        rounds_to_target = max(0, math.ceil(math.log2(max(target / initial, 1.0))))
        sent_in_slow_start = initial * (2**rounds_to_target - 1)
        if nbytes <= sent_in_slow_start:
            rounds = math.ceil(math.log2(nbytes / initial + 1))
            before_last = initial * (2 ** (rounds - 1) - 1)
            return (rounds - 1) * rtt_s, nbytes - before_last
        return rounds_to_target * rtt_s, nbytes - sent_in_slow_start
