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
      us-east: {workers: 4, device: {speed: 1.0}, gpus_per_worker: 1, location: [39.0, -77.5]}
      edge: {workers: [{availability: {down: [[100s, 200s]], crash_at: 900s}}],   # testbed.topology.dynamics_schema
             device: {speed_profile: [[0s, 1.0], [600s, 0.5]], slowdown: {p: 0.1, factor: 5}}}
      ap-south: {workers: [{speed: 1.0}, {speed: 0.5, gpus: 1}],
                 lan: {bandwidth: {up: 5Mbps, down: 20Mbps}, latency: 30ms}}
    links:
      - {between: [us-east, ap-south], bandwidth: 50Mbps, latency: 110ms, jitter: 2ms,
         loss: 0.001, egress_usd_per_gb: 0.02, outages: [[300s, 420s]],
         profile: [[0s, 50Mbps], [600s, 20Mbps]]}
"""

from __future__ import annotations

import copy
import math
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
from testbed.topology.dynamics_schema import parse_dynamics
from testbed.topology.model import Datacenter, LanParams, ProfileStep, Topology, WanLink, Worker, worker_id

TOP_KEYS = {"name", "lan", "datacenters", "links", "description"}
LAN_KEYS = {"bandwidth", "latency", "jitter", "egress_usd_per_gb"}
DC_KEYS = {"workers", "device", "gpus_per_worker", "lan", "location", "availability"}
WORKER_KEYS = {"speed", "gpus", "speed_profile", "slowdown", "availability"}
DEVICE_KEYS = {"speed", "speed_profile", "slowdown"}
LINK_KEYS = {"between", "bandwidth", "latency", "jitter", "loss", "egress_usd_per_gb", "outages", "profile",
             "background"}
PROFILE_KEYS = {"at", "bandwidth", "latency"}
DEFAULT_LAN = {"bandwidth": "10Gbps", "latency": "0.1ms"}
MAX_WORKERS = 100_000
"""Workers per topology: the scale benchmark runs 10,000; a billion would hang before any message."""
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
    workers = {w.node_id for dc in datacenters for w in dc.workers}
    checked: set[int] = set()
    for dc in datacenters:
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


def _datacenter(r: _Reader, name: str, spec: object, default_lan: LanParams,
                raw_default_lan: dict[str, Any]) -> Datacenter:
    where = f"datacenters.{name}"
    if not _NAME.match(name):
        raise r.fail(where, "datacenter names may hold only letters, digits, '_', '.', '-'", "rename it")
    spec = r.keys(spec if spec is not None else {}, DC_KEYS, where)
    device = r.keys(spec.get("device", {}), DEVICE_KEYS, f"{where}.device")
    dc_speed = r.number(device.get("speed", 1.0), f"{where}.device.speed", lo=0, lo_open=True, hi=1e6)
    gpus = r.number(spec.get("gpus_per_worker", 0), f"{where}.gpus_per_worker", hi=64)
    dc_dynamics = parse_dynamics(r, device, f"{where}.device", spec.get("availability"))
    lan = default_lan
    if "lan" in spec:
        merged = {**DEFAULT_LAN, **raw_default_lan, **r.keys(spec["lan"], LAN_KEYS, f"{where}.lan")}
        lan = _lan(r, merged, f"{where}.lan")
    raw_workers = spec.get("workers", 1)
    if isinstance(raw_workers, bool) or not isinstance(raw_workers, (int, list)):
        raise r.fail(f"{where}.workers", f"expected a count or a list, got {raw_workers!r}",
                     "write workers: 4 or workers: [{speed: 1.0}, {speed: 0.5}]")
    count = raw_workers if isinstance(raw_workers, int) else len(raw_workers)
    if count > MAX_WORKERS - r.workers_so_far:
        raise r.fail(f"{where}.workers", f"{count} workers: the topology would exceed {MAX_WORKERS:,}",
                     f"use at most {MAX_WORKERS:,} workers in all (many logical clients: executors: {{pool: N}})")
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
        workers.append(Worker(
            node_id=worker_id(name, i), datacenter=name, index=i,
            speed=r.number(w.get("speed", dc_speed), f"{where}.workers[{i}].speed", lo=0, lo_open=True, hi=1e6),
            gpus=r.number(w.get("gpus", gpus), f"{where}.workers[{i}].gpus", hi=64),
            dynamics=parse_dynamics(r, w, f"{where}.workers[{i}]", w.get("availability")).merged_over(dc_dynamics),
        ))
    location = spec.get("location")
    if location is not None:
        if not (isinstance(location, list) and len(location) == 2):
            raise r.fail(f"{where}.location", "expected [latitude, longitude]", "write location: [39.0, -77.5]")
        location = (r.number(location[0], f"{where}.location[0]", lo=-90, hi=90),
                    r.number(location[1], f"{where}.location[1]", lo=-180, hi=180))
    return Datacenter(name=name, workers=tuple(workers), lan=lan, speed=dc_speed, location=location,
                      dynamics=dc_dynamics)


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


def with_absolute_paths(data: Any, base_dir: str | Path) -> Any:
    """A copy of the topology mapping ``data`` whose relative file names (availability ``trace``, a link's
    background ``load_csv`` / ``replay``) start from ``base_dir`` made absolute: an inlined topology (a suite
    cell, ``config.yaml``) then still finds them."""
    if not isinstance(data, dict) or not isinstance(data.get("datacenters"), dict):
        return data
    out = copy.deepcopy(data)
    for spec in out["datacenters"].values():
        if not isinstance(spec, dict):
            continue
        holders = [spec] + [w for w in spec.get("workers") or [] if isinstance(w, dict)] \
            if isinstance(spec.get("workers"), list) else [spec]
        for holder in holders:
            _absolute(holder.get("availability"), "trace", base_dir)
    for link in out.get("links") or []:
        background = link.get("background") if isinstance(link, dict) else None
        for source in background if isinstance(background, list) else [background]:
            for key in ("load_csv", "replay"):
                _absolute(source, key, base_dir)
    return out


def _absolute(mapping: Any, key: str, base_dir: str | Path) -> None:
    """Make ``mapping[key]``, a relative file name, absolute from ``base_dir`` (in place)."""
    if isinstance(mapping, dict) and isinstance(mapping.get(key), str) and not Path(mapping[key]).is_absolute():
        mapping[key] = str((Path(base_dir) / mapping[key]).resolve())


def load_topology(source: str | Path | dict[str, Any], base_dir: str | Path | None = None) -> Topology:
    """Load and validate a topology from a YAML file path or an already-parsed dict (whose relative file
    names start from ``base_dir``, default the cwd).

    Raises :class:`ConfigError` (one line: file, field, fix) on any bad input.
    """
    if isinstance(source, dict):
        return parse_topology(source, "<dict>", base_dir)
    return parse_topology(read_yaml(source), str(source))
