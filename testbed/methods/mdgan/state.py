"""MD-GAN's two executor-side states: the server that owns G, and a worker that owns a D_n.

MD-GAN (Hardy et al., IPDPS 2019) splits one GAN across machines so that only
*samples* and *error feedback* travel, never G: the :class:`MdganServer` draws
latents, generates batches and back-propagates the workers' feedback through G;
an :class:`MdganWorker` trains its own discriminator on generated and local real
data, answers with F_n = dL_G/dx, and swaps its D with a peer now and then.
The method (testbed.methods.mdgan) decides who gets which batch and when.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from testbed.compression.endpoint import WireEndpoint
from testbed.gan import (
    apply_feedback,
    d_step,
    feedback_on_samples,
    generator_snapshot,
    make_adam,
    sample_fakes,
    set_params,
)
from testbed.methods.common.setup import NodeSetup, optimizer_lr, scale_lr
from testbed.methods.common.timing import Calibrated
from testbed.methods.common.worker import GanWorker

MOMENT_PREFIXES = ("adam_m/", "adam_v/")
"""Keys of Adam's first and second moments in a swap payload that carries them (+ the parameter's name)."""

SERVER_STREAM = 10_000_019
"""Torch RNG stream of the server's latents (far from the workers' streams 1..N)."""


class MdganServer(Calibrated, WireEndpoint):
    """Holds G and its Adam state; generates batches and applies error feedback."""

    def __init__(self, setup: NodeSetup, batch_size: int, device: str = "cpu") -> None:
        state = setup.gan_state(device)
        self.device = device
        self.G, self.opt_g = state.G, state.opt_g
        self.setup = setup
        self.steps = 0  # G updates applied: MD-GAN's iteration unit, which indexes the lr schedule
        self.batch_size = batch_size
        self.gen = setup.torch_generator(SERVER_STREAM, device)
        self._z: list[np.ndarray] = []

    def generate(self, count: int) -> list[np.ndarray]:
        """``count`` batches X^(1..count) of ``batch_size`` samples; keeps their latents for the update."""
        batches = [sample_fakes(self.G, self.batch_size, self.gen) for _ in range(int(count))]
        self._z = [z for z, _ in batches]
        return [x for _, x in batches]

    def apply(self, g_batch: list[int], *feedbacks: np.ndarray) -> int:
        """One G step from worker feedbacks: ``feedbacks[n]`` refers to batch ``g_batch[n]``.

        G's gradient is (1/N) sum_n (dG(z_{g(n)})/dw)^T F_n; feedbacks on the same batch are
        summed first, so G is back-propagated once per distinct batch.  Returns that count.
        """
        if len(g_batch) != len(feedbacks):
            raise ValueError(f"{len(g_batch)} batch indices but {len(feedbacks)} feedbacks")
        used = sorted(set(g_batch))
        n = len(feedbacks)
        # apply_feedback averages over the list it is given, so scale each per-batch sum by len(used) / N.
        summed = [np.sum([f for j, f in zip(g_batch, feedbacks, strict=True) if j == b], axis=0) * (len(used) / n)
                  for b in used]
        scale_lr(self.opt_g, [self.setup.training.lr_g], self.setup.lr_scale(self.steps))
        apply_feedback((self.G, self.opt_g), [self._z[b] for b in used], summed)
        self.steps += 1
        return len(used)

    def generator_snapshot(self) -> dict[str, dict[str, np.ndarray]]:
        """The server's G as trained: parameters and BatchNorm running statistics."""
        return generator_snapshot(self.G)

    def current_lrs(self) -> dict[str, float | None]:
        """G's learning rate now (the discriminators live on the workers)."""
        return {"lr_g": optimizer_lr(self.opt_g), "lr_d": None}

    def calibration_tasks(self) -> dict[str, Callable[[], Any]]:
        x = self.generate(1)[0]  # one batch each
        return {"mdgan_generate": lambda: self.generate(1), "mdgan_backprop": lambda: self.apply([0], np.zeros_like(x))}


class MdganWorker(GanWorker):
    """A worker with its own D_n (G is unused): D steps on server batches, feedback, D swaps."""

    def __init__(self, setup: NodeSetup, index: int, batch_size: int, device: str = "cpu") -> None:
        super().__init__(setup, index, device)
        self.batch_size = batch_size

    def d_steps(self, x_d: np.ndarray, steps: int, lr_factor: float = 1.0) -> dict[str, float]:
        """``steps`` Adam steps of D_n, each on a fresh local real batch and the server's batch X(d),
        at the schedule's factor for the current iteration (every D_n follows the one schedule)."""
        stats: dict[str, float] = {}
        scale_lr(self.state.opt_d, [self.setup.training.lr_d], lr_factor)
        for _ in range(int(steps)):
            stats = d_step(self.state, self._batch(self.batch_size), fake=x_d, r1_gamma=self.setup.training.r1_gamma)
        return stats

    def current_lrs(self) -> dict[str, float | None]:
        """D_n's learning rate now (this worker's G is unused)."""
        return {"lr_g": None, "lr_d": optimizer_lr(self.state.opt_d)}

    def feedback(self, x_g: np.ndarray) -> np.ndarray:
        """F_n = d/dx mean softplus(-D_n(x)) on X(g): b x d floats, 1/b already inside."""
        return feedback_on_samples(self.state.D, x_g)

    def get_d_for_swap(self, carry_moments: bool) -> dict[str, np.ndarray]:
        """D's parameters by name and, with ``carry_moments``, Adam's first and second moments under
        ``MOMENT_PREFIXES`` + name (zeros for a parameter that has no state yet)."""
        out = self.get_d()
        if carry_moments:
            named = dict(self.state.D.named_parameters())
            for prefix, key in zip(MOMENT_PREFIXES, ("exp_avg", "exp_avg_sq"), strict=True):
                for name, param in named.items():
                    moment = self.state.opt_d.state.get(param, {}).get(key)
                    out[prefix + name] = (np.zeros(tuple(param.shape), np.float32) if moment is None
                                          else moment.detach().cpu().numpy().copy())
        return out

    def load_d(self, payload: dict[str, np.ndarray]) -> int:
        """Take a peer's D after a swap.  Without moments in ``payload`` the Adam state is reset (the
        moments belong to the old D); with them, the peer's moments are continued at this worker's step
        count (equal to the peer's: every D_n takes the same steps per iteration)."""
        moments = {k: v for k, v in payload.items() if k.startswith(MOMENT_PREFIXES)}
        params = {k: v for k, v in payload.items() if k not in moments}
        set_params(self.state.D, params)
        if moments:
            opt = self.state.opt_d
            for name, param in self.state.D.named_parameters():
                state = opt.state[param]
                if "step" not in state:  # a D that has not stepped yet: start its count at 0
                    state["step"] = torch.zeros((), dtype=torch.float32, device=param.device)
                for prefix, key in zip(MOMENT_PREFIXES, ("exp_avg", "exp_avg_sq"), strict=True):
                    state[key] = torch.as_tensor(moments[prefix + name], device=param.device).clone()
        else:
            t = self.setup.training
            self.state.opt_d = make_adam(self.state.D, t.lr_d, (t.beta1, t.beta2), t.fused_adam)
        return sum(int(p.size) for p in params.values())

    def calibration_tasks(self) -> dict[str, Callable[[], Any]]:
        fake = self._batch(self.batch_size).cpu().numpy()
        return {**super().calibration_tasks(), "mdgan_d_step": lambda: self.d_steps(fake, 1),
                "mdgan_feedback": lambda: self.feedback(fake)}
