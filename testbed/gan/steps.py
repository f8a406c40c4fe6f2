"""Training steps as functions of (state, batch): one D step, one G step, and their gradients.

State goes in and is updated in place (torch modules are mutable); the
function returns plain loss numbers for logging.  The ``*_grads`` variants
compute the same gradients *without* stepping, as ``{name: array}`` dicts, for
algorithms whose workers push gradients (parameter server, Gaia).  All noise
comes from an explicit ``torch.Generator`` -- no global RNG.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from testbed.gan.flat import FlatLayout
from testbed.gan.losses import d_fake_loss, d_real_objective, g_loss
from testbed.gan.params import ParamDict, set_grads
from testbed.gan.state import GanState

ArrayLike = np.ndarray | torch.Tensor


def as_tensor(x: ArrayLike, device: torch.device | str | None = None) -> torch.Tensor:
    """A float32 tensor view/copy of a numpy array or tensor (on ``device`` if given)."""
    return torch.as_tensor(x, dtype=torch.float32, device=device)


def device_of(module: nn.Module) -> torch.device:
    """The device a module's parameters live on (CPU or a CUDA device)."""
    return next(module.parameters()).device


def sample_latent(n: int, latent_dim: int, generator: torch.Generator) -> torch.Tensor:
    """(n, latent_dim) standard normal noise from ``generator``."""
    return torch.randn(n, latent_dim, generator=generator, device=generator.device)


def _fakes(state: GanState, n: int, fake: ArrayLike | None,
           generator: torch.Generator | None) -> torch.Tensor:
    if fake is not None:
        return as_tensor(fake, device_of(state.D)).detach()
    if generator is None:
        raise ValueError("d_step without fake samples needs a torch.Generator to draw them")
    with torch.no_grad():
        return state.G(sample_latent(n, state.latent_dim, generator))


def _d_objective(state: GanState, real: ArrayLike, fake: ArrayLike | None, r1_gamma: float,
                 generator: torch.Generator | None, stats: bool = True) -> tuple[torch.Tensor, dict[str, float]]:
    real_t = as_tensor(real, device_of(state.D))
    fake_t = _fakes(state, real_t.shape[0], fake, generator)
    loss_real, penalty = d_real_objective(state.D, real_t, r1_gamma)
    loss_fake = d_fake_loss(state.D, fake_t)
    total = loss_real + loss_fake + penalty
    if not stats:  # four .item() calls a caller would throw away (a device sync each on a GPU)
        return total, {}
    return total, {"d_loss": total.item(), "d_loss_real": loss_real.item(), "d_loss_fake": loss_fake.item(),
                   "r1_penalty": penalty.item()}


def d_step(state: GanState, real: ArrayLike, fake: ArrayLike | None = None, r1_gamma: float = 0.0,
           generator: torch.Generator | None = None) -> dict[str, float]:
    """One Adam step of D on a real batch and a fake batch (drawn from G when ``fake`` is None)."""
    total, stats = _d_objective(state, real, fake, r1_gamma, generator)
    state.opt_d.zero_grad(set_to_none=True)
    total.backward(inputs=list(state.D.parameters()))
    state.opt_d.step()
    return stats


def g_step(state: GanState, batch_size: int, generator: torch.Generator) -> dict[str, float]:
    """One Adam step of G on the non-saturating loss for ``batch_size`` fresh latents."""
    loss = g_loss(state.D, state.G(sample_latent(batch_size, state.latent_dim, generator)))
    state.opt_g.zero_grad(set_to_none=True)
    loss.backward(inputs=list(state.G.parameters()))
    state.opt_g.step()
    return {"g_loss": loss.item()}


def _grads_of(loss: torch.Tensor, module: nn.Module) -> ParamDict:
    named = list(module.named_parameters())
    grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
    return {name: (np.zeros(tuple(p.shape), np.float32) if g is None
                   else g.detach().cpu().numpy().astype(np.float32))
            for (name, p), g in zip(named, grads, strict=True)}


def d_grads(state: GanState, real: ArrayLike, fake: ArrayLike | None = None, r1_gamma: float = 0.0,
            generator: torch.Generator | None = None) -> tuple[ParamDict, dict[str, float]]:
    """Gradient of D's full loss (as in :func:`d_step`) without stepping, and the loss numbers."""
    total, stats = _d_objective(state, real, fake, r1_gamma, generator)
    return _grads_of(total, state.D), stats


def g_grads(state: GanState, batch_size: int,
            generator: torch.Generator) -> tuple[ParamDict, dict[str, float]]:
    """Gradient of G's loss (as in :func:`g_step`) without stepping, and the loss number."""
    loss = g_loss(state.D, state.G(sample_latent(batch_size, state.latent_dim, generator)))
    return _grads_of(loss, state.G), {"g_loss": loss.item()}


def d_grad_vector(state: GanState, layout: FlatLayout, real: ArrayLike, r1_gamma: float = 0.0,
                  generator: torch.Generator | None = None) -> np.ndarray:
    """:func:`d_grads` as one flat vector (``flatten(d_grads(...)[0])``, to the bit) via D's ``layout``."""
    total, _ = _d_objective(state, real, None, r1_gamma, generator, stats=False)
    return layout.grad_vector(total)


def g_grad_vector(state: GanState, layout: FlatLayout, batch_size: int, generator: torch.Generator) -> np.ndarray:
    """:func:`g_grads` as one flat vector (``flatten(g_grads(...)[0])``, to the bit) via G's ``layout``."""
    loss = g_loss(state.D, state.G(sample_latent(batch_size, state.latent_dim, generator)))
    return layout.grad_vector(loss)


def apply_grads(module: nn.Module, optimizer: torch.optim.Optimizer, grads: ParamDict) -> None:
    """Step ``optimizer`` with the given gradient dict (e.g. an aggregated or remote gradient)."""
    optimizer.zero_grad(set_to_none=True)
    set_grads(module, grads)
    optimizer.step()


def apply_d_grads(state: GanState, grads: ParamDict) -> None:
    """Step D's optimiser with a given gradient dict."""
    apply_grads(state.D, state.opt_d, grads)


def apply_g_grads(state: GanState, grads: ParamDict) -> None:
    """Step G's optimiser with a given gradient dict."""
    apply_grads(state.G, state.opt_g, grads)
