"""``hierfavg``: client-edge-cloud hierarchical federated averaging of both nets.

Liu et al., *Client-Edge-Cloud Hierarchical Federated Learning*, ICC 2020 (HierFAVG): every client
takes kappa_1 = ``edge_every`` local steps (one D and one G update each, a fresh Adam per edge round,
batch B) from its edge's model; its datacenter's edge aggregator ``<dc>/edge`` averages its clients
(weighted by n_k, over the LAN) -- one *edge round*; after kappa_2 = ``cloud_every`` edge rounds the
edges send their models to the cloud ``<server_at>/cloud``, which averages them weighted by the data
behind each (over the WAN) and sends the result back down -- one *cloud round*, the run's iteration.
The learning-rate schedule of a client's steps is indexed by cloud rounds.

Bytes, exactly, per cloud round with E edges and N clients (|G_bn|: G's BatchNorm statistics):

* client tier (``params_g`` + ``params_d``, LAN): kappa_2 N x 2 x 4(|G| + |G_bn| + |D|);
* cloud tier (``cloud_g`` + ``cloud_d``; WAN for every edge outside the cloud's datacenter):
  E x 2 x 4(|G| + |G_bn| + |D|).

``summary.json`` holds both totals under ``method_results.tier_payload_nbytes``.  With kappa_2 = 1 and
one client per datacenter it is FedAvg (C = 1, E epochs = kappa_1 steps): the same generator, bit for
bit, and the same WAN bytes (tests/test_hierfavg.py).

Churn and stragglers, per edge as for FedAvg (testbed.methods.common.client_pool): an edge hands work
only to its clients that are up and not busy; a client that goes down before its reply has fully
arrived is dropped (``offline: drop``, FedScale's rule) or waited for (``offline: pause``); a crashed
client is skipped.  An edge or the cloud that is down pauses (whoever waits for it waits); a crashed
edge is skipped by the cloud from then on (its clients' work is lost); a crashed cloud, or every edge
crashed, stops the run.  Synchronous: without churn its operations do not depend on timing.

Client fraction (``client_fraction`` C, default 1: the paper's every client): each edge round an edge hands
work to max(floor(C N_e), 1) of its N_e clients, a seeded uniform choice among those up and idle from the
edge's own stream (run seed, edge), so the edges' choices do not depend on which edge draws first -- what a
cross-device hierarchy with 10^5+ clients per edge needs (Liu et al. train all of them).  Bytes and steps
then count m = sum_e max(floor(C N_e), 1) clients per edge round where the formula says N.  At the cloud a
sampled edge weighs its whole data once any of its clients replied (the sample's average stands for the
edge, as FedAvg's server weights a round), not the data of the few it trained.

Client populations (``workers: {count: N}``): every edge round builds the clients it trains (a fresh Adam
each, batch and noise seeded by the edge round) and their processes end with the round; the edge's choice
of idle clients does not walk the population when no client can go down
(testbed.methods.common.client_pool).  A population runs exactly as the same workers listed (tested);
memory and time per edge round grow with the clients it trains (the edge holds their replies until it
averages), not with the population.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from testbed.core.errors import ConfigError
from testbed.methods.api import (
    Algorithm,
    check_batch_size,
    check_one_datacenter,
    register,
    server_node,
    service_node,
)
from testbed.methods.common.client_pool import check_offline
from testbed.methods.common.population import host_clients
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.fedavg.state import Aggregator
from testbed.methods.hierfavg.protocol import HierPlan, client, cloud, edge
from testbed.methods.hierfavg.state import EdgeAggregator, HierClient, HierPopulation
from testbed.topology.model import Topology
from testbed.topology.population import NodeIds


@dataclass(frozen=True)
class HierFavgParams:
    """``edge_every`` kappa_1 (local steps per edge round), ``cloud_every`` kappa_2 (edge rounds per cloud
    round), ``batch_size`` B (0: training.batch_size), ``server_at`` (the cloud's datacenter), ``offline``,
    ``client_fraction`` C (clients per edge round; 1: all)."""

    edge_every: int = 10
    cloud_every: int = 2
    batch_size: int = 0
    server_at: Any = None
    offline: str = "drop"
    client_fraction: float = 1.0
    """C: each edge round an edge hands work to max(floor(C N_e), 1) of its N_e clients (1: all, the paper's)."""


@register("hierfavg")
class HierFavg(Algorithm):
    """Clients average at their datacenter's edge every kappa_1 steps; edges at the cloud every kappa_2 rounds."""

    Params = HierFavgParams
    supports_population = True
    task_kinds = ("train_step", "average")
    compressible_kinds = ("params_g", "params_d", "cloud_g", "cloud_d")
    update_orders = ("alternating", "simultaneous")
    example_params: ClassVar[dict[str, Any]] = {"edge_every": 2, "cloud_every": 2, "server_at": "b"}

    @classmethod
    def validate(cls, params: HierFavgParams, topology: Topology, src: str) -> None:
        if not 1 <= params.edge_every <= 100_000:
            raise ConfigError(src, "algorithm.edge_every", f"{params.edge_every} is outside [1, 100000]",
                              "give kappa_1 >= 1 local steps per edge round, e.g. 10")
        if not 1 <= params.cloud_every <= 10_000:
            raise ConfigError(src, "algorithm.cloud_every", f"{params.cloud_every} is outside [1, 10000]",
                              "give kappa_2 >= 1 edge rounds per cloud round, e.g. 2")
        check_batch_size(params.batch_size, src, "B")
        check_one_datacenter(params.server_at, topology, src)
        check_offline(params.offline, src)
        if not 0 < params.client_fraction <= 1:
            raise ConfigError(src, "algorithm.client_fraction", f"{params.client_fraction} is outside (0, 1]",
                              "give the fraction of each edge's clients trained per edge round, e.g. 0.01 (1: all)")

    def setup(self) -> None:
        s = self.session
        self.cloud = server_node(self.params.server_at, s.topology, "cloud")
        self.batch_size = self.params.batch_size or s.setup.training.batch_size
        n_k = host_clients(s, HierClient, HierPopulation)  # a population's: built for each edge round
        edges = {service_node(dc.name, "edge"): (NodeIds([(dc.name, len(dc.workers))]) if dc.population is not None
                                                 else [w.node_id for w in dc.workers])
                 for dc in s.topology.datacenters if len(dc.workers)}
        for node in edges:
            s.host(node, EdgeAggregator, s.setup)
        s.host(self.cloud, Aggregator, s.setup)
        self.plan = HierPlan(self.cloud, edges, n_k, self.params.edge_every, self.params.cloud_every,
                             self.batch_size, self.params.offline, self.params.client_fraction, s.setup.seed)

    def start(self) -> None:
        s = self.session
        s.spawn(self.cloud, lambda ctx: cloud(ctx, s, self.plan))
        for dc in s.topology.datacenters:
            if not len(dc.workers):
                continue
            node = service_node(dc.name, "edge")
            s.spawn(node, lambda ctx: edge(ctx, s, self.plan))
            if dc.population is None:  # a population's clients are spawned with their edge rounds (protocol.py)
                for worker in dc.workers:
                    s.spawn(worker.node_id, lambda ctx, e=node: client(ctx, s, self.plan, e))

    def node_crashed(self, node: str, t_s: float) -> str | None:
        """Clients and edges may crash (skipped); the cloud may not."""
        if node == self.cloud:
            return f"crashed: {node} at {t_s:g}s (the hierfavg cloud holds the global model)"
        return None

    @classmethod
    def timing_dependence(cls, params: Any, topology: Topology) -> str | None:
        """Synchronous at both tiers: an edge hands each round to every client (or to its C share, chosen from
        the edge's own stream) and waits for all of them (no deadline), averaging in client order; the cloud
        waits for every edge, in edge order -- the same computations on any network, whatever the speeds.  Only
        availability makes whom an edge hands work to, and whose reply it keeps, depend on when things happen."""
        if not topology.any_availability:
            return None
        for node in topology.nodes:
            if topology.dynamics_of(node).availability is not None:
                return (f"{node} has an availability: hierfavg's edges hand work to the clients that are up and "
                        "drop those that go down, which depends on timing")
        return None

    def expected_payload_nbytes(self) -> dict[str, int]:
        """Per cloud round: kappa_2 m client models each way (``params_*``; m = sum over edges of max(floor(C N_e),
        1), N with C = 1), E edge models each way (``cloud_*``)."""
        sizes = wire_sizes(self.session.setup)
        rounds, clients, edges = self.session.iteration, self.plan.clients_per_edge_round(), len(self.plan.edges)
        per_tier = {"params": 2 * rounds * self.params.cloud_every * clients, "cloud": 2 * rounds * edges}
        return {f"{tier}_{net}": n * (sizes.g_snapshot_nbytes if net == "g" else sizes.d_nbytes)
                for tier, n in per_tier.items() for net in ("g", "d")}

    def generators(self) -> dict[str, Any]:
        return {"hierfavg": self.snapshot_of(self.cloud)}

    def lr_probes(self) -> list[Any]:
        return self.probes_of(self.plan.last_clients[:1])

    def footing(self) -> dict[str, Any]:
        steps = self.plan.clients_per_edge_round() * self.params.edge_every * self.params.cloud_every
        footing = {"update_order": self.session.setup.training.update_order,
                "iteration": "one cloud round: kappa_2 edge rounds of kappa_1 local steps at every client",
                "g_steps_per_iteration": steps, "d_steps_per_iteration": steps,
                "edge_every": self.params.edge_every, "cloud_every": self.params.cloud_every,
                "edges": len(self.plan.edges)}
        if self.params.client_fraction != 1:  # the paper's footing stays as it was
            footing["client_fraction"] = self.params.client_fraction
            footing["iteration"] = ("one cloud round: kappa_2 edge rounds of kappa_1 local steps at C of each edge's "
                                    "clients")
        return footing

    def results(self) -> dict[str, Any]:
        """Payload bytes sent per tier (client <-> edge, edge <-> cloud) and the client replies dropped."""
        return {"tier_payload_nbytes": dict(self.plan.tier_nbytes), "client_replies_dropped": len(self.plan.dropped)}

    def calibration_node(self, kind: str) -> str:
        return self.cloud if kind == "average" else self.session.workers[0]
