"""The one walk over nested payloads: lists, tuples and mappings, to any depth.

Why one module: three executors each walked call arguments to swap handles for something else --
the in-process executor for values, the Ray driver for ObjectRefs, the Ray actor for fetched
values (Ray resolves only top-level ObjectRef arguments) -- and three copies of a recursive walk
drift (one took any ``Mapping``, two only ``dict``).  :func:`map_leaves` is that walk;
testbed.exec.executor.map_handles and testbed.runtime use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def map_leaves(value: Any, fn: Callable[[Any], Any], is_leaf: Callable[[Any], bool]) -> Any:
    """``value`` with every part for which ``is_leaf`` holds replaced by ``fn(part)``.

    Lists and tuples keep their type, mappings become dicts; anything else that is not a leaf is
    returned as it is (arrays are not walked into)."""
    if is_leaf(value):
        return fn(value)
    if isinstance(value, (list, tuple)):
        return type(value)(map_leaves(v, fn, is_leaf) for v in value)
    if isinstance(value, Mapping):
        return {k: map_leaves(v, fn, is_leaf) for k, v in value.items()}
    return value
