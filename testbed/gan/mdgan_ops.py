"""MD-GAN's split of the generator update: samples out, error feedback back, backprop on the server.

The server draws z and sends x = G(z) to a worker; the worker returns
F = d(G loss)/dx for those samples (same shape as x, mean over the batch so the
1/b factor is inside F); the server runs x.backward(F) through G and steps.
With the same D and z this is exactly a :func:`~testbed.gan.steps.g_step`
(tested), which is why MD-GAN's G update is faithful.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from testbed.gan.losses import g_loss
from testbed.gan.state import GanState
from testbed.gan.steps import as_tensor, device_of, sample_latent


def sample_fakes(G: nn.Module, n: int, generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
    """(z, x): ``n`` latents from ``generator`` and G's samples for them, as float32 arrays."""
    z = sample_latent(n, G.latent_dim, generator)  # type: ignore[arg-type]
    with torch.no_grad():
        x = G(z)
    return z.cpu().numpy().astype(np.float32), x.cpu().numpy().astype(np.float32)


def feedback_on_samples(D: nn.Module, x: np.ndarray) -> np.ndarray:  # noqa: N803
    """F = d/dx mean softplus(-D(x)): the error feedback for generated samples (shape of ``x``)."""
    x_t = as_tensor(x, device_of(D)).detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(g_loss(D, x_t), x_t)
    return grad.cpu().numpy().astype(np.float32)


def apply_feedback(target: GanState | tuple[nn.Module, torch.optim.Optimizer],
                   z: np.ndarray | Sequence[np.ndarray], feedbacks: Sequence[np.ndarray]) -> None:
    """Back-propagate feedback through G and step G's optimiser.

    ``z`` one array: all feedbacks refer to x = G(z) and their mean is used.
    ``z`` a list (one per feedback, e.g. k distinct batches): G's gradient is the
    mean over n of (dG(z_n)/dw)^T F_n.  ``target`` is a GanState or (G, optimiser).
    """
    G, opt = (target.G, target.opt_g) if isinstance(target, GanState) else target  # noqa: N806
    if not feedbacks:
        raise ValueError("apply_feedback needs at least one feedback array")
    opt.zero_grad(set_to_none=True)
    params = list(G.parameters())
    if isinstance(z, np.ndarray | torch.Tensor):
        x = G(as_tensor(z, device_of(G)))
        x.backward(as_tensor(np.mean(np.stack(feedbacks), axis=0), x.device), inputs=params)
    else:
        if len(z) != len(feedbacks):
            raise ValueError(f"{len(z)} latent batches but {len(feedbacks)} feedbacks")
        for z_n, f_n in zip(z, feedbacks, strict=True):
            x_n = G(as_tensor(z_n, device_of(G)))
            x_n.backward(as_tensor(f_n, x_n.device) / len(feedbacks), inputs=params)
    opt.step()
