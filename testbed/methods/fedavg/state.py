"""What lives on an executor for federated averaging: the server's model pair, and a client.

The :class:`Aggregator` holds the global G (as a snapshot: parameters *and* BatchNorm running
statistics) and D, and averages client models weighted by n_k -- the usual FedAvg treatment of
BN buffers, so the server holds a generator that can be sampled in eval mode.  D's buffers do
not travel: D only ever runs in training mode, so its running statistics are never read (and
the shipped discriminators have none).  With a server optimiser (``server_optimizer``: FedAvgM,
FedAdam, DiLoCo's Nesterov step) the weights' average becomes one optimiser step on the
pseudo-gradient, per net; the BN statistics are still plainly averaged.  A :class:`FedAvgClient`
runs one round from the global weights and keeps no model in between (10,000 of them fit in
memory); with ``client_state: reset`` (the default, as FedScale's clients build their optimiser in
every round's training) each round starts a fresh Adam, with ``keep`` the client continues its own
Adam across the rounds it is chosen for: its moments and step count are kept between rounds as two
flat vectors (testbed.gan.moments, 8 B per parameter of G and D, only for clients that have trained).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from testbed.compression.endpoint import WireEndpoint
from testbed.gan import average_params, generator_snapshot, get_params, make_adam, set_buffers, set_params
from testbed.gan.moments import AdamMoments, load_moments, save_moments
from testbed.methods.common.population import ClientPopulation, LrsSink
from testbed.methods.common.setup import NodeSetup
from testbed.methods.common.timing import Calibrated
from testbed.methods.common.worker import GanWorker, by_batch_size
from testbed.methods.fedavg.scratch import ScratchModels
from testbed.methods.fedavg.server_optimizers import ServerOptimizerSpec, build


def local_steps(num_samples: int, epochs: float, batch_size: int) -> int:
    """Local steps of a FedAvg round: E epochs of ceil(n_k / B) batches (at least one)."""
    return max(1, math.ceil(epochs * math.ceil(num_samples / batch_size)))


def total_local_steps(sizes: Iterable[int], epochs: float, batch_size: int) -> int:
    """:func:`local_steps` summed over clients of data sizes ``sizes`` (as one array: no loop per client)."""
    n_k = np.fromiter(sizes, np.int64)
    return int(np.maximum(1, np.ceil(epochs * np.ceil(n_k / batch_size))).sum())


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
            lr = self.server.lr_at(self.setup.lr_scale(self.rounds))
            g, d = self.opt_g.step(self.g["params"], g, lr), self.opt_d.step(self.d, d, lr)
        self.g = {"params": g, "buffers": average_params([m["buffers"] for m in snapshots], weights)}
        self.d = d
        self.rounds += 1
        return len(weights)

    def calibration_tasks(self) -> dict[str, Callable[[], Any]]:
        return {"average": lambda: self.average([1.0, 1.0], self.g, self.d, self.g, self.d)}


CLIENT_STATES = ("reset", "keep")
"""``reset``: a fresh Adam every round (FedScale); ``keep``: each client continues its own Adam."""


class FedAvgClient(GanWorker):
    """A federated client: each round starts from the server's weights, batch and noise streams derived
    from (run seed, client index, round) -- so a client built anew for the round (a population's,
    :class:`FedAvgPopulation`) trains exactly as one kept between rounds -- and a fresh Adam
    (``client_state: reset``) or the Adam state of its own previous round (``keep``: listed clients only)."""

    def __init__(self, setup: NodeSetup, index: int, device: str = "cpu",
                 lrs_sink: LrsSink | None = None, client_state: str = "reset") -> None:
        super().__init__(setup, index, device)
        self.last_lrs: dict[str, float | None] | None = None  # rates of the last round (the lr columns)
        self.lrs_sink = lrs_sink
        self.client_state = client_state
        self.moments: tuple[AdamMoments | None, AdamMoments | None] = (None, None)  # G's, D's (keep)

    def fedavg_round(self, g: dict[str, dict[str, np.ndarray]], d: dict[str, np.ndarray], epochs: float,
                     batch_size: int, lr_factor: float = 1.0,
                     round_id: int = 0) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """FedAvg client update: load the global G (parameters and BatchNorm statistics) and D, a fresh
        Adam (continued from this client's kept moments under ``keep``), E local epochs; returns G's
        snapshot and D's parameters.

        ``lr_factor`` is the server's schedule factor for this round (clients keep no step count);
        ``round_id`` seeds the round's batch and noise streams."""
        self._begin_round(ScratchModels.of(self.setup, self.device), g, d, round_id)
        self.train_steps(local_steps(self.num_samples(), epochs, batch_size), lr_factor=lr_factor)
        return self._end_round(round_id)

    @classmethod
    def batched_fedavg_round(cls, clients: Sequence[FedAvgClient],
                             calls: Sequence[tuple[tuple, dict[str, Any]]]) -> list[tuple[Any, Any]] | None:
        """:meth:`fedavg_round` of K clients as vmapped steps (``executors: {batch: true}``; testbed.gan.batched):
        each client on a scratch pair of its own, its batches and noise from its own round streams in the
        unbatched order, so results equal the unbatched rounds' to float rounding.  None (run one by one)
        where the clients' local steps differ."""
        args = [_round_args(*a, **kw) for a, kw in calls]
        steps = {local_steps(c.num_samples(), a[2], a[3]) for c, a in zip(clients, args, strict=True)}
        if len(steps) != 1:
            return None
        (n_steps,) = steps
        for slot, (client, a) in enumerate(zip(clients, args, strict=True)):
            client._begin_round(ScratchModels.of(client.setup, client.device, slot), a[0], a[1], a[5])
        stats = by_batch_size(clients, [((n_steps, a[4]), {}) for a in args], "train_steps",
                              GanWorker._batched_train_steps)
        if stats is None:  # declined (e.g. a fused Adam): the same rounds, one by one
            for client, a in zip(clients, args, strict=True):
                client.train_steps(n_steps, lr_factor=a[4])
        return [client._end_round(a[5]) for client, a in zip(clients, args, strict=True)]

    def _begin_round(self, scratch: ScratchModels, g: dict[str, dict[str, np.ndarray]], d: dict[str, np.ndarray],
                     round_id: int) -> None:
        scratch.reset_buffers()
        state = self._state = scratch.state
        set_params(state.G, g["params"])
        set_buffers(state.G, g["buffers"])
        set_params(state.D, d)
        t = self.setup.training
        state.opt_g = make_adam(state.G, t.lr_g, (t.beta1, t.beta2), t.fused_adam)
        state.opt_d = make_adam(state.D, t.lr_d, (t.beta1, t.beta2), t.fused_adam)
        if self.client_state == "keep":
            for opt, kept in zip((state.opt_g, state.opt_d), self.moments, strict=True):
                if kept is not None:
                    load_moments(opt, kept)
        self.seed_round(round_id)

    def seed_round(self, round_id: int) -> None:
        """Batch and noise streams for round ``round_id``, from (run seed, client index, round) alone."""
        seed_round(self, round_id)

    def _end_round(self, round_id: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        result = self.generator_snapshot(), self.get_d()
        self.last_lrs = super().current_lrs()
        if self.lrs_sink is not None:
            self.lrs_sink.record(self.index, self.last_lrs)
        if self.client_state == "keep":
            self.moments = (save_moments(self.state.opt_g), save_moments(self.state.opt_d))
        self._state = None  # the next round starts from the server's weights (the scratch pair is shared)
        return result

    def current_lrs(self) -> dict[str, float | None]:
        """The rates the client's optimisers trained its last round with."""
        if self._state is None:
            return dict(self.last_lrs) if self.last_lrs else {"lr_g": None, "lr_d": None}
        return super().current_lrs()


ROUND_STREAMS = 0x5EED
"""Mixed into a client's per-round seed, so its round streams differ from any other stream of the run."""


def seed_round(worker: GanWorker, round_id: int) -> None:
    """Seed ``worker``'s batch (``rng``) and noise (``gen``) streams for round ``round_id`` from (run seed, worker
    index, round) alone: a client built anew for the round draws what one kept between rounds draws."""
    rng_seq, torch_seq = np.random.SeedSequence([worker.setup.seed, worker.index, round_id, ROUND_STREAMS]).spawn(2)
    worker.rng = np.random.default_rng(rng_seq)
    worker.gen.manual_seed(int(torch_seq.generate_state(1, np.uint64)[0] >> np.uint64(1)))


class FedAvgPopulation(ClientPopulation):
    """The clients of one population datacenter, built when a call reaches one (testbed.methods.common.population):
    nothing is kept between rounds but the learning rates each client's latest round trained with (the lr columns)."""

    client_type = FedAvgClient


def _round_args(g: Any, d: Any, epochs: float, batch_size: int, lr_factor: float = 1.0,
                round_id: int = 0) -> tuple[Any, Any, float, int, float, int]:
    """:meth:`FedAvgClient.fedavg_round`'s arguments, bound as the method binds them."""
    return g, d, epochs, batch_size, lr_factor, round_id
