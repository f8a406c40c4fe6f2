"""One flow class of the network model: every active flow on one route, and a finished flow's times.

Why a module of its own: testbed.sim.network is the event logic; this is the state it keeps per route --
flows on the same route always get the same max-min rate, so they share one rate, one lazily advanced
"bytes served per flow" counter and a heap of per-flow finish thresholds (the network's docstring says
why) -- which testbed.sim.cross_traffic also builds for the background flows it adds.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from testbed.sim.rate_meter import RateMeter
from testbed.sim.tcp import TcpModel
from testbed.topology.model import LinkKey, Topology


class Completion(NamedTuple):
    """A flow whose last byte has left: when, and when it arrives at the destination.

    A named tuple, not a frozen dataclass: one is made per flow, and a tuple is made in half the time.
    """

    flow_id: int
    drain_end_s: float
    arrival_s: float


class FlowClass:
    """All active flows on one route: they share one rate and one lazily advanced service counter.

    Bytes served to every flow of the class by time t: ``served_nbytes + rate * (t - since_s)``.
    ``version`` changes whenever the rate or the first flow to finish changes, which retires the
    class's entries in the network's event heaps.
    """

    __slots__ = ("count", "heap", "jitters_s", "latency_floor_s", "latency_s", "links", "meter",
                 "path_capacity_bps", "rate_nbytes_per_s", "served_nbytes", "since_s", "static_latency_s",
                 "version", "wan_links")

    def __init__(self, links: tuple[LinkKey, ...], latency_s: float) -> None:
        self.links = links
        self.latency_s = latency_s  # nominal path latency (TCP's RTT)
        self.static_latency_s: float | None = None  # sum of link latencies if no profile changes them
        self.jitters_s: list[float] = []  # jitter amplitude of each jittery link, in route order
        self.latency_floor_s = 0.0  # jitter never makes the latency negative
        self.path_capacity_bps = math.inf
        self.count = 0
        self.served_nbytes = 0.0
        self.since_s = 0.0
        self.rate_nbytes_per_s = 0.0
        self.heap: list[tuple[float, int, float]] = []  # (served threshold at which it ends, flow id, latency_s)
        self.version = 0
        self.wan_links: tuple[LinkKey, ...] = ()  # what the rate meter records
        self.meter: RateMeter | None = None  # which meter records them (None: none)

    def served_at(self, t_s: float) -> float:
        return self.served_nbytes + self.rate_nbytes_per_s * (t_s - self.since_s) if t_s > self.since_s \
            else self.served_nbytes


def class_for_route(topology: Topology, src: str, dst: str, tcp: TcpModel | None,
                    meter: RateMeter | None) -> tuple[FlowClass, float]:
    """The (idle) class of the route ``src`` -> ``dst`` and its per-flow cap in bytes/s (TCP's; inf without)."""
    route = topology.route(src, dst)
    cls = FlowClass(route.links, route.latency_s)
    infos = [topology.link(k) for k in route.links]
    nominal_latency_s = [info.latency_s for info in infos]
    if not any(info.latency_varies for info in infos):
        cls.static_latency_s = sum(nominal_latency_s)
    cls.jitters_s = [info.jitter_s for info in infos if info.jitter_s > 0]
    cls.wan_links = tuple(k for k, info in zip(route.links, infos, strict=True) if info.kind == "wan")
    cls.meter = meter if cls.wan_links else None
    cls.latency_floor_s = -sum(nominal_latency_s)
    cap = math.inf
    if route.links:
        cls.path_capacity_bps = float(min(info.bandwidth_bps for info in infos))
        if tcp is not None:
            loss = 1.0 - math.prod(1.0 - info.loss for info in infos)
            cap = tcp.rate_cap_bps(2 * route.latency_s, loss) / 8.0
    return cls, cap
