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

Deep Gradient Compression (Lin et al., ICLR 2018, section 3) adds two options, both off by default:

* ``momentum_correction: m`` -- the sender accumulates velocity, not gradients: per (kind, destination),
  u <- m u + g;  v <- v + u;  send top-k(v);  zero v and u at the sent indices (momentum factor
  masking).  v is the error-feedback residual, so the option needs error feedback; m = 0 is plain
  error feedback.  The receiver then applies what it gets with SGD *without* momentum (the ps's
  ``shard_optimizer: sgd, shard_momentum: 0``): momentum already happened at the sender.  DGC's local
  gradient clipping is not implemented.
* ``warmup: W`` -- DGC's exponential sparsity warm-up: a sender's message number i = 0, 1, ... of a
  (kind, destination) uses ratio r_i = max(0.25^(s+1), r) with stage s = floor(4 i / W) for i < W (four
  equal stages: 0.25, 0.0625, 0.015625, 0.00390625, each floored at r), then r.  The engine counts the
  messages (testbed.compression.wire) and so knows each one's size before its values exist: message i
  is **8 ceil(r_i n) bytes**, a run's top-k bytes the sum of that over its messages.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from testbed.compression.base import INDEX_NBYTES, VALUE_NBYTES, Transform, argument_mapping, register
from testbed.core.fields import checked_bool, checked_number

MAX_WARMUP = 1_000_000
"""Warm-up messages: no run sends more of one kind to one destination; a bigger number is a typo."""


@register("topk")
@dataclass(frozen=True)
class TopK(Transform):
    """The ``ratio`` r in (0, 1] of entries to send; ``error_feedback`` (None: on for gradient kinds);
    DGC's ``momentum_correction`` m in [0, 1) (None: off) and sparsity ``warmup`` in messages (0: off)."""

    ratio: float
    error_feedback: bool | None = None
    momentum_correction: float | None = None
    warmup: int = 0
    keys: ClassVar[tuple[str, ...]] = ("ratio", "error_feedback", "momentum_correction", "warmup")
    """The argument's keys; a bare number is the ratio."""

    def ratio_at(self, index: int) -> float:
        """The ratio of a sender's message number ``index`` (from 0) of one (kind, destination): DGC's
        warm-up stages 0.25^(s+1), s = floor(4 index / warmup), floored at ``ratio``; ``ratio`` after."""
        if index >= self.warmup:
            return self.ratio
        return max(0.25 ** (4 * index // self.warmup + 1), self.ratio)

    def at_message(self, index: int) -> Transform:
        if index >= self.warmup:
            return self
        return dataclasses.replace(self, ratio=self.ratio_at(index), warmup=0)

    def needs_error_feedback(self) -> str | None:
        return "momentum_correction" if self.momentum_correction is not None else None

    def sent_indices(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        return parts["indices"]

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
        """DGC's options appear only when set, so a run without them writes the config it always did."""
        config: dict[str, Any] = {"ratio": self.ratio, "error_feedback": self.error_feedback}
        if self.momentum_correction is not None:
            config["momentum_correction"] = self.momentum_correction
        if self.warmup:
            config["warmup"] = self.warmup
        return {"topk": config}

    @classmethod
    def parse(cls, value: Any, src: str, fieldname: str) -> TopK:
        """``topk: 0.01`` or ``topk: {ratio: 0.01, error_feedback: false}`` or
        ``topk: {ratio: 0.01, momentum_correction: 0.9, warmup: 300}``."""
        value = argument_mapping(value, src, fieldname, cls.keys, "ratio: 0.01 (the fraction of entries sent)")
        ratio = checked_number(value["ratio"], src, f"{fieldname}.ratio", float, 0, 1, "(]")
        feedback = value.get("error_feedback")
        momentum = value.get("momentum_correction")
        warmup = value.get("warmup")
        return cls(ratio, None if feedback is None else checked_bool(feedback, src, f"{fieldname}.error_feedback"),
                   None if momentum is None else checked_number(momentum, src, f"{fieldname}.momentum_correction",
                                                                float, 0, 1, "[)"),
                   0 if warmup is None else checked_number(warmup, src, f"{fieldname}.warmup", int, 0, MAX_WARMUP))

