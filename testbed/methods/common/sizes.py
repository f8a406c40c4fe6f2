"""How many bytes each message a method sends will be, known from the models' shapes.

Why: the engine must know a message's size the moment it is sent, to start its flow.  A
payload that is still being computed on an executor (a Ray actor) has no size until it is
fetched, and fetching it on every send would block the driver on every computed payload --
exactly what the design forbids (the engine blocks only when control flow needs a value).
So a method declares the size of every computed payload it sends, from these shapes; the
in-process executor checks every declared size against the real payload (tests run there),
so a wrong formula fails loudly instead of skewing the byte counts.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from testbed.gan import count_params
from testbed.methods.common.setup import NodeSetup
from testbed.models import build_models

FLOAT_NBYTES = 4
"""Parameters, gradients and samples travel as float32."""


@dataclass(frozen=True)
class WireSizes:
    """Element counts of what methods send: G's parameters and float buffers, D's parameters, one sample."""

    g_params: int
    g_buffers: int
    d_params: int
    sample_numel: int

    @property
    def g_nbytes(self) -> int:
        """G's parameters (a dict or a flat vector): 4|G|."""
        return FLOAT_NBYTES * self.g_params

    @property
    def g_snapshot_nbytes(self) -> int:
        """G's parameters and BatchNorm statistics: 4(|G| + |G_bn|)."""
        return FLOAT_NBYTES * (self.g_params + self.g_buffers)

    @property
    def d_nbytes(self) -> int:
        """D's parameters or a gradient of them: 4|D|."""
        return FLOAT_NBYTES * self.d_params

    def samples_nbytes(self, batch_size: int) -> int:
        """A batch of ``batch_size`` samples, or a feedback of the same shape: 4 b d."""
        return FLOAT_NBYTES * batch_size * self.sample_numel


@functools.lru_cache(maxsize=8)
def wire_sizes(setup: NodeSetup) -> WireSizes:
    """The sizes of the run's models (built once per process, without optimisers or data: a replay has none)."""
    generator, discriminator = build_models(setup.model_config(), setup.sample_shape, setup.seed)
    g_buffers = sum(b.numel() for b in generator.buffers() if b.is_floating_point())
    return WireSizes(count_params(generator), int(g_buffers), count_params(discriminator),
                     math.prod(setup.sample_shape))
