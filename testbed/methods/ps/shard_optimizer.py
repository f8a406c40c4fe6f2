"""The parameter server's shard optimiser: Adam (the default) or SGD with momentum.

Why a choice: the top-k studies compare sparsified gradients under the optimiser Deep Gradient
Compression was designed for (Lin et al., ICLR 2018: SGD with momentum, and its momentum correction at
the workers) with the testbed's default, Adam at the shard.  ``shard_optimizer: sgd`` is torch's
``SGD(momentum=shard_momentum)`` (no dampening, no Nesterov; momentum 0 when not given, torch's default)
on the same parameter groups, with the same ``lr_g`` / ``lr_d`` and the same lr schedule as Adam --
``training.beta1`` / ``beta2`` are then unused by the shard.  ``shard_momentum`` is refused with Adam
(whose momentum is ``training.beta1``): a setting that would do nothing is an error, not a silent no-op.
"""

from __future__ import annotations

from typing import Any

import torch

from testbed.core.errors import ConfigError
from testbed.core.fields import checked_number
from testbed.gan.state import adam_kernel
from testbed.methods.common.training import Training

SHARD_OPTIMIZERS = ("adam", "sgd")
"""``adam``: torch Adam with ``training.beta1`` / ``beta2`` (today's behaviour); ``sgd``: SGD with momentum."""


def check_shard_optimizer(name: str, momentum: float | None, src: str) -> None:
    """One-line ConfigErrors for ``algorithm.shard_optimizer`` and ``algorithm.shard_momentum``."""
    if name not in SHARD_OPTIMIZERS:
        raise ConfigError(src, "algorithm.shard_optimizer", f"unknown shard optimiser {name!r}",
                          f"use one of {list(SHARD_OPTIMIZERS)}")
    if momentum is None:
        return
    if name == "adam":
        raise ConfigError(src, "algorithm.shard_momentum", "shard_optimizer adam does not use it (its momentum is "
                          "training.beta1), so it would do nothing", "remove it, or set shard_optimizer: sgd")
    checked_number(momentum, src, "algorithm.shard_momentum", float, 0, 1, "[)")


def make_shard_optimizer(groups: list[dict[str, Any]], training: Training, name: str = "adam",
                         momentum: float | None = None) -> torch.optim.Optimizer:
    """The torch optimiser of a shard's parameter ``groups`` (each with its ``lr``)."""
    if name == "sgd":
        return torch.optim.SGD(groups, momentum=0.0 if momentum is None else float(momentum))
    if name != "adam":
        raise ValueError(f"unknown shard optimiser {name!r}; use one of {list(SHARD_OPTIMIZERS)}")
    return torch.optim.Adam(groups, betas=(training.beta1, training.beta2), **adam_kernel(training.fused_adam))
