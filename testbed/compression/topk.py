"""``topk``: send only the k largest-magnitude entries, keeping the rest on the sender (error feedback).

Why error feedback: dropping 99 % of a gradient every step biases training; keeping the unsent part
and adding it to the next message (Seide et al. 2014; Stich et al. 2018, "Sparsified SGD with memory")
delivers every entry eventually.  The residual lives on the sender's node state, one per
(message kind, destination), so it is kept where the data is (testbed.compression.endpoint).  It is
only meaningful where successive messages of a kind are increments of one vector -- gradients:
error feedback defaults on for a method's gradient kinds and off elsewhere, and asking for it on
another kind is an error (testbed.compression.spec).

Bytes: of n entries, k = ceil(r * n) are sent (r the ratio as written, computed exactly: 0.07 of 100 is
7), each as an int32 index and a float32 value -- **8k bytes**.  The receiver gets a dense vector,
zero outside the k indices.  Top-k suits gradient-like kinds (``grads_g``, ``grads_d``); on parameters
it would zero the rest of the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from testbed.compression.base import INDEX_NBYTES, VALUE_NBYTES, Transform, argument_mapping, register
from testbed.core.fields import checked_bool, checked_number


@register("topk")
@dataclass(frozen=True)
class TopK(Transform):
    """The ``ratio`` r in (0, 1] of entries to send; ``error_feedback`` (None: on for gradient kinds)."""

    ratio: float
    error_feedback: bool | None = None
    keys: ClassVar[tuple[str, ...]] = ("ratio", "error_feedback")
    """The argument's keys; a bare number is the ratio."""

    def count(self, numel: int) -> int:
        """k = ceil(r * n), with r taken exactly as its decimal text."""
        return math.ceil(Fraction(repr(float(self.ratio))) * numel)

    def nbytes(self, numel: int) -> int:
        """8 k: an int32 index and a float32 value per kept entry."""
        return (INDEX_NBYTES + VALUE_NBYTES) * self.count(numel)

    def encode(self, values: np.ndarray, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        k = self.count(len(values))
        if k == 0:
            return {"indices": np.zeros(0, dtype=np.int32), "values": np.zeros(0, dtype=np.float32)}
        top = np.argpartition(-np.abs(values), k - 1)[:k] if k < len(values) else np.arange(len(values))
        indices = np.sort(top).astype(np.int32)
        return {"indices": indices, "values": values[indices].astype(np.float32)}

    def decode(self, parts: dict[str, np.ndarray], numel: int) -> np.ndarray:
        dense = np.zeros(numel, dtype=np.float32)
        dense[parts["indices"]] = parts["values"]
        return dense

    def to_config(self) -> Any:
        return {"topk": {"ratio": self.ratio, "error_feedback": self.error_feedback}}

    @classmethod
    def parse(cls, value: Any, src: str, fieldname: str) -> TopK:
        """``topk: 0.01`` or ``topk: {ratio: 0.01, error_feedback: false}``."""
        value = argument_mapping(value, src, fieldname, cls.keys, "ratio: 0.01 (the fraction of entries sent)")
        ratio = checked_number(value["ratio"], src, f"{fieldname}.ratio", float, 0, 1, "(]")
        feedback = value.get("error_feedback")
        return cls(ratio, None if feedback is None else checked_bool(feedback, src, f"{fieldname}.error_feedback"))

