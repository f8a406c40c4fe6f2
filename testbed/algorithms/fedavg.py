"""``fedavg``: federated averaging (McMahan et al. 2017) of both nets -- FL-GAN / FedGAN.

Each round the server at ``server_at`` picks m = max(floor(C*K), 1) of the K
workers (seeded), sends each the global G and D (``params_g``, ``params_d``:
4(|G|+|G_bn|+|D|) B down), each runs E local epochs of batch-B training steps from
those weights with a fresh Adam (ceil(E * ceil(n_k/B)) steps, each one D and one G
update, alternating by default or simultaneous with ``training.update_order``) and
sends both nets back (4(|G|+|G_bn|+|D|) B up); the server averages them weighted by
n_k.  ``iterations`` counts rounds; the learning-rate schedule is indexed by rounds.

BatchNorm: ``params_g`` carries G's parameters *and* its BatchNorm running
statistics (|G_bn| = 2 floats per BN channel: running mean and variance); the
server averages both weighted by n_k, so the global G can be sampled in eval mode
and every client starts its round from the global statistics.  A G without
BatchNorm (mlp2d) has |G_bn| = 0.  D's statistics do not travel (D only runs in
training mode; the shipped discriminators have no BatchNorm).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from testbed.algorithms import register
from testbed.algorithms.base import Algorithm, check_one_datacenter, server_datacenters
from testbed.engine import NodeContext
from testbed.errors import ConfigError
from testbed.nodes.server import Aggregator
from testbed.nodes.worker import GanWorker, local_steps
from testbed.topology import Topology


@dataclass(frozen=True)
class FedAvgParams:
    """``client_fraction`` C, ``local_epochs`` E, ``batch_size`` B (default: training.batch_size),
    ``server_at``: the aggregating datacenter."""

    client_fraction: float = 1.0
    local_epochs: float = 1.0
    batch_size: int = 0
    server_at: Any = None


@register("fedavg")
class FedAvg(Algorithm):
    """Rounds of local training and weighted model averaging."""

    Params = FedAvgParams
    task_kinds = ("train_step", "average")
    update_orders = ("alternating", "simultaneous")

    @classmethod
    def validate(cls, params: FedAvgParams, topology: Topology, src: str) -> None:
        if not 0 < params.client_fraction <= 1:
            raise ConfigError(src, "algorithm.client_fraction", f"{params.client_fraction} is outside (0, 1]",
                              "give a fraction like 0.1")
        if not 0 < params.local_epochs <= 1000:
            raise ConfigError(src, "algorithm.local_epochs", f"{params.local_epochs} is outside (0, 1000]",
                              "give E > 0 local epochs, e.g. 1")
        if not 0 <= params.batch_size <= 65536:
            raise ConfigError(src, "algorithm.batch_size", f"{params.batch_size} is outside [0, 65536]",
                              "use B >= 1, or 0 for training.batch_size")
        check_one_datacenter(params.server_at, topology, src)

    def setup(self) -> None:
        run = self.run
        self.server = f"{server_datacenters(self.params.server_at, run.topology)[0]}/server"
        self.batch_size = self.params.batch_size or run.spec.training.batch_size
        for i, worker in enumerate(run.workers):
            run.executor.host(worker, GanWorker, run.setup, i)
        run.executor.host(self.server, Aggregator, run.setup)
        sizes = [run.executor.call(w, "num_samples") for w in run.workers]
        self.n_k = {w: int(run.executor.resolve(h)) for w, h in zip(run.workers, sizes, strict=True)}
        self.last_clients: list[str] = []

    def start(self) -> None:
        self.run.engine.spawn(self.server, self._serve)
        for worker in self.run.workers:
            self.run.engine.spawn(worker, self._client)

    def clients_per_round(self) -> int:
        return max(math.floor(self.params.client_fraction * len(self.run.workers)), 1)

    def _serve(self, ctx: NodeContext) -> Generator[simpy.Event, Any, None]:
        run = self.run
        while not run.should_stop():
            chosen = sorted(run.rng.choice(len(run.workers), self.clients_per_round(), replace=False))
            clients = [run.workers[i] for i in chosen]
            self.last_clients = clients
            g, d = ctx.call("params", num_returns=2)
            for client in clients:
                ctx.send(client, g, "params_g")
                ctx.send(client, d, "params_d")
            models: list[Any] = []
            for client in clients:
                models.append((yield ctx.recv(kind="params_g", src=client)).payload)
                models.append((yield ctx.recv(kind="params_d", src=client)).payload)
            weights = [float(self.n_k[c]) for c in clients]
            yield ctx.compute("average", "average", weights, *models, units=len(clients))
            run.complete_iteration()

    def _client(self, ctx: NodeContext) -> Generator[simpy.Event, Any, None]:
        steps = local_steps(self.n_k[ctx.node_id], self.params.local_epochs, self.batch_size)
        while True:
            g = (yield ctx.recv(kind="params_g", src=self.server)).payload
            d = (yield ctx.recv(kind="params_d", src=self.server)).payload
            lr_factor = self.run.setup.lr_scale(self.run.iteration)  # the round being trained
            g_new, d_new = yield ctx.compute("train_step", "fedavg_round", g, d, self.params.local_epochs,
                                             self.batch_size, lr_factor, units=steps, num_returns=2)
            ctx.send(self.server, g_new, "params_g")
            ctx.send(self.server, d_new, "params_d")

    def generators(self) -> dict[str, Any]:
        return {"fedavg": self.snapshot_of(self.server)}

    def lr_probes(self) -> list[Any]:
        return self.probes_of(self.last_clients[:1])  # the rates the last round trained with

    def footing(self) -> dict[str, Any]:
        steps = [local_steps(n, self.params.local_epochs, self.batch_size) for n in self.n_k.values()]
        per_round = self.clients_per_round() * sum(steps) / len(steps)
        return {"update_order": self.run.setup.training.update_order,
                "iteration": "one round: E local epochs at each chosen client, then averaging",
                "g_steps_per_iteration": per_round, "d_steps_per_iteration": per_round,
                "local_steps_per_client": sum(steps) / len(steps), "clients_per_round": self.clients_per_round()}

    def calibration_node(self, kind: str) -> str:
        return self.server if kind == "average" else self.run.workers[0]
