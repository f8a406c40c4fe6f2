"""``fedavg``: federated averaging (McMahan et al. 2017) of both nets -- FL-GAN / FedGAN.

Each round the server at ``server_at`` picks m = max(floor(C*K), 1) of the K
workers (seeded), sends each the global G and D (``params_g``, ``params_d``:
4(|G|+|G_bn|+|D|) B down), each runs E local epochs of batch-B training steps from
those weights with a fresh Adam (``client_state: reset``, the default) or its own Adam
continued from the last round it was chosen for (``keep``) (ceil(E * ceil(n_k/B)) steps, each one D and one G
update, alternating by default or simultaneous with ``training.update_order``) and
sends both nets back (4(|G|+|G_bn|+|D|) B up); the server averages them weighted by
n_k.  Clients are stateless (Flower's and FedScale's model): a client's batch and noise streams for a
round come from (run seed, client index, round), so a client built anew for its round -- a population's,
``workers: {count: N}`` -- trains exactly as one kept between rounds.  ``iterations`` counts rounds;
the learning-rate schedule is indexed by rounds.

Churn (topology ``availability``; ``protocol.py`` has the details): the server samples only the
clients available at a round's start and not still working on an earlier round (m = min(m,
available)); ``offline: drop`` (default; FedScale's rule) drops a chosen client that goes down
before its reply has fully arrived -- the server stops waiting for it then, and the client abandons
the round -- while ``offline: pause`` waits for it to come back; ``round_deadline`` (virtual seconds
from the round's start) makes it average what has arrived by then and drop later replies when they
arrive (their bytes are in the traffic log: they were sent); ``over_select`` f chooses
ceil((1+f) m) clients and keeps the first m complete replies.  A client that crashes is skipped (the
server stops waiting for it at once); a crashed server, or no client left, stops the run with that
stop_reason.  A round without any reply leaves the model unchanged and still counts.
``server_optimizer`` (fedavgm, fedadam, nesterov: ``server_optimizers.py``) makes the average
a step on the pseudo-gradient global - average instead, for G and D separately, at a constant
``server_lr`` (``server_lr_schedule: shared`` follows the clients' decay instead); bytes unchanged.
The package: ``protocol.py`` (the server's rounds, a client's answer), ``state.py``
(the aggregator and the stateless client).

BatchNorm: ``params_g`` carries G's parameters *and* its BatchNorm running
statistics (|G_bn| = 2 floats per BN channel: running mean and variance); the
server averages both weighted by n_k, so the global G can be sampled in eval mode
and every client starts its round from the global statistics.  A G without
BatchNorm (mlp2d) has |G_bn| = 0.  D's statistics do not travel (D only runs in
training mode; the shipped discriminators have no BatchNorm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from testbed.core.errors import ConfigError
from testbed.core.fields import checked_number, checked_quantity
from testbed.core.units import parse_seconds
from testbed.methods.api import Algorithm, check_batch_size, check_one_datacenter, register, server_node
from testbed.methods.common.population import host_clients, refuse_kept_on_population, spawn_listed
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.fedavg.protocol import OFFLINE_RULES, FedAvgPlan, client, serve
from testbed.methods.fedavg.server_optimizers import (
    LR_SCHEDULES,
    SERVER_OPTIMIZERS,
    ServerOptimizerSpec,
    default_lr,
    settings_used,
)
from testbed.methods.fedavg.state import (
    CLIENT_STATES,
    Aggregator,
    FedAvgClient,
    FedAvgPopulation,
    total_local_steps,
)
from testbed.topology.model import Topology


@dataclass(frozen=True)
class FedAvgParams:
    """``client_fraction`` C, ``local_epochs`` E, ``batch_size`` B (default: training.batch_size),
    ``server_at``: the aggregating datacenter; ``round_deadline``, ``over_select`` and ``offline``
    (churn, stragglers);
    ``server_optimizer`` (fedavg | fedavgm | fedadam | nesterov) with ``server_lr`` (None: the
    optimiser's default), ``server_lr_schedule`` (constant | shared; None: constant),
    ``server_momentum`` (fedavgm, nesterov), ``server_beta1``, ``server_beta2``, ``server_tau`` (fedadam);
    ``client_state`` (reset | keep: each round's Adam fresh, or continued per client)."""

    client_fraction: float = 1.0
    local_epochs: float = 1.0
    batch_size: int = 0
    server_at: Any = None
    round_deadline: Any = None
    """Virtual seconds from a round's start (``30s``); replies later than that are dropped. None: wait."""
    over_select: float = 0.0
    """Choose ceil((1 + over_select) m) clients, keep the first m complete replies."""
    offline: str = "drop"
    """A chosen client that goes down mid-round: ``drop`` it (FedScale) or ``pause`` (wait for it)."""
    server_optimizer: str = "fedavg"
    server_lr: float | None = None
    server_momentum: float | None = None
    server_beta1: float | None = None
    server_beta2: float | None = None
    server_tau: float | None = None
    """None: the optimiser's default (ServerOptimizerSpec); one the chosen optimiser does not read is refused."""
    server_lr_schedule: str | None = None
    client_state: str = "reset"

    def server_spec(self) -> ServerOptimizerSpec:
        """The server optimiser's resolved settings."""
        lr = default_lr(self.server_optimizer) if self.server_lr is None else float(self.server_lr)
        given = {key: getattr(self, f"server_{key}") for key in ("momentum", "beta1", "beta2", "tau")}
        return ServerOptimizerSpec(self.server_optimizer, lr, **{k: float(v) for k, v in given.items()
                                                                 if v is not None},
                                   lr_schedule=self.server_lr_schedule or "constant")


def round_deadline_s(params: Any, src: str) -> float:
    """``round_deadline`` in seconds (inf when unset); a ConfigError unless it is a positive time with a unit."""
    if params.round_deadline is None:
        return math.inf
    return checked_quantity(params.round_deadline, src, "algorithm.round_deadline", parse_seconds, "s", positive=True)


@register("fedavg")
class FedAvg(Algorithm):
    """Rounds of local training and weighted model averaging."""

    Params = FedAvgParams
    supports_population = True
    task_kinds = ("train_step", "average")
    compressible_kinds = ("params_g", "params_d")
    update_orders = ("alternating", "simultaneous")
    example_params: ClassVar[dict[str, Any]] = {"client_fraction": 0.6, "local_epochs": 1}

    @classmethod
    def validate(cls, params: FedAvgParams, topology: Topology, src: str) -> None:
        check_rounds(params, topology, src)
        if not 0 < params.local_epochs <= 1000:
            raise ConfigError(src, "algorithm.local_epochs", f"{params.local_epochs} is outside (0, 1000]",
                              "give E > 0 local epochs, e.g. 1")
        check_server_optimizer(params, src)
        if params.client_state not in CLIENT_STATES:
            raise ConfigError(src, "algorithm.client_state", f"unknown client state {params.client_state!r}",
                              "use reset (a fresh Adam every round) or keep (each client continues its own Adam)")
        refuse_kept_on_population(topology, src, "algorithm.client_state", params.client_state, "keep",
                                  "each client's Adam state", "client_state: reset")

    @classmethod
    def timing_dependence(cls, params: FedAvgParams, topology: Topology) -> str | None:
        """Waiting for every chosen client, a round averages the same replies (in client order) on any network;
        a deadline or over-selection keeps the replies that arrive first."""
        if params.round_deadline is not None:
            return "fedavg with round_deadline averages the replies that arrive in time, which depends on timing"
        if params.over_select:
            return "fedavg with over_select keeps the first replies to arrive, which depends on timing"
        return None

    def setup(self) -> None:
        s = self.session
        self.server = server_node(self.params.server_at, s.topology)
        self.batch_size = self.params.batch_size or s.setup.training.batch_size
        # a population's clients are built when chosen; n_k from the partition, no call per client
        self.n_k = host_clients(s, FedAvgClient, FedAvgPopulation, client_state=self.params.client_state)
        s.host(self.server, Aggregator, s.setup, self.params.server_spec())
        self.plan = FedAvgPlan(self.server, self.n_k, self.batch_size, self.params.local_epochs,
                               self.clients_per_round(), round_deadline_s(self.params, "<params>"),
                               self.params.over_select, self.params.offline)

    def start(self) -> None:
        s = self.session
        s.spawn(self.server, lambda ctx: serve(ctx, s, self.plan))
        spawn_listed(s, lambda ctx: client(ctx, s, self.plan))  # a population's: when chosen (protocol.py)

    def node_crashed(self, node: str, t_s: float) -> str | None:
        """A client may crash (the server stops waiting for it); the server may not."""
        if node == self.server:
            return f"crashed: {node} at {t_s:g}s (the {self.name} server holds the global model)"
        return None

    def expected_payload_nbytes(self) -> dict[str, int] | None:
        """Per round m clients, each 4(|G|+|G_bn|) (``params_g``) and 4|D| (``params_d``) down and up.  With a
        deadline or over-selection the number of replies sent depends on timing: not fixed in advance."""
        if self.plan.round_deadline_s != math.inf or self.plan.over_select:
            return None
        sizes = wire_sizes(self.session.setup)
        messages = 2 * self.session.iteration * min(self.clients_per_round(), len(self.session.workers))
        return {"params_g": messages * sizes.g_snapshot_nbytes, "params_d": messages * sizes.d_nbytes}

    def clients_per_round(self) -> int:
        return max(math.floor(self.params.client_fraction * len(self.session.workers)), 1)

    def generators(self) -> dict[str, Any]:
        return {"fedavg": self.snapshot_of(self.server)}

    def lr_probes(self) -> list[Any]:
        return self.probes_of(self.plan.last_clients[:1])  # the rates the last round trained with

    def footing(self) -> dict[str, Any]:
        steps = total_local_steps(self.n_k.values(), self.params.local_epochs, self.batch_size)
        per_round = self.clients_per_round() * steps / len(self.n_k)
        footing = {"update_order": self.session.setup.training.update_order,
                   "iteration": "one round: E local epochs at each chosen client, then averaging",
                   "g_steps_per_iteration": per_round, "d_steps_per_iteration": per_round,
                   "local_steps_per_client": steps / len(self.n_k), "clients_per_round": self.clients_per_round()}
        if self.params.server_optimizer != "fedavg":  # plain FedAvg's footing stays as it was
            footing["server_optimizer"] = self.params.server_optimizer
            footing["server_lr_schedule"] = self.params.server_spec().lr_schedule
        if self.params.client_state != "reset":
            footing["client_state"] = self.params.client_state
        return footing

    def calibration_node(self, kind: str) -> str:
        return self.server if kind == "average" else self.session.workers[0]

    def results(self) -> dict[str, Any]:
        """Every chosen client's fate as [round, client] pairs: ``averaged``, ``dropped`` (late, beyond the
        first m, or gone down) and ``went_down`` (the dropped ones that went down mid-round) -- the
        server's own record, which the traffic log alone cannot rebuild under churn (no reply is sent)."""
        plan = self.plan
        return {"replies_averaged": len(plan.averaged), "replies_dropped": len(plan.dropped),
                "replies_went_down": len(plan.went_down),
                "averaged": [[r, c] for r, c, _ in plan.averaged], "dropped": [list(p) for p in plan.dropped],
                "went_down": [list(p) for p in plan.went_down]}


def check_rounds(params: Any, topology: Topology, src: str) -> None:
    """One-line ConfigErrors for what FedAvg and FedSGD share: C, B, server_at, the deadline, over-selection,
    the offline rule."""
    if not 0 < params.client_fraction <= 1:
        raise ConfigError(src, "algorithm.client_fraction", f"{params.client_fraction} is outside (0, 1]",
                          "give a fraction like 0.1")
    check_batch_size(params.batch_size, src, "B")
    check_one_datacenter(params.server_at, topology, src)
    round_deadline_s(params, src)
    if not 0 <= params.over_select <= 10:
        raise ConfigError(src, "algorithm.over_select", f"{params.over_select} is outside [0, 10]",
                          "give the extra fraction of clients to choose, e.g. 0.3")
    if params.offline not in OFFLINE_RULES:
        raise ConfigError(src, "algorithm.offline", f"unknown rule {params.offline!r}",
                          "write offline: drop (a client that goes down mid-round is dropped, FedScale's rule) "
                          "or offline: pause (the server waits for it)")


def check_server_optimizer(params: FedAvgParams, src: str) -> None:
    """One-line ConfigErrors for ``server_optimizer`` and its hyper-parameters."""
    SERVER_OPTIMIZERS.require(params.server_optimizer, src, "algorithm.server_optimizer")
    if params.server_lr is not None:
        if params.server_optimizer == "fedavg":
            raise ConfigError(src, "algorithm.server_lr", "plain fedavg takes the clients' average, with no step size",
                              "remove it, or set server_optimizer: fedavgm | fedadam | nesterov")
        checked_number(params.server_lr, src, "algorithm.server_lr", float, 0, 10, "(]")
    if params.server_lr_schedule is not None:
        if params.server_optimizer == "fedavg":
            raise ConfigError(src, "algorithm.server_lr_schedule", "plain fedavg takes the clients' average, "
                              "with no step size to schedule",
                              "remove it, or set server_optimizer: fedavgm | fedadam | nesterov")
        if params.server_lr_schedule not in LR_SCHEDULES:
            raise ConfigError(src, "algorithm.server_lr_schedule", f"unknown schedule {params.server_lr_schedule!r}",
                              "use constant (server_lr every round) or shared (x the clients' lr decay)")
    used = settings_used(params.server_optimizer)
    for key, interval in (("server_momentum", "[)"), ("server_beta1", "[)"), ("server_beta2", "[)"),
                          ("server_tau", "(]")):
        value = getattr(params, key)
        if value is None:
            continue
        if key not in used:
            readers = [name for name in SERVER_OPTIMIZERS if name != "fedavg" and key in settings_used(name)]
            raise ConfigError(src, f"algorithm.{key}", f"server_optimizer {params.server_optimizer} does not use it, "
                              "so it would do nothing", f"remove it, or set server_optimizer: {' | '.join(readers)}")
        checked_number(value, src, f"algorithm.{key}", float, 0, 1, interval)
