"""A method's YAML parameters -> its ``Params`` dataclass, checked by name and type.

Each method's ``Params`` dataclass is the schema of its ``algorithm:`` block, so unknown keys
and wrong types are one-line ConfigErrors naming the field, and there is no per-method parsing
code (nor any ``if name == ...``).  The config parser calls this; methods never see raw YAML.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

from testbed.core.errors import ConfigError
from testbed.core.fields import checked_bool
from testbed.methods.api import Algorithm
from testbed.topology.model import Topology


def parse_params(cls: type[Algorithm], raw: dict[str, Any], src: str, topology: Topology) -> Any:
    """Build ``cls.Params`` from YAML values, checking names and types, then ``cls.validate``."""
    fields = {f.name: f for f in dataclasses.fields(cls.Params)}
    hints = typing.get_type_hints(cls.Params)
    values = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(src, f"algorithm.{key}", f"unknown parameter for {cls.name}",
                              f"use one of {sorted(fields) or 'no parameters'}")
        values[key] = _coerce(value, hints[key], src, f"algorithm.{key}")
    params = cls.Params(**values)
    cls.validate(params, topology, src)
    return params


MAX_INT_PARAM = 1_000_000
"""No algorithm parameter needs more; a bigger count is a typo that would hang the run."""


def _coerce(value: Any, hint: Any, src: str, fieldname: str) -> Any:
    if hint is bool:
        return checked_bool(value, src, fieldname)
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(src, fieldname, f"expected an integer, got {value!r}", "write a whole number")
        if abs(value) > MAX_INT_PARAM:
            raise ConfigError(src, fieldname, f"{value} is too big", f"use at most {MAX_INT_PARAM:,}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(src, fieldname, f"expected a number, got {value!r}", "write a number")
        if abs(value) > MAX_INT_PARAM:
            raise ConfigError(src, fieldname, f"{value} is too big", f"use at most {MAX_INT_PARAM:,}")
        return float(value)
    if hint is str and not isinstance(value, str):
        raise ConfigError(src, fieldname, f"expected text, got {value!r}", "write a name")
    if isinstance(value, list):
        return tuple(value)
    return value

