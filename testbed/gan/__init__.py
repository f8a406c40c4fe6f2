"""GAN training primitives shared by every algorithm: state, steps, MD-GAN and SQ splits, param dicts."""

from __future__ import annotations

from testbed.gan.losses import d_fake_loss, d_real_loss, g_loss, r1_penalty
from testbed.gan.mdgan_ops import apply_feedback, feedback_on_samples, sample_fakes
from testbed.gan.params import (
    ParamDict,
    average_params,
    count_params,
    flatten,
    generator_snapshot,
    get_buffers,
    get_grads,
    get_params,
    params_nbytes,
    set_buffers,
    set_grads,
    set_params,
    unflatten,
)
from testbed.gan.sq_ops import add_grads, d_fake_grad, d_real_grad
from testbed.gan.state import GanState, make_adam, make_gan_state
from testbed.gan.steps import (
    apply_d_grads,
    apply_g_grads,
    apply_grads,
    d_grads,
    d_step,
    g_grads,
    g_step,
    sample_latent,
)

__all__ = [
    "GanState",
    "ParamDict",
    "add_grads",
    "apply_d_grads",
    "apply_feedback",
    "apply_g_grads",
    "apply_grads",
    "average_params",
    "count_params",
    "d_fake_grad",
    "d_fake_loss",
    "d_grads",
    "d_real_grad",
    "d_real_loss",
    "d_step",
    "feedback_on_samples",
    "flatten",
    "g_grads",
    "g_loss",
    "g_step",
    "generator_snapshot",
    "get_buffers",
    "get_grads",
    "get_params",
    "make_adam",
    "make_gan_state",
    "params_nbytes",
    "r1_penalty",
    "sample_fakes",
    "sample_latent",
    "set_buffers",
    "set_grads",
    "set_params",
    "unflatten",
]
