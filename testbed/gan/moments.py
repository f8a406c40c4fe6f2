"""An Adam optimiser's state kept compactly between uses: two flat float32 vectors and a step count.

Why: a FedAvg client with ``client_state: keep`` continues its Adam across the rounds it is
chosen for, but the clients of a process train on one shared scratch model pair
(testbed.methods.fedavg.scratch), so the optimiser itself cannot stay alive with the client.
What Adam needs to continue is its first and second moments and its step count; kept as two
numpy vectors (8 B per parameter) they cost no torch tensors, dicts or parameter references per
client, and loading them into a fresh Adam over the same parameters continues it to the bit
(tests/test_fedavg_client_state.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

MOMENT_KEYS = ("exp_avg", "exp_avg_sq")


@dataclass(frozen=True)
class AdamMoments:
    """Adam's state over a parameter list: each moment concatenated in parameter order, and the step."""

    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    step: float

    @property
    def nbytes(self) -> int:
        """Memory the kept state takes (the two vectors)."""
        return int(self.exp_avg.nbytes + self.exp_avg_sq.nbytes)


def _params(opt: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in opt.param_groups for p in group["params"]]


def save_moments(opt: torch.optim.Adam) -> AdamMoments | None:
    """``opt``'s moments as flat vectors (None before its first step: nothing to keep)."""
    params = _params(opt)
    states = [opt.state.get(p) for p in params]
    if not states or any(not s for s in states):
        return None
    flat = {key: torch.cat([s[key].detach().reshape(-1) for s in states]).cpu().numpy().astype(np.float32, copy=True)
            for key in MOMENT_KEYS}
    steps = {float(s["step"]) for s in states}
    if len(steps) != 1:
        raise ValueError(f"Adam's parameters disagree on their step count: {sorted(steps)}")
    return AdamMoments(flat["exp_avg"], flat["exp_avg_sq"], steps.pop())


def load_moments(opt: torch.optim.Adam, moments: AdamMoments) -> None:
    """Continue a fresh ``opt`` over the same parameters from ``moments`` (its hyper-parameters stay its own).

    Goes through ``load_state_dict``, which puts each tensor on its parameter's device and dtype and
    the step where this Adam kernel keeps it (on the device for the fused kernel)."""
    params = _params(opt)
    numels = [p.numel() for p in params]
    if sum(numels) != moments.exp_avg.size:
        raise ValueError(f"kept moments hold {moments.exp_avg.size} values, the optimiser has {sum(numels)}")
    pieces = {key: torch.split(torch.from_numpy(getattr(moments, key).copy()), numels) for key in MOMENT_KEYS}
    state = {i: {"step": torch.tensor(moments.step, dtype=torch.float32),
                 **{key: pieces[key][i].view_as(p) for key in MOMENT_KEYS}}
             for i, p in enumerate(params)}
    current = opt.state_dict()
    opt.load_state_dict({"state": state, "param_groups": current["param_groups"]})
