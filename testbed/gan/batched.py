"""K workers' GAN training steps as one vmapped computation over stacked parameters.

Why: a logical worker's step on a small model (the digits DCGAN, mlp2d) is dominated by per-op
overhead, not arithmetic.  With ``executors: {batch: true}`` (testbed.exec.batching) K workers' queued
``train_steps`` calls run here as one computation: each net's parameters, BatchNorm buffers and
Adam moments are stacked along a new leading dimension, the forward passes run through
``torch.func.functional_call`` under ``torch.vmap``, the backward pass is one autograd call on the
sum of the K per-worker losses (the workers do not interact, so each slice of the gradient is that
worker's own gradient), Adam is the same element-wise update as ``torch.optim.Adam``'s
non-fused paths on the stacked tensors (a fused optimiser is declined), and everything is written
back into each worker's own modules and optimiser state.  Each worker's real batch and noise are
drawn by the caller from its own generators in the unbatched order, so the RNG streams are untouched.  Results equal the
unbatched step to float rounding (vmapped convolutions sum in another order): tests/test_batching.py.
Every tensor made here is made on the parameters' (or the batch's) device, so the batched path runs
on CUDA as it does on the CPU (tests/test_devices.py drives it on the ``meta`` device).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from torch.func import functional_call, vmap

from testbed.gan.state import GanState

_ADAM_FLAGS = ("amsgrad", "maximize", "capturable", "differentiable", "fused", "decoupled_weight_decay")


class StackedNet:
    """One net of K workers: parameters (leaf tensors with grad) and buffers stacked on dim 0."""

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        self.template = modules[0]
        self.names = [name for name, _ in self.template.named_parameters()]
        self.buffer_names = [name for name, _ in self.template.named_buffers()]
        self.own = [list(m.parameters()) for m in modules]  # same architecture: the same order as the names
        self.own_buffers = [list(m.buffers()) for m in modules]
        self.params = [torch.stack([row[i].detach() for row in self.own]).requires_grad_(True)
                       for i in range(len(self.names))]
        self.buffers = [torch.stack([row[i] for row in self.own_buffers]) for i in range(len(self.buffer_names))]
        self.batch_coupled = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.template.modules())
        """Whether a sample's output depends on the rest of its batch (BatchNorm in training mode)."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Each worker's net on its slice of ``x`` (K, B, ...); BatchNorm updates the stacked buffers."""
        def one(params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor], xs: torch.Tensor) -> torch.Tensor:
            return functional_call(self.template, (params, buffers), (xs,))
        return vmap(one)(dict(zip(self.names, self.params, strict=True)),
                         dict(zip(self.buffer_names, self.buffers, strict=True)), x)

    def write_back(self, params: bool = True) -> None:
        """Copy the stacked parameters (unless ``params`` is False) and buffers into each worker's own tensors."""
        with torch.no_grad():
            for k, (row, brow) in enumerate(zip(self.own, self.own_buffers, strict=True)):
                if params:
                    torch._foreach_copy_(row, [p[k] for p in self.params])
                if brow:
                    torch._foreach_copy_(brow, [b[k] for b in self.buffers])


def adam_supported(opt: torch.optim.Optimizer, params: Sequence[torch.Tensor]) -> bool:
    """Whether ``opt`` is a plain Adam over exactly ``params`` (what :class:`StackedAdam` replicates)."""
    if type(opt) is not torch.optim.Adam or len(opt.param_groups) != 1:
        return False
    group = opt.param_groups[0]
    if any(group.get(flag) for flag in _ADAM_FLAGS) or group["weight_decay"] != 0:
        return False
    return [id(p) for p in group["params"]] == [id(p) for p in params]


class StackedAdam:
    """K Adam optimisers (one per worker, same betas and eps) over a :class:`StackedNet`."""

    def __init__(self, opts: Sequence[torch.optim.Optimizer], net: StackedNet) -> None:
        group = opts[0].param_groups[0]
        self.opts, self.net = opts, net
        self.beta1, self.beta2 = group["betas"]
        self.eps = group["eps"]
        if any(o.param_groups[0]["betas"] != group["betas"] or o.param_groups[0]["eps"] != self.eps for o in opts):
            raise ValueError("the workers' Adam optimisers differ in betas or eps")
        self.lrs = [float(o.param_groups[0]["lr"]) for o in opts]
        states = [[o.state.get(p, {}) for p in row] for o, row in zip(opts, net.own, strict=True)]
        self.steps = [[float(s["step"]) if s else 0.0 for s in row] for row in states]
        self.exp_avg = [self._stack(states, i, "exp_avg") for i in range(len(net.params))]
        self.exp_avg_sq = [self._stack(states, i, "exp_avg_sq") for i in range(len(net.params))]

    def _stack(self, states: list[list[dict]], i: int, key: str) -> torch.Tensor:
        return torch.stack([row[i][key] if row[i] else torch.zeros_like(self.net.own[k][i])
                            for k, row in enumerate(states)])

    def step(self, grads: Sequence[torch.Tensor]) -> None:
        """One Adam update of every worker's slice, with ``torch.optim.Adam``'s formula (non-fused)."""
        with torch.no_grad():
            for i, (param, grad) in enumerate(zip(self.net.params, grads, strict=True)):
                for row in self.steps:
                    row[i] += 1.0
                exp_avg, exp_avg_sq = self.exp_avg[i], self.exp_avg_sq[i]
                exp_avg.lerp_(grad, 1 - self.beta1)
                exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
                sizes = [lr / (1 - self.beta1 ** row[i]) for lr, row in zip(self.lrs, self.steps, strict=True)]
                roots = [(1 - self.beta2 ** row[i]) ** 0.5 for row in self.steps]
                if len(set(sizes)) == 1 and len(set(roots)) == 1:  # the usual case: exactly Adam's scalar path
                    denom = (exp_avg_sq.sqrt() / roots[0]).add_(self.eps)
                    param.addcdiv_(exp_avg, denom, value=-sizes[0])
                else:  # workers at different steps or rates: the same formula, per-worker factors
                    shape = (-1,) + (1,) * (param.dim() - 1)
                    root_t = torch.tensor(roots, dtype=param.dtype, device=param.device).reshape(shape)
                    size_t = torch.tensor(sizes, dtype=param.dtype, device=param.device).reshape(shape)
                    denom = (exp_avg_sq.sqrt() / root_t).add_(self.eps)
                    param.sub_(exp_avg / denom * size_t)

    def write_back(self) -> None:
        """Store the stacked moments and step counts in each worker's optimiser state."""
        for k, (opt, row) in enumerate(zip(self.opts, self.net.own, strict=True)):
            for i, p in enumerate(row):
                state = opt.state[p]
                if state:
                    state["exp_avg"].copy_(self.exp_avg[i][k])
                    state["exp_avg_sq"].copy_(self.exp_avg_sq[i][k])
                    state["step"].fill_(self.steps[k][i])
                else:  # the optimiser's first step: the state torch.optim.Adam would have created (its
                    # non-capturable, non-fused kernels keep the step count on the CPU, wherever p is)
                    state["step"] = torch.tensor(self.steps[k][i], dtype=torch.float32)
                    state["exp_avg"] = self.exp_avg[i][k].clone()
                    state["exp_avg_sq"] = self.exp_avg_sq[i][k].clone()


def supported(states: Sequence[GanState]) -> bool:
    """Whether these states can step together: one architecture, plain Adam, distinct modules."""
    first = states[0]
    if len({id(s.G) for s in states}) != len(states) or len({id(s.D) for s in states}) != len(states):
        return False
    shapes = None
    for s in states:
        if type(s.G) is not type(first.G) or type(s.D) is not type(first.D) or s.latent_dim != first.latent_dim:
            return False
        g, d = list(s.G.parameters()), list(s.D.parameters())
        if not (adam_supported(s.opt_g, g) and adam_supported(s.opt_d, d)):
            return False
        mine = [p.shape for p in g + d] + [b.shape for b in [*s.G.buffers(), *s.D.buffers()]]
        if shapes is not None and mine != shapes:
            return False
        shapes = mine
    return True


def _softplus_mean(logits: torch.Tensor) -> torch.Tensor:
    """Per worker: mean softplus over its batch (logits (K, B, ...) -> (K,)), as testbed.gan.losses."""
    return F.softplus(logits.reshape(logits.shape[0], -1)).mean(dim=1)


def _grads(losses: torch.Tensor, net: StackedNet) -> list[torch.Tensor]:
    """Each worker's gradient of its own loss (the K losses are independent: one call on their sum)."""
    grads = torch.autograd.grad(losses.sum(), net.params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(net.params, grads, strict=True)]


def _d_objective(d_net: StackedNet, real: torch.Tensor, fake: torch.Tensor,
                 r1_gamma: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-worker (real loss, fake loss, R1 penalty), each of shape (K,).

    Without R1 and when D has no BatchNorm (the shipped discriminators have none: each sample's logit
    depends only on that sample), real and fake go through D as one batch: the same logits up to float
    rounding, for half the kernel launches."""
    if r1_gamma <= 0 and not d_net.batch_coupled:
        n = real.shape[1]
        logits = d_net(torch.cat([real, fake], dim=1))
        return (_softplus_mean(-logits[:, :n]), _softplus_mean(logits[:, n:]),
                torch.zeros(real.shape[0], device=real.device))
    loss_real = _softplus_mean(-d_net(real))
    if r1_gamma > 0:
        x = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(d_net(x).sum(), x, create_graph=True)
        penalty = 0.5 * r1_gamma * grad.pow(2).flatten(2).sum(dim=2).mean(dim=1)
    else:
        penalty = torch.zeros(real.shape[0], device=real.device)
    return loss_real, _softplus_mean(d_net(fake)), penalty


LOSS_NAMES = ("d_loss", "d_loss_real", "d_loss_fake", "r1_penalty", "g_loss")


def train_step(states: Sequence[GanState], real: torch.Tensor, z_d: torch.Tensor, z_g: torch.Tensor,
               r1_gamma: float, simultaneous: bool) -> list[dict[str, float]]:
    """One D and one G step of each state (alternating, or simultaneous from the same parameters).

    ``real`` (K, B, ...), ``z_d`` (K, B, latent) and ``z_g`` (K, B_g, latent): each worker's batch and
    noise, drawn as the unbatched step draws them.  Returns each worker's loss numbers."""
    losses = step_losses(states, real, z_d, z_g, r1_gamma, simultaneous)
    return [dict(zip(LOSS_NAMES, row, strict=True)) for row in losses.T.tolist()]


def step_losses(states: Sequence[GanState], real: torch.Tensor, z_d: torch.Tensor, z_g: torch.Tensor,
                r1_gamma: float, simultaneous: bool) -> torch.Tensor:
    """:func:`train_step`, its losses left on the device: a (5, K) tensor in :data:`LOSS_NAMES` order."""
    g_net, d_net = StackedNet([s.G for s in states]), StackedNet([s.D for s in states])
    opt_g, opt_d = StackedAdam([s.opt_g for s in states], g_net), StackedAdam([s.opt_d for s in states], d_net)
    with torch.no_grad():
        fake = g_net(z_d)
    loss_real, loss_fake, penalty = _d_objective(d_net, real, fake.detach(), r1_gamma)
    total = loss_real + loss_fake + penalty
    grad_d = _grads(total, d_net)
    if not simultaneous:
        opt_d.step(grad_d)
    loss_g = _softplus_mean(-d_net(g_net(z_g)))
    grad_g = _grads(loss_g, g_net)
    if simultaneous:
        opt_d.step(grad_d)
    opt_g.step(grad_g)
    for part in (g_net, d_net, opt_g, opt_d):
        part.write_back()
    return torch.stack([total, loss_real, loss_fake, penalty, loss_g]).detach()


def gradients(states: Sequence[GanState], real: torch.Tensor, z_d: torch.Tensor, z_g: torch.Tensor,
              r1_gamma: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each state's flat G and D gradient vectors, as ``g_grad_vector`` / ``d_grad_vector`` compute them
    (testbed.gan.steps): no step; G's BatchNorm statistics advance as in the unbatched calls."""
    grad_g, grad_d = gradient_tensors(states, real, z_d, z_g, r1_gamma)

    def flat(grads: list[torch.Tensor], k: int) -> np.ndarray:
        return torch.cat([g[k].reshape(-1) for g in grads]).detach().cpu().numpy().astype(np.float32, copy=False)

    return [flat(grad_g, k) for k in range(len(states))], [flat(grad_d, k) for k in range(len(states))]


def gradient_tensors(states: Sequence[GanState], real: torch.Tensor, z_d: torch.Tensor, z_g: torch.Tensor,
                     r1_gamma: float) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """:func:`gradients` left on the device: G's and D's stacked per-parameter gradients (K first)."""
    g_net, d_net = StackedNet([s.G for s in states]), StackedNet([s.D for s in states])
    with torch.no_grad():
        fake = g_net(z_d)
    loss_real, loss_fake, penalty = _d_objective(d_net, real, fake.detach(), r1_gamma)
    grad_d = _grads(loss_real + loss_fake + penalty, d_net)
    grad_g = _grads(_softplus_mean(-d_net(g_net(z_g))), g_net)
    g_net.write_back(params=False)
    d_net.write_back(params=False)
    return grad_g, grad_d
