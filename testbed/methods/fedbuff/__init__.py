"""``fedbuff``: buffered asynchronous federated averaging of both nets (FedBuff; FedAsync with ``mixing``).

Nguyen et al., *Federated Learning with Buffered Asynchronous Aggregation*, AISTATS 2022 (Alg. 1):
C = ``concurrency`` clients train at once, each on the model version it downloaded (one FedAvg client
round: E local epochs of batch B with a fresh Adam); each sends its update Delta = downloaded -
trained; the server keeps a buffer and, once K = ``buffer`` updates are in, steps x <- x - eta_g (1/K)
sum_k s(tau_k) Delta_k (eta_g = ``server_lr``, s the ``staleness`` function of tau, the number of
server versions since the client's download), then hands the newest model to the next idle client.
With ``mixing: alpha`` (and ``buffer: 1``) it is FedAsync (Xie et al. 2019): clients send their model
and the server mixes x <- (1 - alpha s(tau)) x + alpha s(tau) x_new.  ``iterations`` counts server
updates (versions); the learning-rate schedule of a client's round is indexed by the version it
trains from; the server's step is constant.

Bytes, exactly: each dispatch sends 4(|G|+|G_bn|) (``params_g``) + 4|D| (``params_d``) down and, if the
client answers before the run stops, the same up (``delta_g`` + ``delta_d``; FedAsync ``params_g`` +
``params_d``).  So a run with U applied updates, D dropped ones, L late replies to dropped work and O
dispatches still outstanding at the stop sent (U + D + O) downloads and U + L uploads; without churn
that is U + O downloads with O <= C.

Churn and stragglers, as for FedAvg (testbed.methods.common.client_pool): only clients that are up and
not busy are handed work; a client that goes down before its update has fully arrived is dropped
(``offline: drop``, FedScale's rule; its slot is refilled, its late update ignored) or waited for
(``offline: pause``); a crashed client frees its slot; a crashed server, or every client crashed, stops
the run.  Stragglers simply deliver staler updates.  Asynchronous, so timing-dependent: the same seed
on a different WAN applies different updates in a different order.

Client populations (``workers: {count: N}``): clients are stateless between dispatches (a fresh Adam
per round, batch and noise streams seeded by the dispatch id), so a population's client is built when it is
handed a model and its process ends when that work is answered or abandoned; the server's seeded choice of
idle clients does not walk the population when no client can go down (testbed.methods.common.client_pool),
so a population runs exactly as the same workers listed (tested).  ``concurrency: 0`` (every client) is
refused on a population.

Staleness of every applied update is in ``summary.json`` (``method_results.staleness_counts``) and
drawn as a histogram on the report (analysis/staleness_hist.py).  G's BatchNorm statistics travel as
trained (not as a difference: one taken against a stale version could push a variance below zero) and
are mixed in with the same weights: b <- (1 - mean s) b + mean(s b_k).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from testbed.core.errors import ConfigError
from testbed.core.fields import checked_number
from testbed.methods.api import Algorithm, check_batch_size, check_one_datacenter, register, server_node
from testbed.methods.common.client_pool import check_offline
from testbed.methods.common.population import host_clients, spawn_listed
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.fedavg.state import total_local_steps
from testbed.methods.fedbuff.protocol import FedBuffPlan, client, serve
from testbed.methods.fedbuff.staleness import parse_staleness
from testbed.methods.fedbuff.state import BufferedAggregator, FedBuffClient, FedBuffPopulation
from testbed.topology.model import Topology


@dataclass(frozen=True)
class FedBuffParams:
    """``concurrency`` C (0: every client), ``buffer`` K (0: ceil(C/10), the paper's 10 of 100),
    ``staleness`` (constant | {poly: a} | {hinge: {a, b}}), ``server_lr`` eta_g, ``mixing`` alpha (FedAsync;
    needs buffer 1), ``local_epochs`` E, ``batch_size`` B (0: training.batch_size), ``server_at``,
    ``offline`` (drop | pause)."""

    concurrency: int = 0
    buffer: int = 0
    staleness: Any = field(default_factory=lambda: {"poly": 0.5})
    server_lr: float = 1.0
    mixing: float | None = None
    local_epochs: float = 1.0
    batch_size: int = 0
    server_at: Any = None
    offline: str = "drop"

    def resolved(self, num_clients: int) -> tuple[int, int]:
        """(C, K) with the defaults applied."""
        concurrency = self.concurrency or num_clients
        return concurrency, self.buffer or (1 if self.mixing is not None else max(1, math.ceil(concurrency / 10)))


@register("fedbuff")
class FedBuff(Algorithm):
    """Asynchronous federated averaging with a buffer of K staleness-weighted updates."""

    Params = FedBuffParams
    supports_population = True
    task_kinds = ("train_step", "average")
    compressible_kinds = ("params_g", "params_d", "delta_g", "delta_d")
    gradient_kinds = ("delta_g", "delta_d")  # a client's successive updates: pseudo-gradients of the model
    update_orders = ("alternating", "simultaneous")
    example_params: ClassVar[dict[str, Any]] = {"concurrency": 3, "buffer": 2}

    @classmethod
    def validate(cls, params: FedBuffParams, topology: Topology, src: str) -> None:
        n = len(topology.nodes)
        if not 0 <= params.concurrency <= n:
            raise ConfigError(src, "algorithm.concurrency", f"{params.concurrency} is outside [0, {n}] (the clients)",
                              "give C clients training at once, or 0 for all")
        if params.concurrency == 0 and topology.has_population:
            raise ConfigError(src, "algorithm.concurrency", f"left out or 0 (every client) would keep all {n} "
                              "workers, the population's clients included, training at once",
                              "give C clients training at once, e.g. concurrency: 100")
        concurrency = params.concurrency or n
        if not 0 <= params.buffer <= concurrency:
            raise ConfigError(src, "algorithm.buffer", f"{params.buffer} is outside [0, {concurrency}] "
                              "(the concurrency)", "give K <= C updates per server step, or 0 for ceil(C/10)")
        parse_staleness(params.staleness, src)
        checked_number(params.server_lr, src, "algorithm.server_lr", float, 0, 10, "(]")
        if params.mixing is not None:
            checked_number(params.mixing, src, "algorithm.mixing", float, 0, 1, "(]")
            if params.buffer not in (0, 1):
                raise ConfigError(src, "algorithm.mixing", f"FedAsync mixes one update at a time, but buffer is "
                                  f"{params.buffer}", "set buffer: 1 (or leave it out), or remove mixing for FedBuff")
            if params.server_lr != 1.0:
                raise ConfigError(src, "algorithm.server_lr", "FedAsync's step is the mixing weight",
                                  "remove server_lr, or remove mixing for FedBuff")
        if not 0 < params.local_epochs <= 1000:
            raise ConfigError(src, "algorithm.local_epochs", f"{params.local_epochs} is outside (0, 1000]",
                              "give E > 0 local epochs, e.g. 1")
        check_batch_size(params.batch_size, src, "B")
        check_one_datacenter(params.server_at, topology, src)
        check_offline(params.offline, src)

    def setup(self) -> None:
        s = self.session
        self.server = server_node(self.params.server_at, s.topology)
        self.batch_size = self.params.batch_size or s.setup.training.batch_size
        n_k = host_clients(s, FedBuffClient, FedBuffPopulation)  # a population's: built when dispatched
        s.host(self.server, BufferedAggregator, s.setup, self.params.server_lr)
        concurrency, buffer = self.params.resolved(len(s.workers))
        self.plan = FedBuffPlan(self.server, n_k, self.batch_size, self.params.local_epochs, concurrency, buffer,
                                parse_staleness(self.params.staleness, "<params>"), self.params.mixing,
                                self.params.offline)

    def start(self) -> None:
        s = self.session
        s.spawn(self.server, lambda ctx: serve(ctx, s, self.plan))
        spawn_listed(s, lambda ctx: client(ctx, s, self.plan))  # a population's: when dispatched (protocol.py)

    def node_crashed(self, node: str, t_s: float) -> str | None:
        """A client may crash (its slot is refilled); the server may not."""
        if node == self.server:
            return f"crashed: {node} at {t_s:g}s (the fedbuff server holds the global model)"
        return None

    @classmethod
    def timing_dependence(cls, params: Any, topology: Topology) -> str | None:
        """Asynchronous: the server buffers updates in the order they arrive and weights each by the versions
        applied since its download, so which updates meet in a step, and their weights, follow the timing."""
        return "fedbuff is asynchronous: which updates the server applies, and in what order, follow arrival times"

    def expected_payload_nbytes(self) -> dict[str, int] | None:
        """Without churn every arrival but the one that ends the run refills one slot: C + U - 1 dispatches of
        4(|G|+|G_bn|) + 4|D| for U = iterations x K applied updates; uploads are the replies sent before the
        stop (U of them applied, up to C - 1 more in flight), each the same size."""
        sizes = wire_sizes(self.session.setup)
        applied = self.session.iteration * self.plan.buffer
        downloads = self.plan.concurrency + applied - 1 if applied else self.plan.dispatches
        g_kind, d_kind = self.plan.up_kinds
        down = {"params_g": downloads * sizes.g_snapshot_nbytes, "params_d": downloads * sizes.d_nbytes}
        up = {g_kind: self.plan.uploads * sizes.g_snapshot_nbytes, d_kind: self.plan.uploads * sizes.d_nbytes}
        return {kind: down.get(kind, 0) + up.get(kind, 0) for kind in {*down, *up}}

    def generators(self) -> dict[str, Any]:
        return {"fedbuff": self.snapshot_of(self.server)}

    def lr_probes(self) -> list[Any]:
        return self.probes_of(self.plan.last_clients[:1])

    def footing(self) -> dict[str, Any]:
        steps = total_local_steps(self.plan.n_k.values(), self.params.local_epochs, self.batch_size)
        per_update = self.plan.buffer * steps / len(self.plan.n_k)
        return {"update_order": self.session.setup.training.update_order,
                "iteration": "one server update: K buffered client updates (FedAsync: one, mixed)",
                "g_steps_per_iteration": per_update, "d_steps_per_iteration": per_update,
                "concurrency": self.plan.concurrency, "buffer": self.plan.buffer,
                "staleness": self.plan.staleness.describe()}

    def results(self) -> dict[str, Any]:
        """The staleness of every applied update (histogram), and the dispatches dropped under churn."""
        taus = [tau for _, _, _, tau in self.plan.applied]
        counts = Counter(taus)
        return {"staleness_counts": {str(tau): counts[tau] for tau in sorted(counts)},
                "staleness_mean": sum(taus) / len(taus) if taus else None,
                "staleness_max": max(taus, default=None), "updates_applied": len(taus),
                "dispatches_dropped": len(self.plan.dropped)}

    def calibration_node(self, kind: str) -> str:
        return self.server if kind == "average" else self.session.workers[0]
