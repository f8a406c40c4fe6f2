"""The GAN objective in one place: non-saturating losses and the R1 penalty.

D minimises softplus(-D(real)) + softplus(D(fake)) (+ R1 = gamma/2 E||grad_x D(x)||^2 on
real data, Mescheder et al. 2018); G minimises softplus(-D(G(z))).  Every step,
gradient query and MD-GAN feedback is computed from these functions so all
algorithms optimise exactly the same objective.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn


def d_real_loss(D: nn.Module, real: torch.Tensor) -> torch.Tensor:  # noqa: N803
    """Mean softplus(-D(real)): the real-data half of D's loss."""
    return F.softplus(-D(real).reshape(-1)).mean()


def d_fake_loss(D: nn.Module, fake: torch.Tensor) -> torch.Tensor:  # noqa: N803
    """Mean softplus(D(fake)): the generated-data half of D's loss."""
    return F.softplus(D(fake).reshape(-1)).mean()


def g_loss(D: nn.Module, fake: torch.Tensor) -> torch.Tensor:  # noqa: N803
    """Non-saturating generator loss: mean softplus(-D(G(z)))."""
    return F.softplus(-D(fake).reshape(-1)).mean()


def r1_penalty(D: nn.Module, real: torch.Tensor, gamma: float) -> torch.Tensor:  # noqa: N803
    """gamma/2 * E||grad_x D(x)||^2 over real samples (differentiable w.r.t. D's parameters)."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return 0.5 * gamma * grad.pow(2).flatten(1).sum(dim=1).mean()


def d_real_objective(D: nn.Module, real: torch.Tensor, r1_gamma: float) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: N803
    """(real loss, R1 penalty) -- R1 computed only when gamma > 0 (else a zero tensor)."""
    penalty = r1_penalty(D, real, r1_gamma) if r1_gamma > 0 else torch.zeros((), device=real.device)
    return d_real_loss(D, real), penalty
