"""Parse quantities with units in exactly one place.

Topology and experiment YAML say ``200Mbps``, ``38ms``, ``1.5GB``, ``64KiB``.
Everything downstream works in SI base units carried in the name
(``bandwidth_bps``, ``latency_s``, ``nbytes``), so the conversion happens once,
here, and an unknown unit is an error rather than a silent factor of 1000.
Bare numbers are taken to be in the base unit (bits/s, bytes, seconds) here; every YAML field
refuses them (only 0 may be bare: testbed.core.fields.checked_quantity), and what the testbed writes
back (``config.yaml``) carries the unit: :func:`exact_quantity`.
"""

from __future__ import annotations

import re

BANDWIDTH_UNITS_BPS: dict[str, float] = {
    "bps": 1.0, "Kbps": 1e3, "kbps": 1e3, "Mbps": 1e6, "Gbps": 1e9, "Tbps": 1e12,
}
SIZE_UNITS_B: dict[str, float] = {
    "B": 1.0, "KB": 1e3, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
    "KiB": 2.0**10, "MiB": 2.0**20, "GiB": 2.0**30, "TiB": 2.0**40,
}
TIME_UNITS_S: dict[str, float] = {
    "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "min": 60.0, "h": 3600.0,
}

MAX_SECONDS = 1e9
"""The longest time any input may give (~32 years): up to here a float64 clock keeps a resolution finer
than 0.2 us (ulp(1e9) = 1.2e-7 s); beyond ~1e10 s the network model's clock stops advancing (it used to
hang).  Every duration parsed here is bounded by it, and the engine stops a run whose clock passes it."""

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$")


class UnitError(ValueError):
    """A quantity that could not be parsed; the message says what is accepted."""


def _parse(value: object, units: dict[str, float], what: str) -> float:
    if isinstance(value, bool):
        raise UnitError(f"expected a {what}, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"expected a {what} such as '{_example(units)}', got {value!r}")
    match = _QUANTITY.match(value)
    if match is None:
        raise UnitError(f"cannot read {value!r} as a {what}; write e.g. '{_example(units)}'")
    number, unit = match.groups()
    if unit == "":
        return float(number)
    if unit not in units:
        raise UnitError(f"unknown unit {unit!r} in {value!r}; use one of {', '.join(units)}")
    return float(number) * units[unit]


def _example(units: dict[str, float]) -> str:
    return {id(BANDWIDTH_UNITS_BPS): "200Mbps", id(SIZE_UNITS_B): "1.5GB",
            id(TIME_UNITS_S): "38ms"}.get(id(units), "1")


def parse_bandwidth_bps(value: object) -> float:
    """``'200Mbps'`` -> ``2e8`` bits per second; a bare number is bits/s."""
    return _parse(value, BANDWIDTH_UNITS_BPS, "bandwidth")


def parse_nbytes(value: object) -> float:
    """``'1.5GB'`` -> ``1.5e9``; ``'64KiB'`` -> ``65536``; a bare number is bytes."""
    return _parse(value, SIZE_UNITS_B, "size")


def parse_seconds(value: object) -> float:
    """``'38ms'`` -> ``0.038``; a bare number is seconds; at most :data:`MAX_SECONDS` either way."""
    seconds = _parse(value, TIME_UNITS_S, "duration")
    if abs(seconds) > MAX_SECONDS:
        raise UnitError(f"{value!r} is beyond {MAX_SECONDS:g} s, the longest time the virtual clock resolves "
                        "to a microsecond")
    return seconds


def exact_quantity(value: float | None, unit: str) -> str | None:
    """``value`` (in base units) as YAML text that parses back to the same float: ``0.01`` -> ``'0.01s'``."""
    return None if value is None else f"{float(value)!r}{unit}"


def format_bandwidth(bandwidth_bps: float) -> str:
    """Human form for labels and summaries: ``2e8`` -> ``'200 Mbps'``."""
    for unit, factor in (("Tbps", 1e12), ("Gbps", 1e9), ("Mbps", 1e6), ("Kbps", 1e3)):
        if bandwidth_bps >= factor:
            return f"{bandwidth_bps / factor:g} {unit}"
    return f"{bandwidth_bps:g} bps"


def format_nbytes(nbytes: float) -> str:
    """Human form (decimal units): ``1.5e9`` -> ``'1.5 GB'``."""
    for unit, factor in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(nbytes) >= factor:
            return f"{nbytes / factor:.3g} {unit}"
    return f"{nbytes:g} B"


def format_seconds(seconds: float) -> str:
    """Human form: ``0.038`` -> ``'38 ms'``."""
    if seconds == 0:
        return "0 s"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} us"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.4g} s"
