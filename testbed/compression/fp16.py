"""``fp16``: every entry as an IEEE half-precision float, saturated at +-65504.

Why saturate: a finite float32 beyond half precision's range would arrive as infinity and poison the
receiver's model; clipping to the largest finite half keeps values finite.  (A NaN or an infinity
never gets here: the sender stops the run instead, testbed.compression.endpoint.)  Relative error is at
most 2^-11 for normal values (|x| >= 2^-14), absolute at most 2^-25 below that.

Bytes: of n entries, **2n**.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from testbed.compression.base import Transform, register
from testbed.core.errors import ConfigError

HALF_NBYTES = 2
HALF_MAX = 65504.0


@register("fp16")
@dataclass(frozen=True)
class Fp16(Transform):
    """Half precision; no parameters."""


    def nbytes(self, numel: int) -> int:
        """2 n."""
        return HALF_NBYTES * numel

    def encode(self, values: np.ndarray, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        return {"values": np.clip(values, -HALF_MAX, HALF_MAX).astype(np.float16)}

    def decode(self, parts: dict[str, np.ndarray], numel: int) -> np.ndarray:
        return parts["values"].astype(np.float32)

    def to_config(self) -> Any:
        return "fp16"

    @classmethod
    def parse(cls, value: Any, src: str, fieldname: str) -> Fp16:
        """``fp16`` (a bare name), ``fp16: true`` or ``fp16: {}``."""
        if value not in (None, True, {}):
            raise ConfigError(src, fieldname, f"fp16 takes no parameters, got {value!r}", "write just fp16")
        return cls()

