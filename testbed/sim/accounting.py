"""The traffic accountant: one record per message, per-link totals, egress dollars.

Every comparison the testbed publishes (WAN bytes, dollars, the byte formulas of
docs/design.md §4) is computed from this log, so it records exactly what was sent:
``payload_nbytes`` (the arrays' bytes, what the formulas predict), ``header_nbytes``
(a fixed per-message header) and their sum ``nbytes`` (what the network carried).

A message whose flow a crash ended (testbed.sim.engine) is marked ``lost``, never arrives, and
keeps only the bytes it had moved (header first, then payload), so totals and egress count what
really crossed the network.

Egress is billed at the sender, per GB (10^9 B) of ``nbytes``: every WAN hop charges
its link's ``egress_usd_per_gb`` (a relay through a third region pays twice, as on a
cloud bill); a LAN message charges the datacenter's LAN price (0 unless set, e.g.
$0.01/GB across zones).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from testbed.core.fileio import atomic_write
from testbed.topology.model import LinkKey, Route, Topology

RECORD_COLUMNS = (
    "run_id", "seq", "kind", "src", "dst", "src_dc", "dst_dc", "scope", "nbytes", "payload_nbytes",
    "header_nbytes", "t_send_s", "t_arrive_s", "path", "egress_usd", "lost",
)
LINK_COLUMNS = (
    "link", "a", "b", "scope", "bandwidth_ab_bps", "bandwidth_ba_bps", "bytes_ab", "bytes_ba",
    "busy_s_ab", "busy_s_ba", "utilisation_ab", "utilisation_ba",
)


class SentMessage(NamedTuple):
    """One message as it was sent: every column of :data:`RECORD_COLUMNS` but ``t_arrive_s`` and ``lost``.

    The arrival time (or the loss) comes later (a tuple cannot change), so the accountant keeps it in
    a list beside the records and :meth:`TrafficAccountant.frame` puts it in its column.
    """

    run_id: str
    seq: int
    kind: str
    src: str
    dst: str
    src_dc: str
    dst_dc: str
    scope: str
    nbytes: int
    payload_nbytes: int
    header_nbytes: int
    t_send_s: float
    path: str
    egress_usd: float


assert tuple(c for c in RECORD_COLUMNS if c not in ("t_arrive_s", "lost")) == SentMessage._fields


class _RouteFacts(NamedTuple):
    """What every message on one route shares, worked out on its first message."""

    route: Route
    src_dc: str
    dst_dc: str
    path: str
    egress_usd_per_gb: float


class TrafficAccountant:
    """Collects message records and running totals while a run is in progress."""

    def __init__(self, topology: Topology, run_id: str = "run") -> None:
        self.topology = topology
        self.run_id = run_id
        self._sent: list[SentMessage] = []
        self._t_arrive_s: list[float] = []
        self._lost: set[int] = set()
        self._facts: dict[tuple[str, str], _RouteFacts] = {}
        self._link_nbytes: dict[LinkKey, int] = defaultdict(int)
        self.total_nbytes = 0
        self.wan_nbytes = 0
        self.lan_nbytes = 0
        self.egress_usd = 0.0

    def record_send(self, kind: str, src: str, dst: str, payload_nbytes: int, header_nbytes: int,
                    t_send_s: float, route: Route) -> int:
        """Log a message as it is sent; returns its sequence number."""
        nbytes = payload_nbytes + header_nbytes
        facts = self._facts.get((src, dst))
        if facts is None or facts.route is not route:
            facts = self._route_facts(src, dst, route)
            if not (self.topology.has_population and (self.topology.is_client(src) or self.topology.is_client(dst))):
                self._facts[(src, dst)] = facts  # a population client's are worked out per message: none kept
        egress = nbytes / 1e9 * facts.egress_usd_per_gb if route.links else 0.0
        seq = len(self._sent)
        self._sent.append(SentMessage(self.run_id, seq, kind, src, dst, facts.src_dc, facts.dst_dc, route.scope,
                                      nbytes, payload_nbytes, header_nbytes, t_send_s, facts.path, egress))
        self._t_arrive_s.append(math.nan)
        for link in route.links:
            self._link_nbytes[link] += nbytes
        self.total_nbytes += nbytes
        if route.scope == "wan":
            self.wan_nbytes += nbytes
        else:
            self.lan_nbytes += nbytes
        self.egress_usd += egress
        return seq

    def record_arrival(self, seq: int, t_arrive_s: float) -> None:
        """Fill in the arrival time of message ``seq``."""
        self._t_arrive_s[seq] = t_arrive_s

    def record_lost(self, seq: int, unsent_nbytes: float) -> None:
        """Message ``seq`` will never arrive (a crash ended it): mark it lost, and take the
        ``unsent_nbytes`` it had not moved off its record, the totals and the egress bill."""
        sent = self._sent[seq]
        self._lost.add(seq)
        unsent = min(math.ceil(unsent_nbytes - 1e-6), sent.nbytes) if unsent_nbytes > 0 else 0
        if not unsent:
            return
        moved = sent.nbytes - unsent
        header = min(sent.header_nbytes, moved)
        egress = sent.egress_usd * moved / sent.nbytes
        self._sent[seq] = sent._replace(nbytes=moved, header_nbytes=header, payload_nbytes=moved - header,
                                        egress_usd=egress)
        for link in self._facts[(sent.src, sent.dst)].route.links:
            self._link_nbytes[link] -= unsent
        self.total_nbytes -= unsent
        if sent.scope == "wan":
            self.wan_nbytes -= unsent
        else:
            self.lan_nbytes -= unsent
        self.egress_usd -= sent.egress_usd - egress

    def _route_facts(self, src: str, dst: str, route: Route) -> _RouteFacts:
        """Datacenters, path text and egress price per GB of a route (each WAN hop bills; else the LAN)."""
        topology = self.topology
        src_dc, dst_dc = topology.datacenter_of(src), topology.datacenter_of(dst)
        if route.wan_hops:
            usd_per_gb = sum(topology.wan_link(a, b).egress_usd_per_gb for a, b in route.wan_hops)
        else:
            usd_per_gb = topology.datacenter(src_dc).lan.egress_usd_per_gb
        return _RouteFacts(route, src_dc, dst_dc, " > ".join(route.hops), usd_per_gb)

    # -- views -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._sent)

    def frame(self) -> pd.DataFrame:
        """All messages as a DataFrame with :data:`RECORD_COLUMNS`."""
        frame = pd.DataFrame(self._sent, columns=list(SentMessage._fields))
        # an empty log keeps the untyped column pandas gives every column of an empty frame
        frame.insert(RECORD_COLUMNS.index("t_arrive_s"), "t_arrive_s",
                     self._t_arrive_s if self._sent else pd.Series(dtype=object))
        frame["lost"] = [seq in self._lost for seq in range(len(self._sent))] if self._sent else pd.Series(dtype=bool)
        for column in ("seq", "nbytes", "payload_nbytes", "header_nbytes"):
            frame[column] = frame[column].astype("int64")
        return frame

    def bytes_by_kind(self, scope: str | None = None, payload_only: bool = True) -> dict[str, int]:
        """Bytes per message kind (payload only by default), optionally for one scope."""
        totals: dict[str, int] = defaultdict(int)
        for sent in self._sent:
            if scope is None or sent.scope == scope:
                totals[str(sent.kind)] += int(sent.payload_nbytes if payload_only else sent.nbytes)
        return dict(sorted(totals.items()))

    def link_frame(self, busy_s: dict[LinkKey, float], duration_s: float) -> pd.DataFrame:
        """Per undirected link: bytes, busy seconds and utilisation in each direction.

        Utilisation = bits carried / (nominal bandwidth x run duration).  Every WAN
        link is listed; LAN NIC links only if they carried something.
        """
        topology = self.topology
        pairs: dict[tuple[str, str], None] = {(link.a, link.b): None for link in topology.links}
        for a, b in list(self._link_nbytes) + list(busy_s):  # a NIC is listed node first
            keep = topology.link((a, b)).kind == "nic_up" or (b, a) not in pairs
            pairs.setdefault((a, b) if keep else (b, a), None)
        rows = []
        for a, b in pairs:
            forward, backward = topology.link((a, b)), topology.link((b, a))
            scope, bw_ab, bw_ba = forward.scope, forward.bandwidth_bps, backward.bandwidth_bps
            bytes_ab, bytes_ba = self._link_nbytes.get((a, b), 0), self._link_nbytes.get((b, a), 0)
            rows.append([
                f"{a}<->{b}", a, b, scope, bw_ab, bw_ba, bytes_ab, bytes_ba,
                busy_s.get((a, b), 0.0), busy_s.get((b, a), 0.0),
                _utilisation(bytes_ab, bw_ab, duration_s), _utilisation(bytes_ba, bw_ba, duration_s),
            ])
        return pd.DataFrame(rows, columns=list(LINK_COLUMNS))

    def write(self, run_dir: str | Path, busy_s: dict[LinkKey, float], duration_s: float) -> None:
        """Write ``traffic.parquet``, ``traffic.csv`` and ``links.csv`` atomically."""
        run_dir = Path(run_dir)
        frame = self.frame()
        atomic_write(run_dir / "traffic.parquet", lambda p: frame.to_parquet(p, index=False))
        atomic_write(run_dir / "traffic.csv", lambda p: frame.to_csv(p, index=False))
        links = self.link_frame(busy_s, duration_s)
        atomic_write(run_dir / "links.csv", lambda p: links.to_csv(p, index=False))


def _utilisation(nbytes: int, bandwidth_bps: float, duration_s: float) -> float:
    if duration_s <= 0 or bandwidth_bps <= 0:
        return 0.0
    return nbytes * 8 / (bandwidth_bps * duration_s)
