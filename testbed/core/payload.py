"""How many bytes a message payload is, counted the same way everywhere.

The byte-formula tests (docs/design.md §4) compare the accountant's ``payload_nbytes`` with
``4(|G|+|D|)`` and friends, so the count must be exactly the arrays' ``nbytes`` -- no
pickling overhead, no Python object sizes.  Payloads are ``{name: numpy array}`` dicts
(parameters, gradients, sample batches), arrays, raw ``bytes``, or nests of these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

HEADER_NBYTES = 64
"""Fixed per-message header (ids, kind, sequence number), reported apart from the payload."""


def payload_nbytes(payload: Any) -> int:
    """Bytes of a payload: the sum of its arrays' ``nbytes`` (``None`` is 0)."""
    if payload is None:
        return 0
    if isinstance(payload, np.ndarray):
        return int(payload.nbytes)
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return len(payload)
    if isinstance(payload, Mapping):
        return sum(payload_nbytes(v) for v in payload.values())
    if isinstance(payload, (list, tuple)):
        return sum(payload_nbytes(v) for v in payload)
    if isinstance(payload, (int, float, np.number)):
        return 8
    nbytes = getattr(payload, "nbytes", None)  # torch tensors, array-likes
    if isinstance(nbytes, int):
        return nbytes
    raise TypeError(f"cannot size a payload of type {type(payload).__name__}; send numpy arrays or dicts of them")
