"""``training.fused_adam``: one step with either Adam kernel agrees to float rounding.

Why: the fused kernel is faster per step (benchmarks/fused_adam.py) but rounds differently, so it is
opt-in.  That every Adam a method builds takes the chosen kernel (torch's own record in each optimiser's
``defaults``), for every registered method, is tests/test_conformance.py's ``fused_adam`` check.
"""

from __future__ import annotations

import torch

from testbed.gan import make_gan_state
from testbed.models import model_config


def test_one_fused_step_agrees_with_the_default_kernel_to_rounding() -> None:
    config = model_config("mlp2d", hidden=16, depth=2)
    states = [make_gan_state(config, (2,), seed=3, fused=fused) for fused in (False, True)]
    x = torch.randn(32, 2, generator=torch.Generator().manual_seed(0))
    for state in states:
        loss = state.D(x).mean()
        state.opt_d.zero_grad()
        loss.backward()
        state.opt_d.step()
    after = [torch.cat([p.detach().flatten() for p in s.D.parameters()]) for s in states]
    start = torch.cat([p.detach().flatten() for p in make_gan_state(config, (2,), seed=3).D.parameters()])
    moved = (after[0] - start).abs().max().item()
    assert moved > 1e-4  # the step did something
    assert (after[1] - after[0]).abs().max().item() < 1e-3 * moved
