"""What lives on an executor for federated averaging: the server's model pair, and a client.

The :class:`Aggregator` holds the global G (as a snapshot: parameters *and* BatchNorm running
statistics) and D, and averages client models weighted by n_k -- the usual FedAvg treatment of
BN buffers, so the server holds a generator that can be sampled in eval mode.  D's buffers do
not travel: D only ever runs in training mode, so its running statistics are never read (and
the shipped discriminators have none).  With a server optimiser (``server_optimizer``: FedAvgM,
FedAdam, DiLoCo's Nesterov step) the weights' average becomes one optimiser step on the
pseudo-gradient, per net; the BN statistics are still plainly averaged.  A :class:`FedAvgClient`
runs one round from the global weights with a fresh Adam and keeps no model in between (10,000
of them fit in memory).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from testbed.compression.endpoint import WireEndpoint
from testbed.gan import average_params, generator_snapshot, get_params, make_adam, set_buffers, set_params
from testbed.methods.common.setup import NodeSetup
from testbed.methods.common.timing import Calibrated
from testbed.methods.common.worker import GanWorker
from testbed.methods.fedavg.scratch import ScratchModels
from testbed.methods.fedavg.server_optimizers import ServerOptimizerSpec, build


def local_steps(num_samples: int, epochs: float, batch_size: int) -> int:
    """Local steps of a FedAvg round: E epochs of ceil(n_k / B) batches (at least one)."""
    return max(1, math.ceil(epochs * math.ceil(num_samples / batch_size)))


class Aggregator(Calibrated, WireEndpoint):
    """The FedAvg server's model pair; averages client models weighted by data size, then (optionally)
    steps a server optimiser on the pseudo-gradient (testbed.methods.fedavg.server_optimizers)."""

    calibration_units: ClassVar[dict[str, float]] = {"average": 2.0}  # one calibration call averages two clients

    def __init__(self, setup: NodeSetup, server: ServerOptimizerSpec | None = None, device: str = "cpu") -> None:
        state = setup.gan_state("cpu")
        self.g, self.d = generator_snapshot(state.G), get_params(state.D)
        self.setup = setup
        self.server = server or ServerOptimizerSpec()
        self.opt_g, self.opt_d = build(self.server), build(self.server)  # G and D step separately
        self.rounds = 0

    def params(self) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
        """The global (G snapshot, D parameters)."""
        return self.g, self.d

    def generator_snapshot(self) -> dict[str, dict[str, np.ndarray]]:
        """The global G: averaged parameters and averaged BatchNorm statistics."""
        return self.g

    def average(self, weights: list[float], *models: dict[str, np.ndarray]) -> int:
        """Set the global G (parameters and buffers) and D to the weighted average of
        ``[g_0, d_0, g_1, d_1, ...]`` (G entries are snapshots)."""
        snapshots = list(models[0::2])
        g = average_params([m["params"] for m in snapshots], weights)
        d = average_params(list(models[1::2]), weights)
        if self.opt_g is not None and self.opt_d is not None:  # a server optimiser steps on x - avg
            lr = self.server.lr * self.setup.lr_scale(self.rounds)
            g, d = self.opt_g.step(self.g["params"], g, lr), self.opt_d.step(self.d, d, lr)
        self.g = {"params": g, "buffers": average_params([m["buffers"] for m in snapshots], weights)}
        self.d = d
        self.rounds += 1
        return len(weights)

    def calibration_tasks(self) -> dict[str, Callable[[], Any]]:
        return {"average": lambda: self.average([1.0, 1.0], self.g, self.d, self.g, self.d)}


class FedAvgClient(GanWorker):
    """A stateless federated client: each round starts from the server's weights and a fresh Adam."""

    def __init__(self, setup: NodeSetup, index: int, device: str = "cpu") -> None:
        super().__init__(setup, index, device)
        self.last_lrs: dict[str, float | None] | None = None  # rates of the last round (the lr columns)

    def fedavg_round(self, g: dict[str, dict[str, np.ndarray]], d: dict[str, np.ndarray], epochs: float,
                     batch_size: int, lr_factor: float = 1.0) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """FedAvg client update: load the global G (parameters and BatchNorm statistics) and D, fresh
        Adam, E local epochs; returns G's snapshot and D's parameters.

        ``lr_factor`` is the server's schedule factor for this round (clients keep no step count)."""
        scratch = ScratchModels.of(self.setup, self.device)
        scratch.reset_buffers()
        state = self._state = scratch.state
        set_params(state.G, g["params"])
        set_buffers(state.G, g["buffers"])
        set_params(state.D, d)
        t = self.setup.training
        state.opt_g = make_adam(state.G, t.lr_g, (t.beta1, t.beta2), t.fused_adam)
        state.opt_d = make_adam(state.D, t.lr_d, (t.beta1, t.beta2), t.fused_adam)
        self.train_steps(local_steps(self.num_samples(), epochs, batch_size), lr_factor=lr_factor)
        result = self.generator_snapshot(), self.get_d()
        self.last_lrs = super().current_lrs()
        self._state = None  # the next round starts from the server's weights and a fresh Adam anyway
        return result

    def current_lrs(self) -> dict[str, float | None]:
        """The rates the client's optimisers trained its last round with."""
        if self._state is None:
            return dict(self.last_lrs) if self.last_lrs else {"lr_g": None, "lr_d": None}
        return super().current_lrs()
