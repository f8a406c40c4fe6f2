"""The fidelity benchmark's pure half: which scenarios, what the model predicts, how wrong it is.

No root, no namespaces: the scenario grid, the one- or two-link topology each scenario
is modelled by, the model's prediction for every flow (fluid and ``tcp`` modes, raw or
with the link bandwidth scaled by the goodput factor, as SimGrid calibrates its
bandwidth factor) and the error statistics.  Tested in tests/test_fidelity_helpers.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from testbed.sim.network import simulate_flows
from testbed.sim.tcp import TcpModel
from testbed.topology.model import Topology
from testbed.topology.schema import load_topology

KB, MB = 1e3, 1e6
SIZES_NBYTES = (10 * KB, 1 * MB, 10 * MB, 100 * MB)
RTTS_S = (0.001, 0.040, 0.150)
RATES_BPS = (10e6, 100e6, 1e9)
SHARED_FLOWS = (2, 4, 8)
PARTIAL_SECOND_LINK_SHARE = 0.4  # link 2 (b -> c) runs at 40 % of link 1: the a -> c flow is held there
FAST_LAN = {"bandwidth": "1Tbps", "latency": 0}
HEADER_NBYTES = 66  # Ethernet 14 + IPv4 20 + TCP 20 + timestamps 12 per segment, counted by tbf
MSS_NBYTES = 1448  # 1500 MTU - 20 - 20 - 12


@dataclass(frozen=True)
class Scenario:
    """One cell: ``n_flows`` flows of ``size_nbytes`` from a, started together.

    ``family`` is single / shared / partial.  In ``partial`` flow 0 goes a -> c over both
    links and flow 1 a -> b over link 1 only; otherwise every flow goes a -> b.
    """

    family: str
    rtt_s: float
    rate_bps: float
    size_nbytes: float
    n_flows: int = 1

    @property
    def rate2_bps(self) -> float | None:
        return self.rate_bps * PARTIAL_SECOND_LINK_SHARE if self.family == "partial" else None

    @property
    def group(self) -> str:
        """The reporting family: single flows split by size class, shared flows by count."""
        if self.family == "single":
            return "single <=1MB" if self.size_nbytes <= MB else "single >=10MB"
        if self.family == "shared":
            return f"shared x{self.n_flows}"
        return "partial path"

    def destinations(self) -> list[str]:
        """Per flow: ``"c"`` (both links) or ``"b"`` (link 1 only)."""
        if self.family == "partial":
            return ["c", "b"]
        return ["b"] * self.n_flows

    def label(self) -> str:
        return (f"{self.family} n={self.n_flows} {self.size_nbytes / MB:g}MB rtt={self.rtt_s * 1e3:g}ms "
                f"rate={self.rate_bps / 1e6:g}Mbps")

    def fluid_duration_s(self) -> float:
        """A lower bound on the wall time of one run: all bytes through link 1, plus an RTT."""
        return self.n_flows * self.size_nbytes * 8 / self.rate_bps + self.rtt_s


def build_grid(full: bool, max_rate_bps: float = math.inf) -> list[Scenario]:
    """The scenario grid; the default cuts what takes longest, ``full`` is the issue's whole grid.

    Rates above ``max_rate_bps`` (what the delay forwarder carries faithfully) are left out.
    """
    rates = [r for r in RATES_BPS if r <= max_rate_bps]
    cells: list[Scenario] = []
    for rtt in RTTS_S:
        for rate in rates:
            for size in SIZES_NBYTES:
                if full or size * 8 / rate <= 10.0:  # default: no single flow longer than 10 s
                    cells.append(Scenario("single", rtt, rate, size))
            for n in SHARED_FLOWS:
                sizes = (1 * MB, 10 * MB) if full else (min(10 * MB, rate / 8 * 0.8),)  # default: ~0.8 s per flow
                cells += [Scenario("shared", rtt, rate, s, n) for s in sizes]
            if full or rate <= 100e6:
                size = 10 * MB if full else min(10 * MB, rate / 8 * 0.8)
                cells.append(Scenario("partial", rtt, rate, size, 2))
    return cells


def topology(s: Scenario, bandwidth_factor: float = 1.0) -> Topology:
    """One WAN link a-b (the tbf rate, one-way delay = RTT/2); for ``partial`` a chain a-b-c."""
    links = [{"between": ["a", "b"], "bandwidth": f"{s.rate_bps * bandwidth_factor!r}bps",
              "latency": f"{s.rtt_s / 2!r}s"}]
    dcs: dict = {"a": {}, "b": {}}
    if s.family == "partial":
        dcs["c"] = {}
        links.append({"between": ["b", "c"], "bandwidth": f"{s.rate2_bps * bandwidth_factor!r}bps", "latency": 0})
    return load_topology({"lan": FAST_LAN, "datacenters": dcs, "links": links})


def predict(s: Scenario, tcp: bool, bandwidth_factor: float = 1.0) -> list[float]:
    """The network model's completion time of each flow of ``s``, seconds after the common start."""
    flows = [("a/w0", f"{dst}/w0", s.size_nbytes, 0.0) for dst in s.destinations()]
    return simulate_flows(topology(s, bandwidth_factor), flows, tcp=TcpModel() if tcp else None)


def goodput_factor(mss_nbytes: float = MSS_NBYTES, header_nbytes: float = HEADER_NBYTES) -> float:
    """Share of a rate-limited link's bytes that are TCP payload (tbf counts frames)."""
    return mss_nbytes / (mss_nbytes + header_nbytes)


def relative_errors(predicted_s: Sequence[float], measured_s: Sequence[float]) -> np.ndarray:
    """Signed relative error (predicted - measured) / measured of each flow."""
    p, m = np.asarray(predicted_s, dtype=float), np.asarray(measured_s, dtype=float)
    if p.shape != m.shape or (m <= 0).any():
        raise ValueError("need as many predictions as measurements, all measured times > 0")
    return (p - m) / m


def summarize(errors: Iterable[float]) -> dict[str, float]:
    """Median and 95th percentile of |error|, the median signed error (bias) and the sample count."""
    e = np.asarray(list(errors), dtype=float)
    if e.size == 0:
        return {"n": 0, "median_abs": math.nan, "p95_abs": math.nan, "median_signed": math.nan}
    a = np.abs(e)
    return {"n": int(e.size), "median_abs": float(np.median(a)), "p95_abs": float(np.percentile(a, 95)),
            "median_signed": float(np.median(e))}
