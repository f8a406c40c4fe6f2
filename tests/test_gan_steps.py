"""D/G steps, MD-GAN feedback and SQ gradients compute what the GAN objective says."""

import copy

import numpy as np
import torch

from testbed.data import load_dataset
from testbed.gan import (
    apply_d_grads,
    apply_feedback,
    d_fake_grad,
    d_grads,
    d_real_grad,
    d_step,
    feedback_on_samples,
    g_loss,
    g_step,
    get_params,
    make_gan_state,
    sample_fakes,
)
from testbed.models import model_config

REAL = torch.as_tensor(load_dataset("ring8", n=128).x)


def _state(seed: int = 0):
    return make_gan_state(model_config("mlp2d", hidden=32), (2,), seed, lr_g=1e-3, lr_d=1e-3)


def test_d_step_lowers_d_loss_on_a_fixed_batch() -> None:
    state = _state()
    fake = sample_fakes(state.G, 128, torch.Generator().manual_seed(1))[1]
    first = d_step(state, REAL, fake)["d_loss"]
    for _ in range(20):
        last = d_step(state, REAL, fake)["d_loss"]
    assert last < first


def test_r1_penalty_is_reported_and_positive() -> None:
    stats = d_step(_state(), REAL, r1_gamma=10.0, generator=torch.Generator().manual_seed(0))
    assert stats["r1_penalty"] > 0
    assert np.isclose(stats["d_loss"], stats["d_loss_real"] + stats["d_loss_fake"] + stats["r1_penalty"])


def test_feedback_matches_autograd_of_g_loss() -> None:
    state = _state()
    _, x = sample_fakes(state.G, 16, torch.Generator().manual_seed(2))
    feedback = feedback_on_samples(state.D, x)
    assert feedback.shape == x.shape
    assert all(p.grad is None for p in state.D.parameters())  # feedback must not touch D's gradients
    xt = torch.as_tensor(x).requires_grad_(True)
    g_loss(state.D, xt).backward()
    assert np.allclose(feedback, xt.grad.numpy(), atol=1e-7)


def test_apply_feedback_equals_g_step() -> None:
    a = _state()
    b = copy.deepcopy(a)
    g_step(a, 64, torch.Generator().manual_seed(7))
    z, x = sample_fakes(b.G, 64, torch.Generator().manual_seed(7))
    feedback = feedback_on_samples(b.D, x)
    apply_feedback(b, z, [feedback, feedback])
    pa, pb = get_params(a.G), get_params(b.G)
    assert all(np.allclose(pa[k], pb[k], atol=1e-6) for k in pa)
    c = copy.deepcopy(a)  # list form: one latent batch per feedback, mean of the per-batch gradients
    d = copy.deepcopy(a)
    apply_feedback(c, z, [feedback])
    apply_feedback((d.G, d.opt_g), [z, z], [feedback, feedback])
    pc, pd = get_params(c.G), get_params(d.G)
    assert all(np.allclose(pc[k], pd[k], atol=1e-6) for k in pc)


def test_sq_gradients_sum_to_the_full_d_gradient() -> None:
    state = _state()
    fake = sample_fakes(state.G, 128, torch.Generator().manual_seed(3))[1]
    full, _ = d_grads(state, REAL, fake)
    real_part, fake_part = d_real_grad(state.D, REAL), d_fake_grad(state.D, fake)
    assert all(np.allclose(full[k], real_part[k] + fake_part[k], atol=1e-6) for k in full)
    stepped = copy.deepcopy(state)
    d_step(stepped, REAL, fake)
    apply_d_grads(state, {k: real_part[k] + fake_part[k] for k in full})
    pa, pb = get_params(state.D), get_params(stepped.D)
    assert all(np.allclose(pa[k], pb[k], atol=1e-6) for k in pa)


def test_steps_are_deterministic_given_generators() -> None:
    runs = []
    for _ in range(2):
        state = _state(seed=4)
        gen = torch.Generator().manual_seed(0)
        for _ in range(3):
            d_step(state, REAL, generator=gen)
            g_step(state, 32, gen)
        runs.append(get_params(state.G))
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])
