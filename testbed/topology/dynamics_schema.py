"""The topology keys for a node's behaviour over time -> :class:`~testbed.topology.dynamics.NodeDynamics`.

Kept apart from :mod:`testbed.topology.schema` (which calls it for every worker and datacenter)
so the availability, speed-profile and slowdown rules read in one place; every mistake is one
ConfigError line naming the file, the field and the fix.  Keys (docs/design.md §3)::

    datacenters:
      edge:
        device: {speed: 1.0, speed_profile: [[0s, 1.0], [600s, 0.5]], slowdown: {p: 0.1, factor: 5}}
        availability: {mean_up: 300s, mean_down: 60s}     # every node of the DC (service nodes too)
        # or availability: {trace: traces/fleet.csv}     # its workers take clients of a trace
        workers:
          - {availability: {down: [[100s, 200s]], crash_at: 900s}}
          - {slowdown: {lognormal: {sigma: 0.5}}}
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from testbed.core.errors import ConfigError
from testbed.core.units import parse_seconds
from testbed.topology.availability_trace import load_trace
from testbed.topology.dynamics import Availability, NodeDynamics, Slowdown

AVAILABILITY_KEYS = {"down", "mean_up", "mean_down", "crash_at", "trace"}
SLOWDOWN_KEYS = {"lognormal", "p", "factor"}
MAX_FACTOR = 1e6


class Reader(Protocol):
    """What of topology_schema's reader this module uses (the source name travels with it)."""

    source: str
    base_dir: Path
    """Where relative file names (a ``trace``) are resolved: the topology file's directory."""

    def fail(self, fieldname: str, problem: str, fix: str) -> ConfigError: ...

    def keys(self, mapping: object, allowed: set[str], fieldname: str) -> dict[str, Any]: ...

    def quantity(self, value: object, fieldname: str, parse: Callable[[object], float], *,
                 positive: bool = False, minimum: float = 0.0, unit: str = "ms") -> float: ...

    def number(self, value: object, fieldname: str, *, lo: float = 0.0, hi: float | None = None,
               lo_open: bool = False, hi_open: bool = False) -> float: ...


def parse_dynamics(r: Reader, spec: dict[str, Any], where: str, availability: object = None) -> NodeDynamics:
    """``speed_profile`` and ``slowdown`` from ``spec`` (a worker or a DC's ``device``) at ``where``,
    and ``availability`` (a worker's own, or the datacenter's) at its own field name."""
    avail_where = where.removesuffix(".device") + ".availability"
    return NodeDynamics(
        speed_profile=_speed_profile(r, spec.get("speed_profile", []), f"{where}.speed_profile"),
        slowdown=_slowdown(r, spec["slowdown"], f"{where}.slowdown") if spec.get("slowdown") is not None else None,
        availability=_availability(r, availability, avail_where) if availability is not None else None)


def _speed_profile(r: Reader, raw: object, where: str) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, list):
        raise r.fail(where, "expected a list of [time, speed] steps", "write speed_profile: [[0s, 1.0], [600s, 0.5]]")
    steps: list[tuple[float, float]] = []
    for i, step in enumerate(raw):
        if not (isinstance(step, list) and len(step) == 2):
            raise r.fail(f"{where}[{i}]", "expected [time, speed]", "write [600s, 0.5]")
        at_s = r.quantity(step[0], f"{where}[{i}][0]", parse_seconds, unit="s")
        speed = r.number(step[1], f"{where}[{i}][1]", lo=0, lo_open=True, hi=1e6)
        if steps and at_s <= steps[-1][0]:
            raise r.fail(f"{where}[{i}][0]", "speed steps must be in increasing time order", "sort the steps")
        steps.append((at_s, speed))
    return tuple(steps)


def _slowdown(r: Reader, raw: object, where: str) -> Slowdown:
    spec = r.keys(raw, SLOWDOWN_KEYS, where)
    if "lognormal" in spec:
        if len(spec) != 1:
            raise r.fail(where, "lognormal takes no p or factor",
                         "write {lognormal: {sigma: 0.5}} or {p: 0.1, factor: 5}")
        inner = r.keys(spec["lognormal"], {"sigma"}, f"{where}.lognormal")
        if "sigma" not in inner:
            raise r.fail(f"{where}.lognormal.sigma", "missing", "write {lognormal: {sigma: 0.5}}")
        return Slowdown("lognormal", sigma=r.number(inner["sigma"], f"{where}.lognormal.sigma", hi=5))
    for key in ("p", "factor"):
        if key not in spec:
            raise r.fail(f"{where}.{key}", "missing", "write {p: 0.1, factor: 5} or {lognormal: {sigma: 0.5}}")
    return Slowdown("bernoulli", p=r.number(spec["p"], f"{where}.p", hi=1),
                    factor=r.number(spec["factor"], f"{where}.factor", lo=1, hi=MAX_FACTOR))


def _availability(r: Reader, raw: object, where: str) -> Availability:
    spec = r.keys(raw, AVAILABILITY_KEYS, where)
    crash = spec.get("crash_at")
    crash_s = r.quantity(crash, f"{where}.crash_at", parse_seconds, unit="s") if crash is not None else None
    has_model = "mean_up" in spec or "mean_down" in spec
    if "trace" in spec:
        if has_model or "down" in spec:
            raise r.fail(where, "a trace together with down intervals or an on/off model",
                         "use one of trace: FILE, down: [[start, end]], or mean_up + mean_down")
        return Availability(trace=_trace(r, spec["trace"], f"{where}.trace"), crash_at_s=crash_s)
    if has_model and "down" in spec:
        raise r.fail(where, "down intervals and an on/off model (mean_up/mean_down) together",
                     "use either down: [[start, end]] or mean_up + mean_down")
    if has_model:
        for key in ("mean_up", "mean_down"):
            if key not in spec:
                raise r.fail(f"{where}.{key}", "missing", "give both mean_up and mean_down, e.g. 300s and 60s")
        return Availability(mean_up_s=r.quantity(spec["mean_up"], f"{where}.mean_up", parse_seconds,
                                                 positive=True, unit="s"),
                            mean_down_s=r.quantity(spec["mean_down"], f"{where}.mean_down", parse_seconds,
                                                   positive=True, unit="s"),
                            crash_at_s=crash_s)
    raw_down = spec.get("down", [])
    if not isinstance(raw_down, list):
        raise r.fail(f"{where}.down", "expected a list of [start, end]", "write down: [[100s, 200s]]")
    down: list[tuple[float, float]] = []
    for i, item in enumerate(raw_down):
        here = f"{where}.down[{i}]"
        if not (isinstance(item, list) and len(item) == 2):
            raise r.fail(here, "expected [start, end]", "write [100s, 200s]")
        start = r.quantity(item[0], f"{here}[0]", parse_seconds, unit="s")
        end = r.quantity(item[1], f"{here}[1]", parse_seconds, unit="s")
        if end <= start:
            raise r.fail(here, f"ends ({end:g}s) before it starts ({start:g}s)", "give [start, end]")
        if down and start < down[-1][1]:
            raise r.fail(here, "overlaps or precedes the previous interval", "sort and merge the intervals")
        down.append((start, end))
    if not down and crash_s is None:
        raise r.fail(where, "says nothing", "give down: [[start, end]], mean_up + mean_down, or crash_at")
    return Availability(down_s=tuple(down), crash_at_s=crash_s)


def _trace(r: Reader, raw: object, where: str) -> Any:
    """The availability trace a topology names (testbed.topology.availability_trace), relative to its file."""
    if not isinstance(raw, str) or not raw.strip():
        raise r.fail(where, f"expected a file name, got {raw!r}", "write trace: traces/fleet.csv")
    path = Path(raw)
    return load_trace(path if path.is_absolute() else r.base_dir / path, r.source, where)
