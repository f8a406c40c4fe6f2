"""Topology YAML -> :class:`~testbed.topology.model.Topology`, rejecting bad input with one line.

Kept apart from the data model so that the rules a user can break (unknown keys,
units, negative bandwidth, dangling links, disconnected regions) read top to bottom
in one place.  Every error is a :class:`ConfigError` naming the file, the field
(``links[2].bandwidth``) and the fix.  Names are strings: a datacenter ``no`` (Norway), which YAML 1.1
reads as ``False``, is refused with "put the name in quotes" (testbed.core.fields.checked_name).

Schema (docs/design.md §3)::

    name: three-continents
    lan: {bandwidth: 10Gbps, latency: 0.1ms}           # default for every DC
    datacenters:
      us-east: {workers: 4, device: {speed: 1.0}, location: [39.0, -77.5]}
      edge: {workers: [{availability: {down: [[100s, 200s]], crash_at: 900s}}],   # testbed.topology.dynamics_schema
             device: {speed_profile: [[0s, 1.0], [600s, 0.5]], slowdown: {p: 0.1, factor: 5}}}
      ap-south: {workers: [{speed: 1.0}, {speed: 0.5}],
                 lan: {bandwidth: {up: 5Mbps, down: 20Mbps}, latency: 30ms}}
      phones: {workers: {count: 1000000, speed: 0.2, availability: {mean_up: 300s, mean_down: 60s}}}
    links:
      - {between: [us-east, ap-south], bandwidth: 50Mbps, latency: 110ms, jitter: 2ms,
         loss: 0.001, egress_usd_per_gb: 0.02, outages: [[300s, 420s]],
         profile: [[0s, 50Mbps], [600s, 20Mbps]]}
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx

from testbed.core.errors import ConfigError
from testbed.core.fields import checked_name, checked_quantity
from testbed.core.units import parse_bandwidth_bps, parse_seconds
from testbed.core.yamlio import read_yaml_file
from testbed.topology.availability_trace import check_trace_nodes
from testbed.topology.background import parse_background
from testbed.topology.dynamics import NodeDynamics
from testbed.topology.dynamics_schema import parse_dynamics
from testbed.topology.model import Datacenter, LanParams, ProfileStep, Topology, WanLink, Worker, worker_id
from testbed.topology.population import CLIENT_NBYTES, Population

TOP_KEYS = {"name", "lan", "datacenters", "links", "description"}
LAN_KEYS = {"bandwidth", "latency", "jitter", "egress_usd_per_gb"}
DC_KEYS = {"workers", "device", "gpus_per_worker", "lan", "location", "availability"}
WORKER_KEYS = {"speed", "gpus", "speed_profile", "slowdown", "availability"}
POPULATION_KEYS = {"count"} | WORKER_KEYS
DEVICE_KEYS = {"speed", "speed_profile", "slowdown"}
LINK_KEYS = {"between", "bandwidth", "latency", "jitter", "loss", "egress_usd_per_gb", "outages", "profile",
             "background"}
PROFILE_KEYS = {"at", "bandwidth", "latency"}
DEFAULT_LAN = {"bandwidth": "10Gbps", "latency": "0.1ms"}
MAX_WORKERS = 100_000
"""Listed workers (``workers: N`` or a list) per topology: each is an object of its own, and so is everything
built per node downstream.  More clients are a population (``workers: {count: N}``), capped by memory."""
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with the strict loader (:mod:`testbed.core.yamlio`); any problem is one ConfigError."""
    data = read_yaml_file(path)
    if not isinstance(data, dict):
        raise ConfigError(path, "document", "expected a mapping at the top level", "see topologies/wan-3dc.yaml")
    return data


class _Reader:
    """Carries the source name (and the directory relative file names start from) so every helper can
    raise a precise ConfigError."""

    def __init__(self, source: str, base_dir: Path) -> None:
        self.source = source
        self.base_dir = base_dir
        self.workers_so_far = 0
        self.clients_so_far = 0

    def fail(self, fieldname: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(self.source, fieldname, problem, fix)

    def keys(self, mapping: object, allowed: set[str], fieldname: str) -> dict[str, Any]:
        if not isinstance(mapping, dict):
            raise self.fail(fieldname, f"expected a mapping, got {type(mapping).__name__}",
                            f"write it as {{key: value}} with keys {sorted(allowed)}")
        for key in mapping:
            if key not in allowed:
                raise self.fail(f"{fieldname}.{key}" if fieldname else str(key), "unknown key",
                                f"remove it or use one of {sorted(allowed)}")
        return mapping

    def quantity(self, value: object, fieldname: str, parse: Callable[[object], float], *,
                 positive: bool = False, minimum: float = 0.0, unit: str = "ms") -> float:
        """A quantity that must carry its unit (testbed.core.fields.checked_quantity): only 0 may be bare."""
        return checked_quantity(value, self.source, fieldname, parse, unit, positive=positive, minimum=minimum)

    def number(self, value: object, fieldname: str, *, lo: float = 0.0, hi: float | None = None,
               lo_open: bool = False, hi_open: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(fieldname, f"expected a number, got {value!r}", "write a plain number")
        bad_lo = value <= lo if lo_open else value < lo
        bad_hi = hi is not None and (value >= hi if hi_open else value > hi)
        if bad_lo or bad_hi:
            top = "inf)" if hi is None else f"{hi:g}{')' if hi_open else ']'}"
            rng = f"{'(' if lo_open else '['}{lo:g}, {top}"
            raise self.fail(fieldname, f"{value!r} is outside {rng}", f"give a value in {rng}")
        return float(value)

    def bandwidth_pair(self, value: object, fieldname: str, names: tuple[str, str]) -> tuple[float, float]:
        """A scalar (both directions), ``[first, second]`` or ``{names[0]: .., names[1]: ..}``."""
        if isinstance(value, dict):
            self.keys(value, set(names), fieldname)
            if set(value) != set(names):
                raise self.fail(fieldname, f"needs both {names[0]!r} and {names[1]!r}",
                                f"write {{{names[0]}: 20Mbps, {names[1]}: 5Mbps}}")
            return tuple(self.quantity(value[n], f"{fieldname}.{n}", parse_bandwidth_bps, positive=True, unit="Mbps")
                         for n in names)  # type: ignore[return-value]
        if isinstance(value, list):
            if len(value) != 2:
                raise self.fail(fieldname, f"expected one bandwidth or two, got {len(value)}",
                                "write 100Mbps, or [forward, reverse] e.g. [20Mbps, 5Mbps]")
            return (self.quantity(value[0], f"{fieldname}[0]", parse_bandwidth_bps, positive=True, unit="Mbps"),
                    self.quantity(value[1], f"{fieldname}[1]", parse_bandwidth_bps, positive=True, unit="Mbps"))
        bw = self.quantity(value, fieldname, parse_bandwidth_bps, positive=True, unit="Mbps")
        return bw, bw


def parse_topology(data: dict[str, Any], source: str, base_dir: str | Path | None = None) -> Topology:
    """Validate a parsed YAML mapping and build the frozen :class:`Topology`.  Relative file names in it
    (an availability ``trace``) start from ``base_dir`` (default: the source file's directory, else the cwd)."""
    if base_dir is None:
        base_dir = Path(source).parent if source != "<dict>" else Path(".")
    r = _Reader(source, Path(base_dir))
    r.keys(data, TOP_KEYS, "")
    name = checked_name(data.get("name", Path(source).stem if source != "<dict>" else "topology"), source, "name")
    default_lan = _lan(r, {**DEFAULT_LAN, **r.keys(data.get("lan", {}), LAN_KEYS, "lan")}, "lan")
    raw_dcs = data.get("datacenters")
    if not isinstance(raw_dcs, dict) or not raw_dcs:
        raise r.fail("datacenters", "missing or empty", "define at least one datacenter, e.g. us-east: {workers: 4}")
    datacenters = tuple(_datacenter(r, checked_name(dc_name, source, f"datacenters.{dc_name}"), spec, default_lan,
                                    data.get("lan", {})) for dc_name, spec in raw_dcs.items())
    raw_links = data.get("links", []) or []
    if not isinstance(raw_links, list):
        raise r.fail("links", "expected a list", "write links: [{between: [a, b], bandwidth: .., latency: ..}]")
    dc_names = {dc.name for dc in datacenters}
    links: list[WanLink] = []
    seen: dict[frozenset[str], int] = {}
    for i, spec in enumerate(raw_links):
        link = _link(r, spec, f"links[{i}]", dc_names)
        pair = frozenset((link.a, link.b))
        if pair in seen:
            raise r.fail(f"links[{i}].between", f"duplicate link {link.a} <-> {link.b} (also links[{seen[pair]}])",
                         "keep one link per pair; use a list bandwidth [a_to_b, b_to_a] for asymmetry")
        seen[pair] = i
        links.append(link)
    _check_connected(r, dc_names, links)
    _check_trace_nodes(r, datacenters)
    return Topology(name=str(name), datacenters=datacenters, links=tuple(links), source=source)


def _check_trace_nodes(r: _Reader, datacenters: tuple[Datacenter, ...]) -> None:
    """A ``node`` trace may name only workers of this topology."""
    listed = [dc for dc in datacenters if dc.population is None]  # a population cannot take a trace (_population)
    workers = {w.node_id for dc in listed for w in dc.workers}
    checked: set[int] = set()
    for dc in listed:
        for i, node in enumerate((dc, *dc.workers)):
            availability = node.dynamics.availability
            if availability is not None and availability.trace is not None and id(availability.trace) not in checked:
                checked.add(id(availability.trace))
                where = f"datacenters.{dc.name}" + (f".workers[{i - 1}]" if i else "") + ".availability.trace"
                check_trace_nodes(availability.trace, workers, r.source, where)


def _lan(r: _Reader, spec: dict[str, Any], fieldname: str) -> LanParams:
    if "bandwidth" not in spec or "latency" not in spec:
        raise r.fail(fieldname, "needs bandwidth and latency", "write {bandwidth: 10Gbps, latency: 0.1ms}")
    up, down = r.bandwidth_pair(spec["bandwidth"], f"{fieldname}.bandwidth", ("up", "down"))
    return LanParams(
        up_bps=up, down_bps=down,
        latency_s=r.quantity(spec["latency"], f"{fieldname}.latency", parse_seconds),
        jitter_s=r.quantity(spec.get("jitter", 0), f"{fieldname}.jitter", parse_seconds),
        egress_usd_per_gb=r.number(spec.get("egress_usd_per_gb", 0), f"{fieldname}.egress_usd_per_gb"),
    )


def _no_gpus(r: _Reader, spec: dict[str, Any], key: str, where: str) -> None:
    """``gpus_per_worker`` / ``gpus`` were parsed and never used: a topology describes the network and
    each worker's relative speed; which device trains is the executors' (``executors.num_gpus``,
    ``--gpus-per-run``), and every run records it (``devices`` in summary.json)."""
    if key in spec:
        raise r.fail(f"{where}.{key}", "is no longer read: GPUs belong to the executors, not the topology",
                     "remove it; give GPUs with executors: {num_gpus: 1} or --gpus-per-run (compute speed is speed:)")


def _datacenter(r: _Reader, name: str, spec: object, default_lan: LanParams,
                raw_default_lan: dict[str, Any]) -> Datacenter:
    where = f"datacenters.{name}"
    if not _NAME.match(name):
        raise r.fail(where, "datacenter names may hold only letters, digits, '_', '.', '-'", "rename it")
    spec = r.keys(spec if spec is not None else {}, DC_KEYS, where)
    device = r.keys(spec.get("device", {}), DEVICE_KEYS, f"{where}.device")
    dc_speed = r.number(device.get("speed", 1.0), f"{where}.device.speed", lo=0, lo_open=True, hi=1e6)
    _no_gpus(r, spec, "gpus_per_worker", where)
    dc_dynamics = parse_dynamics(r, device, f"{where}.device", spec.get("availability"))
    lan = default_lan
    if "lan" in spec:
        merged = {**DEFAULT_LAN, **raw_default_lan, **r.keys(spec["lan"], LAN_KEYS, f"{where}.lan")}
        lan = _lan(r, merged, f"{where}.lan")
    raw_workers = spec.get("workers", 1)
    location = _location(r, spec.get("location"), where)
    if isinstance(raw_workers, dict):
        population = _population(r, name, raw_workers, f"{where}.workers", dc_speed, dc_dynamics)
        return Datacenter(name=name, workers=population, lan=lan, speed=dc_speed, location=location,
                          dynamics=dc_dynamics)
    if isinstance(raw_workers, bool) or not isinstance(raw_workers, (int, list)):
        raise r.fail(f"{where}.workers", f"expected a count, a list or {{count: N}}, got {raw_workers!r}",
                     "write workers: 4, workers: [{speed: 1.0}, {speed: 0.5}] or workers: {count: 100000}")
    count = raw_workers if isinstance(raw_workers, int) else len(raw_workers)
    if count > MAX_WORKERS - r.workers_so_far:
        raise r.fail(f"{where}.workers", f"{count} workers: the topology would list more than {MAX_WORKERS:,}",
                     f"use at most {MAX_WORKERS:,} listed workers in all; many clients are a population: "
                     f"workers: {{count: {count}}}")
    r.workers_so_far += count
    if isinstance(raw_workers, int):
        if raw_workers < 1:
            raise r.fail(f"{where}.workers", f"must be >= 1, got {raw_workers}", "give at least one worker")
        raw_workers = [{}] * raw_workers
    if not raw_workers:
        raise r.fail(f"{where}.workers", "empty list", "give at least one worker")
    workers = []
    for i, w in enumerate(raw_workers):
        w = r.keys(w if w is not None else {}, WORKER_KEYS, f"{where}.workers[{i}]")
        _no_gpus(r, w, "gpus", f"{where}.workers[{i}]")
        workers.append(Worker(
            node_id=worker_id(name, i), datacenter=name, index=i,
            speed=r.number(w.get("speed", dc_speed), f"{where}.workers[{i}].speed", lo=0, lo_open=True, hi=1e6),
            dynamics=parse_dynamics(r, w, f"{where}.workers[{i}]", w.get("availability")).merged_over(dc_dynamics),
        ))
    return Datacenter(name=name, workers=tuple(workers), lan=lan, speed=dc_speed, location=location,
                      dynamics=dc_dynamics)


def _location(r: _Reader, location: object, where: str) -> tuple[float, float] | None:
    if location is None:
        return None
    if not (isinstance(location, list) and len(location) == 2):
        raise r.fail(f"{where}.location", "expected [latitude, longitude]", "write location: [39.0, -77.5]")
    return (r.number(location[0], f"{where}.location[0]", lo=-90, hi=90),
            r.number(location[1], f"{where}.location[1]", lo=-180, hi=180))


def _population(r: _Reader, name: str, spec: dict[str, Any], where: str, dc_speed: float,
                dc_dynamics: NodeDynamics) -> Population:
    """``workers: {count: N, speed: .., availability: ..}``: N clients with one behaviour, capped by memory."""
    spec = r.keys(spec, POPULATION_KEYS, where)
    _no_gpus(r, spec, "gpus", where)
    count = spec.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise r.fail(f"{where}.count", f"expected a whole number >= 1, got {count!r}", "write count: 100000")
    r.clients_so_far += count
    need, have = r.clients_so_far * CLIENT_NBYTES, _memory_nbytes()
    if need > have:
        raise r.fail(f"{where}.count", f"{r.clients_so_far:,} clients need ~{need / 2**30:.1f} GiB before any "
                     f"data, more than this machine's {have / 2**30:.1f} GiB",
                     f"use at most {have // CLIENT_NBYTES:,} clients in all")
    dynamics = parse_dynamics(r, spec, where, spec.get("availability")).merged_over(dc_dynamics)
    if dynamics.availability is not None and dynamics.availability.trace is not None:
        raise r.fail(f"{where}.availability.trace" if "availability" in spec else f"datacenters.{name}.availability",
                     "an availability trace maps its clients onto listed workers, not onto a population",
                     "list the workers (workers: N), or give the population on/off availability (mean_up, mean_down)")
    return Population(datacenter=name, count=count, dynamics=dynamics,
                      speed=r.number(spec.get("speed", dc_speed), f"{where}.speed", lo=0, lo_open=True, hi=1e6))


def _memory_nbytes() -> int:
    """Physical memory of this machine (the cap on a population); 2^40 where the OS does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**40


def _link(r: _Reader, spec: object, where: str, dc_names: set[str]) -> WanLink:
    spec = r.keys(spec, LINK_KEYS, where)
    between = spec.get("between")
    if not (isinstance(between, list) and len(between) == 2):
        raise r.fail(f"{where}.between", "expected two datacenter names", "write between: [us-east, eu-west]")
    a, b = (checked_name(x, r.source, f"{where}.between[{i}]") for i, x in enumerate(between))
    for end in (a, b):
        if end not in dc_names:
            raise r.fail(f"{where}.between", f"unknown datacenter {end!r}",
                         f"define it under datacenters or use one of {sorted(dc_names)}")
    if a == b:
        raise r.fail(f"{where}.between", f"a link from {a} to itself", "link two different datacenters")
    for key in ("bandwidth", "latency"):
        if key not in spec:
            raise r.fail(f"{where}.{key}", "missing", f"give the link a {key}, e.g. "
                         + ("200Mbps" if key == "bandwidth" else "38ms"))
    ab, ba = r.bandwidth_pair(spec["bandwidth"], f"{where}.bandwidth", (a, b))
    return WanLink(
        a=a, b=b, bandwidth_ab_bps=ab, bandwidth_ba_bps=ba,
        latency_s=r.quantity(spec["latency"], f"{where}.latency", parse_seconds),
        jitter_s=r.quantity(spec.get("jitter", 0), f"{where}.jitter", parse_seconds),
        loss=r.number(spec.get("loss", 0), f"{where}.loss", lo=0, hi=1, hi_open=True),
        egress_usd_per_gb=r.number(spec.get("egress_usd_per_gb", 0), f"{where}.egress_usd_per_gb"),
        profile=_profile(r, spec.get("profile", []), f"{where}.profile", (a, b)),
        outages=_outages(r, spec.get("outages", []), f"{where}.outages"),
        background=parse_background(r, spec.get("background"), f"{where}.background", (a, b)),
    )


def _profile(r: _Reader, raw: object, where: str, ends: tuple[str, str]) -> tuple[ProfileStep, ...]:
    if not isinstance(raw, list):
        raise r.fail(where, "expected a list of steps", "write profile: [[0s, 50Mbps], [600s, 20Mbps]]")
    steps = []
    for i, step in enumerate(raw):
        here = f"{where}[{i}]"
        if isinstance(step, list):
            if len(step) not in (2, 3):
                raise r.fail(here, "expected [time, bandwidth] or [time, bandwidth, latency]",
                             "write [600s, 20Mbps] or [600s, 20Mbps, 80ms]")
            step = dict(zip(("at", "bandwidth", "latency"), step, strict=False))
        step = r.keys(step, PROFILE_KEYS, here)
        if "at" not in step:
            raise r.fail(f"{here}.at", "missing", "say when the step starts, e.g. at: 600s")
        ab = ba = None
        if step.get("bandwidth") is not None:
            ab, ba = r.bandwidth_pair(step["bandwidth"], f"{here}.bandwidth", ends)
        latency = None
        if step.get("latency") is not None:
            latency = r.quantity(step["latency"], f"{here}.latency", parse_seconds)
        steps.append(ProfileStep(r.quantity(step["at"], f"{here}.at", parse_seconds, unit="s"), ab, ba, latency))
    for i in range(1, len(steps)):
        if steps[i].at_s <= steps[i - 1].at_s:
            raise r.fail(f"{where}[{i}].at", "profile steps must be in increasing time order", "sort the steps")
    return tuple(steps)


def _outages(r: _Reader, raw: object, where: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, list):
        raise r.fail(where, "expected a list of [start, end]", "write outages: [[300s, 420s]]")
    out = []
    for i, item in enumerate(raw):
        if not (isinstance(item, list) and len(item) == 2):
            raise r.fail(f"{where}[{i}]", "expected [start, end]", "write [300s, 420s]")
        start = r.quantity(item[0], f"{where}[{i}][0]", parse_seconds, unit="s")
        end = r.quantity(item[1], f"{where}[{i}][1]", parse_seconds, unit="s")
        if end <= start:
            raise r.fail(f"{where}[{i}]", f"ends ({end:g}s) before it starts ({start:g}s)", "give [start, end]")
        if out and start < out[-1][1]:
            raise r.fail(f"{where}[{i}]", "overlaps or precedes the previous outage", "sort and merge outages")
        out.append((start, end))
    return tuple(out)


def _check_connected(r: _Reader, dc_names: set[str], links: list[WanLink]) -> None:
    graph = nx.Graph()
    graph.add_nodes_from(sorted(dc_names))
    graph.add_edges_from((link.a, link.b) for link in links)
    components = sorted((sorted(c) for c in nx.connected_components(graph)), key=len, reverse=True)
    if len(components) > 1:
        stranded = [dc for comp in components[1:] for dc in comp]
        raise r.fail("links", f"no path reaches datacenter(s) {stranded} from {components[0][0]}",
                     f"add a link between {stranded[0]} and one of {components[0]}")


def load_topology(source: str | Path | dict[str, Any], base_dir: str | Path | None = None) -> Topology:
    """Load and validate a topology from a YAML file path or an already-parsed dict (whose relative file
    names start from ``base_dir``, default the cwd).

    Raises :class:`ConfigError` (one line: file, field, fix) on any bad input.
    """
    if isinstance(source, dict):
        return parse_topology(source, "<dict>", base_dir)
    return parse_topology(read_yaml(source), str(source))
