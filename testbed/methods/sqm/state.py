"""Statistical-query learning's executor-side states: the central learner and a data-holding worker.

In Cano et al.'s geo-distributed statistical-query model the data never moves;
the learner only asks *statistics* of it.  For a GAN the one statistic that needs
real data is the real-data half of D's gradient, so an :class:`SqWorker` answers
"mean gradient of D's real loss over a local batch" for the D it is sent, and the
:class:`SqLearner` adds the fake-data half, steps D, and steps G on its own
(G's loss involves only D and generated samples).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from testbed.compression.endpoint import WireEndpoint
from testbed.gan import (
    ParamDict,
    add_grads,
    apply_d_grads,
    apply_g_grads,
    d_fake_grad,
    d_real_grad,
    g_grads,
    g_step,
    generator_snapshot,
    get_params,
    sample_fakes,
    set_params,
)
from testbed.methods.common.setup import NodeSetup, optimizer_lr, scale_lr
from testbed.methods.common.timing import Calibrated
from testbed.methods.common.worker import GanWorker

LEARNER_STREAM = 10_000_033
"""Torch RNG stream of the learner's latents (far from the workers' streams 1..N)."""


class SqLearner(Calibrated, WireEndpoint):
    """Holds G and D with their Adam states; never sees a real sample."""

    def __init__(self, setup: NodeSetup, batch_size: int, device: str = "cpu") -> None:
        self.state = setup.gan_state(device)
        self.device = device
        self.setup = setup
        self.steps = 0  # learner steps taken: the iteration unit that indexes the lr schedule
        self.batch_size = batch_size
        self.gen = setup.torch_generator(LEARNER_STREAM, device)

    def get_d(self) -> ParamDict:
        return get_params(self.state.D)

    def generator_snapshot(self) -> dict[str, ParamDict]:
        """The learner's G as trained: parameters and BatchNorm running statistics."""
        return generator_snapshot(self.state.G)

    def current_lrs(self) -> dict[str, float | None]:
        """The rates in the learner's two Adam optimisers now."""
        return {"lr_g": optimizer_lr(self.state.opt_g), "lr_d": optimizer_lr(self.state.opt_d)}

    def fake_grad(self) -> ParamDict:
        """Gradient of D's fake-data loss, mean softplus(D(G(z))), over b fresh latents."""
        _, fake = sample_fakes(self.state.G, self.batch_size, self.gen)
        return d_fake_grad(self.state.D, fake)

    def step(self, weights: list[float], fake: ParamDict, *answers: ParamDict) -> dict[str, float]:
        """D step with sum_dc w_dc * answer_dc + fake term, and one G step: against the new D
        (``training.update_order`` alternating, the default) or the old one (simultaneous)."""
        t = self.setup.training
        factor = self.setup.lr_scale(self.steps)
        scale_lr(self.state.opt_d, [t.lr_d], factor)
        scale_lr(self.state.opt_g, [t.lr_g], factor)
        self.steps += 1
        real = add_grads(*answers, weights=list(weights))
        if t.update_order == "simultaneous":
            grad_g, stats = g_grads(self.state, self.batch_size, self.gen)
            apply_d_grads(self.state, add_grads(real, fake))
            apply_g_grads(self.state, grad_g)
            return stats
        apply_d_grads(self.state, add_grads(real, fake))
        return g_step(self.state, self.batch_size, self.gen)

    def calibration_tasks(self) -> dict[str, Callable[[], Any]]:
        grad = self.fake_grad()
        return {"sq_fake": self.fake_grad, "sq_step": lambda: self.step([1.0], grad, grad)}  # one DC answer


class SqWorker(GanWorker):
    """Answers statistical queries on its own shard; a DC's head also merges its DC's answers."""

    def __init__(self, setup: NodeSetup, index: int, batch_size: int, device: str = "cpu") -> None:
        super().__init__(setup, index, device)
        self.batch_size = batch_size

    def sq_answer(self, d_params: ParamDict) -> ParamDict:
        """Mean gradient of softplus(-D(x)) (+ R1) over a local real batch, for the given D."""
        set_params(self.state.D, d_params)
        return d_real_grad(self.state.D, self._batch(self.batch_size), r1_gamma=self.setup.training.r1_gamma)

    def combine(self, weights: list[float], *answers: ParamDict) -> ParamDict:
        """The datacenter's answer: the data-size weighted mean of its workers' answers."""
        total = float(sum(weights))
        return add_grads(*answers, weights=[w / total for w in weights])

    def calibration_tasks(self) -> dict[str, Callable[[], Any]]:
        d = self.get_d()
        return {**super().calibration_tasks(), "sq_query": lambda: self.sq_answer(d)}

