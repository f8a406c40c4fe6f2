"""What lives on an executor for FedSGD: the server's G and D with their persistent Adam, and a client.

A :class:`FedSgdServer` holds the global G (parameters and BatchNorm statistics) and D as torch
modules with one Adam each -- built once, so its moments persist across rounds, at the shared
``lr_g`` / ``lr_d`` and the shared schedule indexed by rounds -- and applies the n_k-weighted
mean of the clients' gradients as one step.  A :class:`FedSgdClient` keeps no model between
rounds (its batch and noise streams are its own, or seeded per round: :data:`CLIENT_STREAMS`; a
population's, :class:`FedSgdPopulation`, are seeded per round): it loads the global weights into its
process's scratch pair (testbed.methods.fedavg.scratch), computes D's and G's gradients from those same weights on one
local batch (as a parameter-server worker does), and returns them as flat float32 vectors,
with G's BatchNorm statistics after that forward pass (averaged by the server like FedAvg's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from testbed.compression.endpoint import WireEndpoint
from testbed.gan import average_params, generator_snapshot, get_buffers, get_params, set_buffers, set_params
from testbed.gan.flat import FlatLayout
from testbed.gan.steps import d_grad_vector, g_grad_vector
from testbed.methods.common.population import ClientPopulation
from testbed.methods.common.setup import NodeSetup, optimizer_lr, scale_lr
from testbed.methods.common.timing import Calibrated
from testbed.methods.common.worker import GanWorker
from testbed.methods.fedavg.scratch import ScratchModels
from testbed.methods.fedavg.state import seed_round


class FedSgdServer(Calibrated, WireEndpoint):
    """The global G and D, stepped by one persistent Adam each on the clients' averaged gradients.

    A round is charged one ``server_update`` per client averaged (as FedAvg's ``average``), so one
    calibration call, which averages two clients' gradients and steps, counts as two."""

    calibration_units: ClassVar[dict[str, float]] = {"server_update": 2.0}

    def __init__(self, setup: NodeSetup, device: str = "cpu") -> None:
        self.setup = setup
        self.device = device
        self.state = setup.gan_state(device)
        self.layouts = FlatLayout(self.state.G), FlatLayout(self.state.D)
        self.rounds = 0

    def params(self) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
        """The global (G snapshot, D parameters), as FedAvg's server sends them."""
        return generator_snapshot(self.state.G), get_params(self.state.D)

    def generator_snapshot(self) -> dict[str, dict[str, np.ndarray]]:
        """The global G: parameters and the clients' averaged BatchNorm statistics."""
        return generator_snapshot(self.state.G)

    def apply_round(self, weights: list[float], *replies: Any) -> int:
        """``replies`` = ``[grad_g_0, grad_d_0, (buffers_0,) grad_g_1, ...]``, one group per client in
        order, weighted by n_k: set G's and D's gradients to the weighted means, take one Adam step
        each at the rate of round ``rounds``, and average G's BatchNorm statistics if they travel."""
        per_client = len(replies) // len(weights)
        groups = [replies[i:i + per_client] for i in range(0, len(replies), per_client)]
        t = self.setup.training
        factor = self.setup.lr_scale(self.rounds)
        for column, layout, opt, base_lr in ((0, self.layouts[0], self.state.opt_g, t.lr_g),
                                             (1, self.layouts[1], self.state.opt_d, t.lr_d)):
            mean = average_params([{"v": group[column]} for group in groups], weights)["v"]
            flat = torch.as_tensor(mean, device=layout.params[0].device)
            for param, (lo, hi) in zip(layout.params, layout.spans, strict=True):
                param.grad = flat[lo:hi].view_as(param).clone()
            scale_lr(opt, [base_lr], factor)
            opt.step()
        if per_client == 3:
            set_buffers(self.state.G, average_params([group[2] for group in groups], weights))
        self.rounds += 1
        return self.rounds

    def current_lrs(self) -> dict[str, float | None]:
        """The rates in the server's Adams now (FedSGD's only optimisers)."""
        return {"lr_g": optimizer_lr(self.state.opt_g), "lr_d": optimizer_lr(self.state.opt_d)}

    def calibration_tasks(self) -> dict[str, Callable[[], Any]]:
        grads = (self.layouts[0].vector(), self.layouts[1].vector())
        buffers = (get_buffers(self.state.G),) if self.has_buffers() else ()
        return {"server_update": lambda: self.apply_round([1.0, 1.0], *grads, *buffers, *grads, *buffers)}

    def has_buffers(self) -> bool:
        """Whether G has BatchNorm statistics (then every reply carries them)."""
        return bool(get_buffers(self.state.G))


CLIENT_STREAMS = ("kept", "per_round")
"""``kept``: a client draws its batches and noise from its own streams, kept across rounds (as a parameter-server
worker: FedSGD with every client is then the BSP parameter server to the bit); ``per_round``: from streams seeded
by (run seed, client index, round), as FedAvg's clients -- what a population's client, built anew, can do."""


class FedSgdClient(GanWorker):
    """A FedSGD client: one gradient of D and of G per round, on one local batch; no model between rounds."""

    def __init__(self, setup: NodeSetup, index: int, device: str = "cpu", streams: str = "kept") -> None:
        super().__init__(setup, index, device)
        self.streams = streams

    def fedsgd_grads(self, g: dict[str, dict[str, np.ndarray]], d: dict[str, np.ndarray],
                     batch_size: int, round_id: int = 0) -> list[Any]:
        """Load the global G (parameters and BatchNorm statistics) and D, draw one batch of
        ``batch_size`` (the whole partition when it holds no more), and return G's and D's gradients
        from those same weights (flat float32 vectors) and, if G has any, G's BatchNorm statistics
        after the forward passes.  ``round_id`` seeds the round's streams under ``streams: per_round``."""
        if self.streams == "per_round":
            seed_round(self, round_id)
        scratch = ScratchModels.of(self.setup, self.device)
        scratch.reset_buffers()
        state = self._state = scratch.state
        set_params(state.G, g["params"])
        set_buffers(state.G, g["buffers"])
        set_params(state.D, d)
        layout_g, layout_d = self._layouts(state)
        real = self._x_t if batch_size >= self.num_samples() else self._batch(batch_size)
        flat_d = d_grad_vector(state, layout_d, real, r1_gamma=self.setup.training.r1_gamma, generator=self.gen)
        flat_g = g_grad_vector(state, layout_g, int(real.shape[0]), self.gen)
        buffers = get_buffers(state.G)
        self._state = None  # the scratch pair is shared with the process's other clients
        return [flat_g, flat_d, buffers] if buffers else [flat_g, flat_d]

    def _layouts(self, state: Any) -> tuple[FlatLayout, FlatLayout]:
        cached = getattr(self, "_flat", None)
        if cached is None or cached[0].module is not state.G or cached[1].module is not state.D:
            cached = self._flat = (FlatLayout(state.G), FlatLayout(state.D))
        return cached

    def current_lrs(self) -> dict[str, float | None]:
        """Clients keep no optimiser (the server's Adam is FedSGD's): nothing to report."""
        return {"lr_g": None, "lr_d": None}

    def calibration_tasks(self) -> dict[str, Callable[[], Any]]:
        g, d = generator_snapshot(self.state.G), get_params(self.state.D)
        return {"grad_step": lambda: self.fedsgd_grads(g, d, self.setup.training.batch_size)}


class FedSgdPopulation(ClientPopulation):
    """A population datacenter's FedSGD clients, each built when a round reaches it (``streams: per_round``)."""

    client_type = FedSgdClient
    keeps_lrs = False  # the server's Adam is FedSGD's only optimiser: its clients report no rates
