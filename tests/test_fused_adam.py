"""``training.fused_adam``: every Adam a method builds takes torch's fused kernel, and only then.

Why: the fused kernel is faster per step (benchmarks/fused_adam.py) but rounds differently, so it is
opt-in; a method that built one of its optimisers without it would silently mix kernels.  The second
path is torch's own record of the kernel in each optimiser's ``defaults``, and the values: one step
with either kernel agrees to float rounding, and the default is still the foreach kernel.
"""

from __future__ import annotations

import pytest
import torch
from fake_session import fake_method

from testbed.gan import make_gan_state
from testbed.models import model_config

METHODS = [{"name": "local"}, {"name": "ps"}, {"name": "fedavg", "client_fraction": 1.0},
           {"name": "mdgan", "swap_every_epochs": 1}, {"name": "sqm"}, {"name": "gaia"},
           {"name": "centralized", "server_at": "b"}]


def _adams_built(monkeypatch: pytest.MonkeyPatch) -> list[torch.optim.Adam]:
    built: list[torch.optim.Adam] = []
    original = torch.optim.Adam.__init__

    def recording(self: torch.optim.Adam, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(torch.optim.Adam, "__init__", recording)
    return built


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("algorithm", METHODS, ids=lambda a: a["name"])
def test_every_adam_of_a_method_takes_the_chosen_kernel(algorithm: dict, fused: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    built = _adams_built(monkeypatch)
    method, session = fake_method(algorithm, training={"fused_adam": fused})
    session.drive(method)
    assert built, f"{algorithm['name']} built no Adam"
    assert {bool(opt.defaults["fused"]) for opt in built} == {fused}
    if not fused:  # the default kernel, as every recorded run used it
        assert {opt.defaults["foreach"] for opt in built} == {None}


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
