"""Cross-traffic on a WAN link (``background:``): what else the link carries while a run trains.

Why: a WAN link is rarely a training job's alone, and a method that looks fine on an idle link may not
on a shared one; FedScale, APPFL and FLGo cannot say, since they price a transfer as size / bandwidth
with no sharing.  Here other traffic is flows on the same directed links, sharing them max-min with the
run's flows (testbed.sim.background generates them, testbed.sim.network carries them), generated from
the run's seed and never counted in the run's bytes or dollars.  The YAML, per link, one source or a
list of them, each in both directions unless ``from:`` names the end it leaves::

    background: {rate: 40Mbps}                                       # a constant offered rate (a capped flow)
    background: {poisson: {flows_per_s: 20, mean_size: 1MB}}        # elastic flows, sizes exponential
    background: {poisson: {flows_per_s: 20, mean_size: 1MB, sizes: {lognormal: {sigma: 1.0}}}}
    background: {load_csv: traces/load.csv}                          # offered rate over time: t_s,rate_bps
    background: {replay: results/other/traffic.parquet}              # another run's messages on this link
    background: [{rate: 10Mbps, from: us-east}, {poisson: {...}}]

A constant or time-varying offered rate is a flow capped at that rate (it takes its rate or its
max-min share, whichever is less; an inelastic stream); Poisson and replayed flows are elastic (they
take their max-min share until their bytes are through).  ``replay`` is several runs sharing one WAN:
every message of the other run whose path crossed this link in that direction becomes a flow of its
size starting at its send time.  Every mistake is one ConfigError naming the file, the field and the fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from testbed.core.errors import ConfigError
from testbed.core.units import UnitError, parse_bandwidth_bps, parse_nbytes

KINDS = ("rate", "poisson", "load_csv", "replay")
MAX_FLOWS_PER_S = 1e6


@dataclass(frozen=True, eq=False)
class BackgroundSource:
    """One source of cross-traffic on a link: ``kind`` rate | poisson | load | replay, ``leaves`` the
    datacenter it leaves from (None: both directions), and its parameters.  ``steps`` (load) are
    (t_s, rate_bps); ``replay`` maps a direction (a, b) to (send times, sizes) arrays."""

    kind: str
    leaves: str | None = None
    rate_bps: float = 0.0
    flows_per_s: float = 0.0
    mean_nbytes: float = 0.0
    sigma: float | None = None
    steps: tuple[tuple[float, float], ...] = ()
    replay: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    label: str = ""

    def directions(self, a: str, b: str) -> list[tuple[str, str]]:
        """The directed links (a, b) / (b, a) this source loads."""
        both = [(a, b), (b, a)]
        return both if self.leaves is None else [d for d in both if d[0] == self.leaves]


class Reader(Protocol):
    """What of topology_schema's reader this module uses."""

    source: str
    base_dir: Path

    def fail(self, fieldname: str, problem: str, fix: str) -> ConfigError: ...

    def keys(self, mapping: object, allowed: set[str], fieldname: str) -> dict[str, Any]: ...

    def number(self, value: object, fieldname: str, *, lo: float = 0.0, hi: float | None = None,
               lo_open: bool = False, hi_open: bool = False) -> float: ...


def parse_background(r: Reader, raw: object, where: str, ends: tuple[str, str]) -> tuple[BackgroundSource, ...]:
    """A link's ``background`` (one source or a list) at ``where``; ``ends`` are the link's datacenters."""
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    return tuple(_source(r, item, f"{where}[{i}]" if isinstance(raw, list) else where, ends)
                 for i, item in enumerate(items))


def _source(r: Reader, raw: object, where: str, ends: tuple[str, str]) -> BackgroundSource:
    fix = "write e.g. {rate: 40Mbps}, {poisson: {flows_per_s: 20, mean_size: 1MB}}, {load_csv: FILE} or {replay: FILE}"
    spec = r.keys(raw, {*KINDS, "from"}, where)
    kinds = [k for k in KINDS if k in spec]
    if len(kinds) != 1:
        raise r.fail(where, f"expected exactly one of {list(KINDS)}, got {kinds or 'none'}", fix)
    leaves = spec.get("from")
    if leaves is not None and leaves not in ends:
        raise r.fail(f"{where}.from", f"{leaves!r} is not an end of this link", f"use one of {list(ends)}")
    kind = kinds[0]
    here = f"{where}.{kind}"
    if kind == "rate":
        return BackgroundSource("rate", leaves, rate_bps=_bandwidth(r, spec[kind], here), label=f"rate {spec[kind]}")
    if kind == "poisson":
        return _poisson(r, spec[kind], here, leaves)
    path = _path(r, spec[kind], here)
    if kind == "load_csv":
        return BackgroundSource("load", leaves, steps=_load_steps(r, path, here), label=f"load {path.name}")
    return BackgroundSource("replay", leaves, replay=_replay(r, path, here, ends), label=f"replay {path}")


def _bandwidth(r: Reader, value: object, where: str) -> float:
    try:
        bps = parse_bandwidth_bps(value)
    except UnitError as err:
        raise r.fail(where, str(err), "write a rate with its unit, e.g. 40Mbps") from None
    if isinstance(value, (int, float)) and value != 0:
        raise r.fail(where, f"{value!r} has no unit", f"write {value:g}Mbps")
    if not (math.isfinite(bps) and bps > 0):
        raise r.fail(where, f"must be > 0, got {value!r}", "write e.g. 40Mbps")
    return bps


def _poisson(r: Reader, raw: object, where: str, leaves: str | None) -> BackgroundSource:
    spec = r.keys(raw, {"flows_per_s", "mean_size", "sizes"}, where)
    for key in ("flows_per_s", "mean_size"):
        if key not in spec:
            raise r.fail(f"{where}.{key}", "missing", "write {poisson: {flows_per_s: 20, mean_size: 1MB}}")
    rate = r.number(spec["flows_per_s"], f"{where}.flows_per_s", lo=0, lo_open=True, hi=MAX_FLOWS_PER_S)
    try:
        mean = parse_nbytes(spec["mean_size"])
    except UnitError as err:
        raise r.fail(f"{where}.mean_size", str(err), "write a size with its unit, e.g. 1MB") from None
    if isinstance(spec["mean_size"], (int, float)) or not (math.isfinite(mean) and mean > 0):
        raise r.fail(f"{where}.mean_size", f"expected a positive size with a unit, got {spec['mean_size']!r}",
                     "write e.g. 1MB")
    sigma = None
    sizes = spec.get("sizes", "exponential")
    if sizes != "exponential":
        inner = r.keys(sizes, {"lognormal"}, f"{where}.sizes")
        lognormal = r.keys(inner.get("lognormal"), {"sigma"}, f"{where}.sizes.lognormal")
        if "sigma" not in lognormal:
            raise r.fail(f"{where}.sizes.lognormal.sigma", "missing", "write sizes: {lognormal: {sigma: 1.0}}")
        sigma = r.number(lognormal["sigma"], f"{where}.sizes.lognormal.sigma", lo=0, lo_open=True, hi=5)
    return BackgroundSource("poisson", leaves, flows_per_s=rate, mean_nbytes=float(mean), sigma=sigma,
                            label=f"poisson {rate:g}/s x {spec['mean_size']}")


def _path(r: Reader, value: object, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise r.fail(where, f"expected a file name, got {value!r}", "name a file relative to the topology")
    path = Path(value) if Path(value).is_absolute() else r.base_dir / value
    if not path.is_file():
        raise r.fail(where, f"file {value!r} not found", "give a path relative to the topology file (or absolute)")
    return path


def _load_steps(r: Reader, path: Path, where: str) -> tuple[tuple[float, float], ...]:
    fix = "write a CSV with the header t_s,rate_bps: the offered rate from each time on, times increasing"
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError):
        raise r.fail(where, f"{path.name}: not a readable CSV", fix) from None
    if sorted(str(c).strip() for c in frame.columns) != ["rate_bps", "t_s"] or frame.empty:
        raise r.fail(where, f"{path.name}: columns {list(frame.columns)}, expected t_s, rate_bps", fix)
    frame.columns = [str(c).strip() for c in frame.columns]
    t = pd.to_numeric(frame["t_s"], errors="coerce").to_numpy(np.float64)
    rate = pd.to_numeric(frame["rate_bps"], errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(t) | ~np.isfinite(rate) | (t < 0) | (rate < 0)
                         | np.concatenate(([False], np.diff(t) <= 0)))
    if bad.size:
        i = int(bad[0])
        raise r.fail(where, f"{path.name} line {i + 2}: t_s {frame['t_s'].iloc[i]!r}, rate_bps "
                     f"{frame['rate_bps'].iloc[i]!r}", fix)
    return tuple(zip(t.tolist(), rate.tolist(), strict=True))


Replay = dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]


def _replay(r: Reader, path: Path, where: str, ends: tuple[str, str]) -> Replay:
    fix = "name another run's traffic.parquet (or traffic.csv)"
    try:
        columns = ["path", "t_send_s", "nbytes", "scope"]
        frame = pd.read_parquet(path, columns=columns) if path.suffix == ".parquet" else pd.read_csv(path)[columns]
    except Exception as err:  # any unreadable file is the same one line
        raise r.fail(where, f"{path.name}: not a traffic log ({type(err).__name__})", fix) from None
    frame = frame[frame["scope"] == "wan"]
    out: Replay = {}
    for a, b in (ends, ends[::-1]):
        crossed = frame["path"].astype(str).str.contains(f" > {a} > {b} > ", regex=False)
        rows = frame[crossed].sort_values("t_send_s", kind="stable")
        out[(a, b)] = (rows["t_send_s"].to_numpy(np.float64), rows["nbytes"].to_numpy(np.float64))
    return out
