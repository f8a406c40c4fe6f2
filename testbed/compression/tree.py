"""A payload (an array, or dicts and lists of arrays) <-> one flat float32 vector and its structure.

Why: a transform compresses one vector, but methods send nests of arrays -- FedAvg's G snapshot is
``{"params": {...}, "buffers": {...}}``, a PS push is one flat array.  Flattening every leaf in a fixed
order (dict keys as given, lists in order) lets one transform, and one byte formula in the entry
count n, cover every payload; the structure travels beside the values and is not counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Tree = tuple
"""("array", shape) | ("dict", ((key, tree), ...)) | ("list", (tree, ...), is_tuple)."""


def flatten(payload: Any) -> tuple[np.ndarray, Tree]:
    """Every float32 leaf of ``payload`` concatenated (float32), and the structure to rebuild it."""
    leaves: list[np.ndarray] = []
    tree = _structure(payload, leaves)
    flat = np.concatenate([leaf.ravel() for leaf in leaves]) if leaves else np.zeros(0, dtype=np.float32)
    return flat.astype(np.float32, copy=False), tree


def unflatten(flat: np.ndarray, tree: Tree) -> Any:
    """The payload of structure ``tree`` whose leaves, in order, are the entries of ``flat``."""
    value, used = _rebuild(flat, tree, 0)
    if used != len(flat):
        raise ValueError(f"the structure holds {used} entries but {len(flat)} arrived")
    return value


def _structure(payload: Any, leaves: list[np.ndarray]) -> Tree:
    if isinstance(payload, np.ndarray):
        if payload.dtype != np.float32:
            raise TypeError(f"compression applies to float32 arrays, not {payload.dtype}: compress only tensor kinds")
        leaves.append(payload)
        return ("array", payload.shape)
    if isinstance(payload, dict):
        return ("dict", tuple((key, _structure(value, leaves)) for key, value in payload.items()))
    if isinstance(payload, (list, tuple)):
        return ("list", tuple(_structure(value, leaves) for value in payload), isinstance(payload, tuple))
    raise TypeError(f"cannot compress a payload of type {type(payload).__name__}; send float32 arrays or dicts of them")


def _rebuild(flat: np.ndarray, tree: Tree, at: int) -> tuple[Any, int]:
    if tree[0] == "array":
        size = int(np.prod(tree[1], dtype=np.int64))
        return flat[at:at + size].reshape(tree[1]), at + size
    if tree[0] == "dict":
        out: dict[Any, Any] = {}
        for key, sub in tree[1]:
            out[key], at = _rebuild(flat, sub, at)
        return out, at
    items = []
    for sub in tree[1]:
        item, at = _rebuild(flat, sub, at)
        items.append(item)
    return (tuple(items) if tree[2] else items), at
