"""Statistical-query learning's split of D's gradient: real-data terms answered by each datacenter.

Raw data never leaves a datacenter: the learner asks each DC for the mean
gradient of D's *real-data* loss on a local batch (the ``sq_answer``), adds the
fake-data gradient it computes itself, and steps D with the sum.
"""

from __future__ import annotations

from torch import nn

from testbed.gan.losses import d_fake_loss, d_real_objective
from testbed.gan.params import ParamDict
from testbed.gan.steps import ArrayLike, _grads_of, as_tensor, device_of


def d_real_grad(D: nn.Module, real: ArrayLike, r1_gamma: float = 0.0) -> ParamDict:  # noqa: N803
    """Gradient of mean softplus(-D(real)) (+ R1 if gamma > 0) w.r.t. D's parameters."""
    loss, penalty = d_real_objective(D, as_tensor(real, device_of(D)), r1_gamma)
    return _grads_of(loss + penalty, D)


def d_fake_grad(D: nn.Module, fake: ArrayLike) -> ParamDict:  # noqa: N803
    """Gradient of mean softplus(D(fake)) w.r.t. D's parameters."""
    return _grads_of(d_fake_loss(D, as_tensor(fake, device_of(D)).detach()), D)


def add_grads(*grads: ParamDict, weights: list[float] | None = None) -> ParamDict:
    """Sum (optionally weighted) of gradient dicts with the same keys, e.g. real answer + fake term."""
    w = weights or [1.0] * len(grads)
    return {name: sum(wk * g[name] for wk, g in zip(w, grads, strict=True)) for name in grads[0]}
