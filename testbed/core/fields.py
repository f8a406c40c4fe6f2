"""Typed, ranged fields: one helper per rule, so every error of a kind reads the same.

A string where a number belongs (``batch_size: big``) or a value outside its range
(``beta1: 1``) used to reach torch and end in a traceback; parsers call
:func:`checked_number` instead, which says the field, the range and the fix.  Every time, size and
rate in every YAML file -- topology, dynamics, experiment, a method's parameters -- goes through
:func:`checked_quantity`: it must carry its unit (``latency: 20`` could be 20 s or 20 ms, and
``max_virtual_time: 20`` was 20 s while ``latency: 20`` was refused), only ``0`` may be bare.  Names go through
:func:`checked_name` (YAML 1.1 reads a datacenter ``no`` as ``False``: refused, never renamed), and
every name that becomes a directory (suite, cell, grid label, experiment) through
:func:`checked_path_component`, so no input can point a run directory at ``..`` or ``/``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from testbed.core.errors import ConfigError
from testbed.core.units import UnitError


def checked_bool(value: Any, src: str, fieldname: str, fix: str = "write true or false") -> bool:
    """``value`` if it is a YAML boolean, else a one-line ConfigError (``yes`` in quotes, 1, "true" are not)."""
    if not isinstance(value, bool):
        raise ConfigError(src, fieldname, f"expected true or false, got {value!r}", fix)
    return value


def checked_number(value: Any, src: str, fieldname: str, kind: type, lo: float, hi: float, interval: str = "[]") -> Any:
    """``value`` as ``kind`` (int or float) inside the interval, else a one-line ConfigError."""
    if isinstance(value, float) and kind is int and value.is_integer():
        value = int(value)
    ok_type = not isinstance(value, bool) and isinstance(value, (int, float) if kind is float else int)
    if not ok_type or (isinstance(value, float) and not math.isfinite(value)):
        noun = "an integer" if kind is int else "a number"
        raise ConfigError(src, fieldname, f"expected {noun}, got {value!r}",
                          f"write {noun} in {interval[0]}{lo:g}, {hi:g}{interval[1]}")
    below = value <= lo if interval[0] == "(" else value < lo
    above = value >= hi if interval[1] == ")" else value > hi
    if below or above:
        rng = f"{interval[0]}{lo:g}, {hi:g}{interval[1]}"
        raise ConfigError(src, fieldname, f"{value!r} is outside {rng}", f"give a value in {rng}")
    return kind(value)


def checked_quantity(value: Any, src: str, fieldname: str, parse: Callable[[object], float], unit: str, *,
                     positive: bool = False, minimum: float = 0.0) -> float:
    """``value`` (``'20ms'``, ``'1.5GB'``, ``'100Mbps'``) in base units via ``parse`` (testbed.core.units), else a
    one-line ConfigError.  A bare number -- ``20`` or the text ``'20'`` -- is refused unless it is 0, with the
    fix ``write 20<unit>``; ``positive``: must be > 0; otherwise it must be >= ``minimum``."""
    bare = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(value, str) and value.strip() and value.strip()[-1].isdigit():
        try:
            bare, value = True, float(value)
        except ValueError:
            pass
    if bare and not math.isfinite(value):
        raise ConfigError(src, fieldname, f"{value!r} is not finite", f"write e.g. 20{unit}")
    if bare and value != 0:
        raise ConfigError(src, fieldname, f"{value!r} has no unit", f"write {value:g}{unit}")
    try:
        number = parse(value)
    except UnitError as err:
        raise ConfigError(src, fieldname, str(err), f"write a number with a unit, e.g. 20{unit}") from None
    if not math.isfinite(number):
        raise ConfigError(src, fieldname, f"{value!r} is not finite", f"write e.g. 20{unit}")
    if positive and not number > 0:
        raise ConfigError(src, fieldname, f"must be > 0, got {value!r}", "give a positive value")
    if number < minimum:
        raise ConfigError(src, fieldname, f"must be >= {minimum:g}, got {value!r}", "give a non-negative value")
    return number


def checked_name(value: Any, src: str, fieldname: str) -> str:
    """``value`` if it is non-empty text, else a one-line ConfigError (to quote it, for a YAML boolean or number).

    Names -- a datacenter, a link end, ``server_at``, a suite, cell or experiment -- are strings; a
    datacenter ``no`` (Norway) that YAML 1.1 reads as ``False`` is refused wherever a name occurs,
    never turned into the text ``'False'``."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, bool):
        spelled, example = ("yes, on or true", "on") if value else ("no, off or false", "no")
        raise ConfigError(src, fieldname, f"YAML reads an unquoted {spelled} as the boolean {value}, not a name",
                          f"put the name in quotes, e.g. '{example}'")
    if isinstance(value, (int, float)):
        raise ConfigError(src, fieldname, f"YAML reads {value!r} as a number, not a name",
                          f"put the name in quotes, e.g. '{value}'")
    problem = "is empty" if value is None or value == "" else f"expected a name, got {value!r}"
    raise ConfigError(src, fieldname, problem, "give it a name")


MAX_COMPONENT_NBYTES = 255
"""The longest file name most file systems take (ext4, xfs, btrfs, APFS)."""


def checked_path_component(value: Any, src: str, fieldname: str) -> str:
    """A name that becomes one directory under ``--out``: not ``.``, ``..``, empty, absolute, or holding
    a separator or a control character; else a one-line ConfigError (a cell named ``..`` would be the
    results root itself, and ``--resume`` would wipe it)."""
    name = checked_name(value, src, fieldname)
    bad = (name.strip(".") == "" or "/" in name or "\\" in name or any(ord(c) < 32 for c in name)
           or len(name.encode()) > MAX_COMPONENT_NBYTES)
    if bad:
        shown = name if len(name) <= 60 else f"{name[:57]}..."
        raise ConfigError(src, fieldname, f"{shown!r} is not a single directory name (it names a directory "
                          "under --out)", "use letters, digits and - _ . = + (not only dots, no / or \\, "
                          f"at most {MAX_COMPONENT_NBYTES} bytes)")
    return name


def without_nulls(value: Any) -> Any:
    """A mapping without its ``null`` entries (an explicit ``seed: null`` means the documented default, not
    ``None`` reaching the run as a late TypeError); anything else unchanged, for its parser to judge."""
    return {k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else value
