"""Typed, ranged numeric fields: one helper, so every range error reads the same.

A string where a number belongs (``batch_size: big``) or a value outside its range
(``beta1: 1``) used to reach torch and end in a traceback; parsers call
:func:`checked_number` instead, which says the field, the range and the fix.
"""

from __future__ import annotations

import math
from typing import Any

from testbed.core.errors import ConfigError


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
