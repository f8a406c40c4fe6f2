"""``fedsgd``: federated SGD (McMahan et al. 2017's baseline) of both nets, with a persistent server Adam.

Each round the server at ``server_at`` picks m = max(floor(C*K), 1) of the K workers (seeded),
sends each the global G and D (``params_g``, ``params_d``: 4(|G|+|G_bn|+|D|) B down); each computes
*one* gradient of D and one of G from those weights on one local batch of B samples (B defaults to
``training.batch_size``; B >= n_k takes the whole partition, McMahan's B = infinity) and sends them
back (``grads_g`` 4|G| + ``grads_d`` 4|D| B up, plus ``g_buffers`` 4|G_bn| when G has BatchNorm
statistics); the server takes the n_k-weighted mean of the gradients and applies it with its own
Adam -- one per net, built once, so its moments persist across rounds -- at the shared ``lr_g`` /
``lr_d`` and the shared schedule indexed by rounds.  One iteration is one round: 1 G and 1 D
optimiser step, from gradients computed simultaneously (as a parameter-server worker does).

McMahan et al.'s FedSGD applies the averaged gradient with a plain SGD step; the server Adam
here is the testbed's one optimiser for every method (the shared ``training`` settings), so
FedSGD is the BSP parameter server with client sampling, FedAvg's rounds and FedAvg's bytes.

Client populations (``workers: {count: N}``): a chosen client is built for its round and its process spawned
by FedAvg's server (FedAvg's rule); since it keeps nothing between rounds, its batch and noise come from
streams seeded by (run seed, client index, round) -- ``client_streams: per_round``, which listed workers can
take too (then a population and the same workers listed run identically, tested).  Listed workers keep
their own streams across rounds by default (``kept``), as parameter-server workers do.

Sampling, ``round_deadline``, ``over_select``, ``offline`` and churn are FedAvg's, server loop and all
(testbed.methods.fedavg.protocol): a busy client is not chosen again, one that goes down mid-round is
dropped (``offline: drop``) or waited for (``pause``), a client that crashes is skipped, a crashed
server or no client left stops the run.  G's BatchNorm statistics: each client returns them after its forward passes
from the global statistics, and the server averages them weighted by n_k, as FedAvg does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from testbed.core.errors import ConfigError
from testbed.methods.api import register, server_node
from testbed.methods.common.population import host_clients, refuse_kept_on_population, spawn_listed
from testbed.methods.common.sizes import FLOAT_NBYTES, wire_sizes
from testbed.methods.fedavg import FedAvg, check_rounds, round_deadline_s
from testbed.methods.fedavg.protocol import FedAvgPlan, serve
from testbed.methods.fedsgd.protocol import client, reply_kinds
from testbed.methods.fedsgd.state import CLIENT_STREAMS, FedSgdClient, FedSgdPopulation, FedSgdServer
from testbed.topology.model import Topology


@dataclass(frozen=True)
class FedSgdParams:
    """``client_fraction`` C, ``batch_size`` B (0: training.batch_size), ``server_at``, ``round_deadline``,
    ``over_select`` and ``offline`` -- FedAvg's, without local epochs or a server optimiser (the server's is Adam);
    ``client_streams`` (kept | per_round)."""

    client_fraction: float = 1.0
    batch_size: int = 0
    server_at: Any = None
    round_deadline: Any = None
    over_select: float = 0.0
    offline: str = "drop"
    """A chosen client that goes down mid-round: ``drop`` it (FedScale's rule) or ``pause`` for it."""
    client_streams: str | None = None
    """Where a client's batches and noise come from: ``kept`` (its own streams across rounds; the default for
    listed workers) or ``per_round`` (seeded by run seed, client and round; the default, and the only way, on
    a population)."""


@register("fedsgd")
class FedSgd(FedAvg):
    """Rounds of one gradient per chosen client, averaged and applied by the server's Adam."""

    Params = FedSgdParams
    supports_population = True
    task_kinds = ("grad_step", "server_update")
    compressible_kinds = ("params_g", "params_d", "grads_g", "grads_d")
    gradient_kinds = ("grads_g", "grads_d")
    update_orders = ("simultaneous",)
    example_params: ClassVar[dict[str, Any]] = {"client_fraction": 0.6}

    @classmethod
    def validate(cls, params: FedSgdParams, topology: Topology, src: str) -> None:
        check_rounds(params, topology, src)
        if params.client_streams is not None and params.client_streams not in CLIENT_STREAMS:
            raise ConfigError(src, "algorithm.client_streams", f"unknown streams {params.client_streams!r}",
                              "use kept (each client's own streams across rounds) or per_round (seeded per round)")
        refuse_kept_on_population(topology, src, "algorithm.client_streams", params.client_streams, "kept",
                                  "each client's random streams", "client_streams: per_round (or leave it out)")

    def setup(self) -> None:
        s = self.session
        self.server = server_node(self.params.server_at, s.topology)
        self.batch_size = self.params.batch_size or s.setup.training.batch_size
        self.n_k = host_clients(s, FedSgdClient, FedSgdPopulation, streams=self.streams())
        s.host(self.server, FedSgdServer, s.setup)
        self.plan = FedAvgPlan(self.server, self.n_k, self.batch_size, 0.0, self.clients_per_round(),
                               round_deadline_s(self.params, "<params>"), self.params.over_select,
                               self.params.offline, method="fedsgd", reply_kinds=reply_kinds(s),
                               server_task=("server_update", "apply_round"), client_process=client)

    def start(self) -> None:
        s = self.session
        s.spawn(self.server, lambda ctx: serve(ctx, s, self.plan))
        spawn_listed(s, lambda ctx: client(ctx, s, self.plan))  # a population's: when chosen (FedAvg's serve)

    def streams(self) -> str:
        """The clients' batch and noise streams: as given, else kept for listed workers, per_round on a population."""
        return self.params.client_streams or ("per_round" if self.session.topology.has_population else "kept")

    def expected_payload_nbytes(self) -> dict[str, int] | None:
        """Per round m clients, each 4(|G|+|G_bn|) (``params_g``) and 4|D| (``params_d``) down, 4|G|
        (``grads_g``), 4|D| (``grads_d``) and 4|G_bn| (``g_buffers``, with BatchNorm) up.  With a deadline
        or over-selection the number of replies sent depends on timing: not fixed in advance."""
        if self.plan.round_deadline_s != math.inf or self.plan.over_select:
            return None
        sizes = wire_sizes(self.session.setup)
        clients = self.session.iteration * min(self.clients_per_round(), len(self.session.workers))
        out = {"params_g": clients * sizes.g_snapshot_nbytes, "params_d": clients * sizes.d_nbytes,
               "grads_g": clients * sizes.g_nbytes, "grads_d": clients * sizes.d_nbytes}
        if sizes.g_buffers:
            out["g_buffers"] = clients * FLOAT_NBYTES * sizes.g_buffers
        return out

    def generators(self) -> dict[str, Any]:
        return {"fedsgd": self.snapshot_of(self.server)}

    def lr_probes(self) -> list[Any]:
        return self.probes_of([self.server])  # the server's Adam is the only optimiser

    def footing(self) -> dict[str, Any]:
        return {"update_order": "simultaneous",
                "iteration": "one round: one gradient at each chosen client, one server Adam step on their mean",
                "g_steps_per_iteration": 1, "d_steps_per_iteration": 1,
                "clients_per_round": self.clients_per_round(), "client_streams": self.streams()}

    def calibration_node(self, kind: str) -> str:
        return self.server if kind == "server_update" else self.session.workers[0]
