"""The training state of one GAN: G, D, their Adam optimisers and the hyper-parameters.

Every algorithm (local, parameter server, FedAvg, MD-GAN, SQ learning) holds
one or more of these; the step functions in :mod:`testbed.gan.steps` take one
and update it, so a step can be replayed from a copy of the state.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from testbed.models import ModelConfig, build_models


@dataclass
class GanState:
    """G and D with one Adam optimiser each; ``latent_dim`` sizes the noise batches."""

    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    latent_dim: int
    config: ModelConfig | None = None


def adam_kernel(fused: bool) -> dict[str, bool]:
    """Keyword arguments choosing Adam's kernel: torch's default (foreach) unless ``fused``.

    ``fused=False`` is not passed through: torch then turns foreach off too and takes the slower
    per-tensor loop, whose rounding differs from the default's (every recorded run uses the default).
    """
    return {"fused": True} if fused else {}


def make_adam(module: nn.Module, lr: float, betas: tuple[float, float], fused: bool = False) -> torch.optim.Adam:
    """Adam over ``module``'s parameters (also used to reset optimiser state, e.g. on an MD-GAN swap)."""
    return torch.optim.Adam(module.parameters(), lr=lr, betas=betas, **adam_kernel(fused))


def make_gan_state(config: ModelConfig, sample_shape: tuple[int, ...], seed: int, lr_g: float = 2e-4,
                   lr_d: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999), fused: bool = False) -> GanState:
    """Build G and D from ``config`` (seeded) with fresh Adam optimisers (``fused``: torch's fused kernel)."""
    generator, discriminator = build_models(config, sample_shape, seed)
    return GanState(G=generator, D=discriminator, opt_g=make_adam(generator, lr_g, betas, fused),
                    opt_d=make_adam(discriminator, lr_d, betas, fused), latent_dim=config.latent_dim,
                    config=config)
