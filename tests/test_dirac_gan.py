"""Dirac-GAN (Mescheder et al. 2018) through the real loss/R1 code path: known convergence behaviour.

D(x) = psi * x, G = theta (a constant), real data at 0, plain gradient steps of size h.
Without R1, simultaneous steps spiral out and alternating steps circle; with R1 (any gamma > 0)
they converge to the equilibrium (0, 0).

We use the testbed's own (non-saturating) losses.  Their linearisation at the equilibrium is the
paper's (zero-sum) one, but far from it the NS loss adds a weak 4th-order damping, so the
no-R1 runs start close to (0, 0), where the paper's linear analysis is what governs.
"""

import numpy as np
import pytest
import torch
from torch import nn

from testbed.gan import GanState, apply_d_grads, apply_g_grads, d_grads, d_step, g_grads, g_step

H = 0.1
STEPS = 1500


class DiracG(nn.Module):
    latent_dim = 1

    def __init__(self, theta: float) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([theta]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.theta.expand(z.shape[0], 1)


def _state(theta: float = 1.0, psi: float = 1.0) -> GanState:
    generator, discriminator = DiracG(theta), nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        discriminator.weight.fill_(psi)
    return GanState(generator, discriminator, torch.optim.SGD(generator.parameters(), lr=H),
                    torch.optim.SGD(discriminator.parameters(), lr=H), latent_dim=1)


def _norm(state: GanState) -> float:
    return float(np.hypot(state.G.theta.item(), state.D.weight.item()))


def _run(simultaneous: bool, gamma: float, start: float = 1.0) -> list[float]:
    state, gen, real = _state(start, start), torch.Generator().manual_seed(0), torch.zeros(1, 1)
    norms = [_norm(state)]
    for _ in range(STEPS):
        if simultaneous:
            dg, _ = d_grads(state, real, r1_gamma=gamma, generator=gen)
            gg, _ = g_grads(state, 1, gen)
            apply_d_grads(state, dg)
            apply_g_grads(state, gg)
        else:
            d_step(state, real, r1_gamma=gamma, generator=gen)
            g_step(state, 1, gen)
        norms.append(_norm(state))
    return norms


def test_simultaneous_without_r1_diverges() -> None:
    norms = _run(simultaneous=True, gamma=0.0, start=0.05)
    assert norms[-1] > 3 * norms[0] and norms[-1] > norms[len(norms) // 2]


def test_alternating_without_r1_cycles() -> None:
    norms = _run(simultaneous=False, gamma=0.0, start=0.05)
    assert 0.8 * norms[0] < min(norms) and max(norms) < 1.2 * norms[0]


@pytest.mark.parametrize("gamma", [0.3, 1.0, 3.0])
@pytest.mark.parametrize("simultaneous", [True, False])
def test_r1_converges_to_equilibrium(gamma: float, simultaneous: bool) -> None:
    assert _run(simultaneous=simultaneous, gamma=gamma)[-1] < 1e-2
