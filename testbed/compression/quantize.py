"""``quantize``: b-bit uniform quantisation in buckets, each with its own float32 range.

Why buckets: one range for a whole message lets a few large entries (BatchNorm variances beside
small weights) wash out everything else; QSGD (Alistarh et al. 2017) scales per bucket of entries.
Each bucket of ``bucket`` entries sends its minimum and maximum (two float32) and every entry as one
of 2^b evenly spaced levels between them.  ``rounding: stochastic`` (the default, QSGD's) rounds an
entry up with probability equal to its distance from the level below, in level units, so the value
received is unbiased (its expectation is the value sent) and off by less than one level; the draws
come from the sender's stream for the (kind, destination), seeded by the run's seed.  ``nearest``
rounds to the nearest level (error at most half a level, but biased: a coordinate that is always 0
comes back as the same non-zero level every time).  No error feedback (unbiased by construction).

Bytes: of n entries with bucket size s, **ceil(n b / 8) + 8 ceil(n / s)** -- the levels bit-packed,
plus two float32 per bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from testbed.compression.base import VALUE_NBYTES, Transform, argument_mapping, register
from testbed.core.errors import ConfigError
from testbed.core.fields import checked_number

KEYS = ("bits", "bucket", "rounding")
ROUNDINGS = ("stochastic", "nearest")
DEFAULT_BUCKET = 512
MAX_BUCKET = 65536


@register("quantize")
@dataclass(frozen=True)
class Quantize(Transform):
    """``bits`` b in [1, 16] per entry; ``bucket`` s entries share one (min, max) pair; ``rounding``."""

    bits: int
    bucket: int = DEFAULT_BUCKET
    rounding: str = "stochastic"

    def nbytes(self, numel: int) -> int:
        """ceil(n b / 8) + 8 ceil(n / s)."""
        return math.ceil(numel * self.bits / 8) + 2 * VALUE_NBYTES * math.ceil(numel / self.bucket)

    def encode(self, values: np.ndarray, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        n = len(values)
        buckets = math.ceil(n / self.bucket)
        padded = np.zeros(buckets * self.bucket, dtype=np.float64)
        padded[:n] = values
        rows = padded.reshape(buckets, self.bucket)
        counts = np.minimum(self.bucket, n - np.arange(buckets) * self.bucket)
        valid = np.arange(self.bucket)[None, :] < counts[:, None]
        lo = np.where(valid, rows, np.inf).min(axis=1) if buckets else np.zeros(0)
        hi = np.where(valid, rows, -np.inf).max(axis=1) if buckets else np.zeros(0)
        scales = np.stack([lo, hi], axis=1).astype(np.float32)
        levels = self._levels(rows, scales, rng).ravel()[:n]
        shifts = np.arange(self.bits - 1, -1, -1, dtype=np.uint32)
        bits = ((levels[:, None] >> shifts) & 1).astype(np.uint8)
        return {"levels": np.packbits(bits.ravel()), "scales": scales}

    def _levels(self, rows: np.ndarray, scales: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        lo, step = self._grid(scales)
        safe = np.where(step > 0, step, 1.0)
        position = (rows - lo[:, None]) / safe[:, None]
        if self.rounding == "nearest":
            q = np.rint(position)
        else:
            if rng is None:
                raise ValueError("stochastic rounding needs the sender's random stream")
            below = np.floor(position)
            q = below + (rng.random(position.shape) < position - below)
        return np.clip(q, 0, 2**self.bits - 1).astype(np.uint32)

    def _grid(self, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = scales[:, 0].astype(np.float64), scales[:, 1].astype(np.float64)
        return lo, (hi - lo) / (2**self.bits - 1)

    def decode(self, parts: dict[str, np.ndarray], numel: int) -> np.ndarray:
        bits = np.unpackbits(parts["levels"], count=numel * self.bits).reshape(numel, self.bits)
        levels = bits.astype(np.uint32) @ (1 << np.arange(self.bits - 1, -1, -1, dtype=np.uint32))
        lo, step = self._grid(parts["scales"])
        bucket_of = np.arange(numel) // self.bucket
        return (lo[bucket_of] + levels * step[bucket_of]).astype(np.float32)

    def to_config(self) -> Any:
        return {"quantize": {"bits": self.bits, "bucket": self.bucket, "rounding": self.rounding}}

    @classmethod
    def parse(cls, value: Any, src: str, fieldname: str) -> Quantize:
        """``quantize: 8`` or ``quantize: {bits: 8, bucket: 512, rounding: stochastic}``."""
        value = argument_mapping(value, src, fieldname, KEYS, "bits: 8 (per entry)")
        bits = checked_number(value["bits"], src, f"{fieldname}.bits", int, 1, 16)
        bucket = checked_number(value.get("bucket", DEFAULT_BUCKET), src, f"{fieldname}.bucket", int, 1, MAX_BUCKET)
        rounding = value.get("rounding", "stochastic")
        if rounding not in ROUNDINGS:
            raise ConfigError(src, f"{fieldname}.rounding", f"unknown rounding {rounding!r}",
                              "use stochastic (unbiased, QSGD) or nearest (biased, half a level at most)")
        return cls(bits, bucket, rounding)

