"""Registry of distribution methods: ``ALGORITHMS[name]`` is an :class:`Algorithm` class.

Adding a method is adding a module here with ``@register("name")`` on its class;
its ``Params`` dataclass is the schema of its YAML parameters (unknown keys and
wrong types are one-line ConfigErrors), so there is no ``if name == ...`` anywhere.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
import typing
from collections.abc import Callable
from typing import Any

from testbed.algorithms.base import Algorithm
from testbed.errors import ConfigError
from testbed.topology import Topology

ALGORITHMS: dict[str, type[Algorithm]] = {}


def register(name: str) -> Callable[[type[Algorithm]], type[Algorithm]]:
    """Class decorator: register an algorithm under ``name``."""

    def add(cls: type[Algorithm]) -> type[Algorithm]:
        if name in ALGORITHMS:
            raise RuntimeError(f"algorithm {name!r} registered twice")
        cls.name = name
        ALGORITHMS[name] = cls
        return cls

    return add


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


def algorithm_class(name: str) -> type[Algorithm]:
    """The class registered as ``name`` (KeyError with the known names otherwise)."""
    _load_all()
    if name not in ALGORITHMS:
        raise KeyError(f"unknown algorithm {name!r}; use one of {sorted(ALGORITHMS)}")
    return ALGORITHMS[name]


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
        if not isinstance(value, bool):
            raise ConfigError(src, fieldname, f"expected true or false, got {value!r}", "write true or false")
        return value
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


__all__ = ["ALGORITHMS", "Algorithm", "algorithm_class", "parse_params", "register"]
