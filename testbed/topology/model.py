"""WAN topologies: the YAML a researcher writes, parsed once into frozen dataclasses.

Mininet's lesson: a topology is plain data, and the running network is built
from it.  Nothing downstream reads raw YAML dicts; every quantity is converted
to SI units here (``bandwidth_bps``, ``latency_s``) and every mistake is
reported at load time as one :class:`~testbed.core.errors.ConfigError` line naming the
file, the field and the fix.  The YAML schema and :func:`~testbed.topology.schema.load_topology` live in
:mod:`testbed.topology.schema`.

Model of a path (docs/design.md §2):

* inside a datacenter: worker NIC (up) -> DC switch -> worker NIC (down).  The LAN
  ``latency`` is the one-way worker-to-worker latency, so each NIC hop carries half.
* across datacenters: NIC up -> the WAN links of the shortest path by latency
  (multi-hop allowed) -> NIC down.
* every direction of every link is its own capacity (full duplex); a WAN link may be
  asymmetric (``bandwidth: [a_to_b, b_to_a]``) and so may a LAN NIC
  (``bandwidth: {up: 5Mbps, down: 20Mbps}``, how edge devices are modelled).

Node ids are ``<datacenter>/w<i>`` for workers; a datacenter's workers may be a
:class:`~testbed.topology.population.Population` (``workers: {count: N}``),
built on demand.  Algorithms may also place service
nodes (``us-east/server``, ``eu-west/ps0``): any ``<datacenter>/<name>`` is a node
with the datacenter's LAN NIC and its ``device.speed``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import networkx as nx

from testbed.core.errors import ConfigError
from testbed.topology.background import BackgroundSource
from testbed.topology.dynamics import STATIC, NodeDynamics
from testbed.topology.population import NodeIds, Population
from testbed.topology.worker import _WORKER_ID, Worker, join_node_id, split_node_id, worker_id, worker_index

__all__ = ["Datacenter", "LanParams", "LinkInfo", "LinkKey", "ProfileStep", "Route", "Topology", "WanLink", "Worker",
           "check_unknown_node", "join_node_id", "split_node_id", "worker_id", "worker_index"]

LinkKey = tuple[str, str]
"""A directed link: (from, to), each a node id or a datacenter name (the DC switch)."""



@dataclass(frozen=True)
class LanParams:
    """A datacenter's LAN: every node's NIC to the DC switch."""

    up_bps: float
    down_bps: float
    latency_s: float
    jitter_s: float = 0.0
    egress_usd_per_gb: float = 0.0


@dataclass(frozen=True)
class Datacenter:
    """A region: its workers, LAN, default device speed and (optional) map location."""

    name: str
    workers: tuple[Worker, ...] | Population
    lan: LanParams
    speed: float = 1.0
    location: tuple[float, float] | None = None
    dynamics: NodeDynamics = STATIC
    """The datacenter's default: its service nodes' behaviour over time, and its workers' fallback."""

    @property
    def population(self) -> Population | None:
        """The datacenter's client population, or None when its workers are listed."""
        return self.workers if isinstance(self.workers, Population) else None

    @property
    def speeds(self) -> list[float]:
        """The distinct worker speeds, sorted."""
        pop = self.population
        return [pop.speed] if pop is not None else sorted({w.speed for w in self.workers})


@dataclass(frozen=True)
class ProfileStep:
    """From ``at_s`` on, a link has these capacities/latency (None = unchanged)."""

    at_s: float
    bandwidth_ab_bps: float | None = None
    bandwidth_ba_bps: float | None = None
    latency_s: float | None = None


@dataclass(frozen=True)
class WanLink:
    """A WAN link between datacenters ``a`` and ``b``, full duplex."""

    a: str
    b: str
    bandwidth_ab_bps: float
    bandwidth_ba_bps: float
    latency_s: float
    jitter_s: float = 0.0
    loss: float = 0.0
    egress_usd_per_gb: float = 0.0
    profile: tuple[ProfileStep, ...] = ()
    outages: tuple[tuple[float, float], ...] = ()
    background: tuple[BackgroundSource, ...] = ()
    """Cross-traffic the link carries besides the run's (testbed.topology.background)."""

    def bandwidth_bps(self, src: str) -> float:
        """Nominal capacity in the direction leaving ``src``."""
        return self.bandwidth_ab_bps if src == self.a else self.bandwidth_ba_bps


@dataclass(frozen=True)
class LinkInfo:
    """One directed link as :meth:`Topology.link` describes it: its kind and nominal parameters.

    ``kind`` is ``nic_up`` (node -> its DC switch), ``nic_down`` (DC switch -> node) or ``wan``.
    A NIC carries half its LAN's one-way latency and jitter and loses nothing.
    """

    key: LinkKey
    kind: str
    bandwidth_bps: float
    latency_s: float
    jitter_s: float
    loss: float
    datacenter: str | None  # NIC links: the datacenter whose LAN it is; None for WAN links
    wan: WanLink | None  # WAN links: the (undirected) link; None for NIC links

    @property
    def scope(self) -> str:
        """``lan`` for a NIC link, ``wan`` for a WAN link."""
        return "wan" if self.wan is not None else "lan"

    @property
    def latency_varies(self) -> bool:
        """Whether a profile step changes this link's latency (NIC links never vary)."""
        return self.wan is not None and any(step.latency_s is not None for step in self.wan.profile)


@dataclass(frozen=True)
class Route:
    """A path between two nodes: the directed links crossed and their one-way latency."""

    src: str
    dst: str
    links: tuple[LinkKey, ...]
    latency_s: float
    wan_hops: tuple[LinkKey, ...]

    @property
    def scope(self) -> str:
        """``wan`` if any WAN link is crossed, else ``lan``."""
        return "wan" if self.wan_hops else "lan"

    @property
    def hops(self) -> tuple[str, ...]:
        """The node/switch sequence, e.g. ``(us-east/w0, us-east, eu-west, eu-west/w1)``."""
        if not self.links:
            return (self.src,)
        return (self.links[0][0], *(b for _, b in self.links))


@dataclass(frozen=True)
class Topology:
    """A parsed, validated topology. Build one with :func:`load_topology`."""

    name: str
    datacenters: tuple[Datacenter, ...]
    links: tuple[WanLink, ...]
    source: str = "<dict>"
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False, hash=False)

    # -- lookups ---------------------------------------------------------------------------
    @cached_property
    def _dc_by_name(self) -> dict[str, Datacenter]:
        return {dc.name: dc for dc in self.datacenters}

    @cached_property
    def _link_by_pair(self) -> dict[frozenset[str], WanLink]:
        return {frozenset((link.a, link.b)): link for link in self.links}

    @cached_property
    def has_population(self) -> bool:
        """Whether some datacenter holds a client population (``workers: {count: N}``)."""
        return any(dc.population is not None for dc in self.datacenters)

    @property
    def worker_groups(self) -> tuple[tuple[int, int], ...]:
        """The workers' datacenters as runs ``((datacenter index, workers), ...)`` in :attr:`nodes` order (what
        ``by_datacenter`` partitions by): one pair per datacenter, however many clients it holds."""
        return tuple((i, len(dc.workers)) for i, dc in enumerate(self.datacenters) if len(dc.workers))

    @property
    def nodes(self) -> Sequence[str]:
        """Every worker's node id, datacenter by datacenter (a tuple; a lazy :class:`NodeIds` with populations)."""
        if self.has_population:
            return self._node_ids
        return tuple(w.node_id for dc in self.datacenters for w in dc.workers)

    @cached_property
    def _node_ids(self) -> NodeIds:
        return NodeIds([(dc.name, len(dc.workers)) for dc in self.datacenters])

    def index_of_worker(self, node_id: str) -> int:
        """The index of worker ``node_id`` among every worker (its data shard); ValueError for a service node."""
        return self._node_ids.index(node_id)

    def is_client(self, node_id: str) -> bool:
        """Whether ``node_id`` is a client of a population (built on demand, never cached per node)."""
        dc_name, local = split_node_id(node_id)
        dc = self._dc_by_name.get(dc_name)
        return dc is not None and dc.population is not None and _WORKER_ID.match(local) is not None

    @property
    def workers(self) -> Sequence[Worker]:
        """Every worker, datacenter by datacenter (walks every client of a population: avoid there)."""
        return tuple(w for dc in self.datacenters for w in dc.workers)

    @cached_property
    def any_availability(self) -> bool:
        """Whether some worker has an ``availability`` (down spells or a crash); else every worker is always up."""
        return any(dc.population.dynamics.availability is not None if dc.population is not None
                   else any(w.dynamics.availability is not None for w in dc.workers) for dc in self.datacenters)

    def datacenter(self, name: str) -> Datacenter:
        """The datacenter called ``name`` (KeyError if there is none)."""
        return self._dc_by_name[name]

    def has_datacenter(self, name: str) -> bool:
        """Whether a datacenter of that name exists."""
        return name in self._dc_by_name

    def wan_link(self, a: str, b: str) -> WanLink:
        """The WAN link between datacenters ``a`` and ``b`` (either order)."""
        return self._link_by_pair[frozenset((a, b))]

    def datacenter_of(self, node_id: str) -> str:
        """``'us-east/w3'`` -> ``'us-east'``; checks that the datacenter (and worker) exist."""
        dc_name, local = split_node_id(node_id)
        if not local or dc_name not in self._dc_by_name:
            raise KeyError(f"unknown node {node_id!r}: ids are '<datacenter>/<name>'")
        index = worker_index(node_id)
        if index is not None and index >= len(self._dc_by_name[dc_name].workers):
            raise KeyError(f"unknown worker {node_id!r}: {dc_name} has "
                           f"{len(self._dc_by_name[dc_name].workers)} workers")
        return dc_name

    def speed_of(self, node_id: str) -> float:
        """Relative compute speed of a node (workers: their own; service nodes: the DC's)."""
        dc = self._dc_by_name[self.datacenter_of(node_id)]
        index = worker_index(node_id)
        if index is not None and dc.population is not None:
            return dc.population.speed
        return dc.speed if index is None else dc.workers[index].speed

    def dynamics_of(self, node_id: str) -> NodeDynamics:
        """A node's availability, speed profile and slowdown (workers: their own; service nodes: the DC's)."""
        dc = self._dc_by_name[self.datacenter_of(node_id)]
        index = worker_index(node_id)
        if index is not None and dc.population is not None:
            return dc.population.dynamics
        return dc.dynamics if index is None else dc.workers[index].dynamics

    @property
    def static(self) -> bool:
        """True when no node's availability, speed or slowdown varies (the engine's original path)."""
        return all(dc.dynamics.static and (dc.population.dynamics.static if dc.population is not None
                                           else all(w.dynamics.static for w in dc.workers))
                   for dc in self.datacenters)

    # -- links and routes --------------------------------------------------------------------
    def link(self, key: LinkKey) -> LinkInfo:
        """What directed link ``key`` is and its nominal parameters (cached: the network asks per flow).

        The one place that tells a NIC link from a WAN link: a node id holds a ``/``, a
        datacenter (switch) name does not.  KeyError for a link the topology does not have.
        """
        info = self._link_info.get(key)
        if info is None:
            info = self._describe_link(key)
            if not (self.has_population and any("/" in end and self.is_client(end) for end in key)):
                self._link_info[key] = info  # a population client's NIC is described anew each time
        return info

    @cached_property
    def _link_info(self) -> dict[LinkKey, LinkInfo]:
        return {}

    def _describe_link(self, key: LinkKey) -> LinkInfo:
        a, b = key
        if "/" in a or "/" in b:  # a NIC: node -> its DC switch (up) or DC switch -> node (down)
            up = "/" in a
            dc = b if up else a
            lan = self._dc_by_name[dc].lan
            return LinkInfo(key, "nic_up" if up else "nic_down", lan.up_bps if up else lan.down_bps,
                            lan.latency_s / 2, lan.jitter_s / 2, 0.0, dc, None)
        wan = self.wan_link(a, b)
        return LinkInfo(key, "wan", wan.bandwidth_bps(a), wan.latency_s, wan.jitter_s, wan.loss, None, wan)

    def link_capacity_bps(self, key: LinkKey) -> float:
        """Nominal capacity of a directed link (NIC or WAN)."""
        return self.link(key).bandwidth_bps

    def link_latency_s(self, key: LinkKey) -> float:
        """Nominal one-way latency of a directed link."""
        return self.link(key).latency_s

    @cached_property
    def _dc_paths(self) -> dict[str, dict[str, list[str]]]:
        graph = nx.Graph()
        graph.add_nodes_from(self._dc_by_name)
        for link in self.links:
            graph.add_edge(link.a, link.b, weight=link.latency_s)
        return dict(nx.all_pairs_dijkstra_path(graph, weight="weight"))

    def dc_path(self, src_dc: str, dst_dc: str) -> list[str]:
        """Datacenters on the shortest-latency path, ends included."""
        return self._dc_paths[src_dc][dst_dc]

    def route(self, src: str, dst: str) -> Route:
        """The route from node ``src`` to node ``dst`` (static routing; cached, except that a population
        client's routes are built from its datacenter's, so memory does not grow with the clients reached)."""
        key = f"{src}|{dst}"
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        src_dc, dst_dc = self.datacenter_of(src), self.datacenter_of(dst)
        if src == dst:
            route = Route(src, dst, (), 0.0, ())
        else:
            wan, wan_latency_s = self._wan_route(src_dc, dst_dc)
            links = ((src, src_dc), *wan, (dst_dc, dst))
            up_s = self._dc_by_name[src_dc].lan.latency_s / 2  # a NIC carries half its LAN's latency
            latency = sum((up_s, *wan_latency_s, self._dc_by_name[dst_dc].lan.latency_s / 2))  # in route order
            route = Route(src, dst, links, latency, wan)
        if not (self.has_population and (self.is_client(src) or self.is_client(dst))):
            self._cache[key] = route
        return route

    def _wan_route(self, src_dc: str, dst_dc: str) -> tuple[tuple[LinkKey, ...], tuple[float, ...]]:
        """The WAN hops between two datacenters and each hop's latency (cached: the part clients share)."""
        key = f"{src_dc}>{dst_dc}"
        cached = self._cache.get(key)
        if cached is None:
            wan = tuple(itertools.pairwise(self.dc_path(src_dc, dst_dc)))
            cached = self._cache[key] = (wan, tuple(self.link_latency_s(hop) for hop in wan))
        return cached

    def summary(self) -> str:
        """A few human lines: datacenters, workers, links."""
        from testbed.core.units import format_bandwidth, format_seconds

        lines = [f"topology {self.name!r} ({self.source}): {len(self.datacenters)} datacenters, "
                 f"{len(self.nodes)} workers, {len(self.links)} WAN links"]
        for dc in self.datacenters:
            speeds = dc.speeds
            kind = "clients" if dc.population is not None else "workers"
            lines.append(f"  {dc.name}: {len(dc.workers)} {kind} (speed {', '.join(f'{s:g}' for s in speeds)}), "
                         f"LAN {format_bandwidth(dc.lan.up_bps)} up / {format_bandwidth(dc.lan.down_bps)} down, "
                         f"{format_seconds(dc.lan.latency_s)}")
        for link in self.links:
            bw = format_bandwidth(link.bandwidth_ab_bps)
            if link.bandwidth_ba_bps != link.bandwidth_ab_bps:
                bw += f" / {format_bandwidth(link.bandwidth_ba_bps)}"
            extras = []
            if link.egress_usd_per_gb:
                extras.append(f"${link.egress_usd_per_gb:g}/GB")
            if link.outages:
                extras.append(f"{len(link.outages)} outage(s)")
            if link.profile:
                extras.append(f"{len(link.profile)} profile step(s)")
            lines.append(f"  {link.a} <-> {link.b}: {bw}, {format_seconds(link.latency_s)}"
                         + (f" ({', '.join(extras)})" if extras else ""))
        return "\n".join(lines)


def check_unknown_node(topology: Topology, node_id: str, where: str, field_name: str) -> None:
    """Raise a ConfigError if ``node_id`` is not a node of ``topology``."""
    try:
        topology.datacenter_of(node_id)
    except KeyError as err:
        raise ConfigError(where, field_name, str(err.args[0]),
                          f"use one of the datacenters {[dc.name for dc in topology.datacenters]}") from None
