"""``gossip``: decentralised gossip averaging -- D-PSGD (Lian et al., NeurIPS 2017) for both nets, no server.

Every worker trains its own G and D on its own shard (one D and one G step per local step, alternating
by default or simultaneous with ``training.update_order``); every ``every`` = R local steps it averages
both nets with its neighbours on a graph (``graph``: ``ring``, ``datacenter-ring`` or ``random-matching``;
graph.py says which edges each has and why the first two are topology-aware): it sends each neighbour
G's snapshot and D and mixes what it receives with Metropolis-Hastings weights.  There is no server, so
no node holds *the* model: the generators evaluated are every worker's (metrics are their mean,
``<metric>_std`` their spread, which shrinks as the workers reach consensus).

Bytes: per averaging round, every worker sends each of its neighbours 4(|G| + |G_bn| + |D|) B -- G's
parameters and BatchNorm running statistics (``params_g``: |G_bn| = 2 floats per BN channel, 0 for
``mlp2d``; averaged with the same weights, as FedAvg averages them) and D's parameters (``params_d``; D's
statistics do not travel, D only runs in training mode).  A run of T iterations has floor((T - 1) / R)
rounds (none after the last step: nothing would train on it), so 4(|G| + |G_bn| + |D|) x 2|E| x
floor((T - 1) / R) B in all, |E| the round's edges: N on a ring of N >= 3 workers; the LAN pairs inside
every datacenter plus K WAN edges between K >= 3 datacenters on ``datacenter-ring``; floor(N / 2) on a
random matching.

Who counts what: ``iterations`` counts local steps, the run's is the slowest live worker's count (as
``local``); the learning-rate schedule is indexed by each worker's own steps.  The random matchings come
from their own stream, seeded by (run seed, :data:`MATCHING_RNG_SALT`), drawn in round order, so the
session's ``rng`` (and every other method's draws) is untouched.  Each worker keeps its own Adam moments
through an averaging.

Churn (topology ``availability``): rounds are synchronous, so a worker that is down (offline:
testbed.sim.engine -- no compute, its messages stall until it is back) holds up its neighbours, and
theirs.  A worker that crashes is dropped by its neighbours -- at once if they are waiting for it, else
at their next round -- each keeping the dropped neighbour's weight itself (the mixing stays symmetric and
doubly stochastic over the live workers, though the graph may come apart); its generator is lost.  When
every worker has crashed the run stops with that reason.
Simplifications: synchronous rounds (Lian et al.'s D-PSGD; not their later asynchronous AD-PSGD), and
Adam rather than the paper's SGD.

The package: ``graph.py`` (the graphs and their weights), ``protocol.py`` (a worker's loop and a round),
``state.py`` (the worker: its models, the mix).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from testbed.core.errors import ConfigError
from testbed.methods.api import Algorithm, register, workers_by_datacenter
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.gossip.graph import GRAPHS, GossipGraph
from testbed.methods.gossip.protocol import GossipPlan, work
from testbed.methods.gossip.state import GossipWorker
from testbed.topology.model import Topology

MATCHING_RNG_SALT = 0x6055
"""Seeds the random matchings apart from the session's rng."""


@dataclass(frozen=True)
class GossipParams:
    """``every`` R: local steps between averaging rounds; ``graph``: ring | datacenter-ring | random-matching."""

    every: int = 1
    graph: str = "ring"


@register("gossip")
class Gossip(Algorithm):
    """Local steps and neighbour averaging of G and D on a graph, without a server."""

    Params = GossipParams
    task_kinds = ("train_step", "gossip_average")
    compressible_kinds = ("params_g", "params_d")
    update_orders = ("alternating", "simultaneous")
    example_params: ClassVar[dict[str, Any]] = {"every": 2, "graph": "datacenter-ring"}

    @classmethod
    def validate(cls, params: GossipParams, topology: Topology, src: str) -> None:
        if not 1 <= params.every <= 100_000:
            raise ConfigError(src, "algorithm.every", f"{params.every} is outside [1, 100000]",
                              "give the local steps between averaging rounds, e.g. every: 4")
        if params.graph not in GRAPHS:
            raise ConfigError(src, "algorithm.graph", f"unknown graph {params.graph!r}", f"use one of {list(GRAPHS)}")

    def setup(self) -> None:
        s = self.session
        for i, worker in enumerate(s.workers):
            s.host(worker, GossipWorker, s.setup, i)
        graph = GossipGraph(self.params.graph, workers_by_datacenter(s),
                            np.random.default_rng([s.setup.seed, MATCHING_RNG_SALT]))
        self.plan = GossipPlan(self.params.every, graph, dict.fromkeys(s.workers, 0), list(s.workers), {})

    def start(self) -> None:
        for worker in self.session.workers:
            self.session.spawn(worker, lambda ctx: work(ctx, self.session, self.plan, self._catch_up))

    def _catch_up(self) -> None:
        """Complete the iterations every live worker has now taken."""
        s = self.session
        while s.iteration < min(self.plan.steps[w] for w in self.plan.live):
            s.complete_iteration()

    def node_crashed(self, node: str, t_s: float) -> str | None:
        """Skip the crashed worker (its neighbours drop it); stop once none is left."""
        live = self.plan.live
        if node in live:
            live.remove(node)
        if not live:
            return f"crashed: every worker (the last, {node}, at {t_s:g}s)"
        self._catch_up()
        return None

    def expected_payload_nbytes(self) -> dict[str, int]:
        """floor((T - 1) / R) rounds, each 2|E| models of 4(|G|+|G_bn|) (``params_g``) and 4|D| (``params_d``)."""
        rounds = max(0, self.session.iteration - 1) // self.params.every
        messages = rounds * self.plan.graph.messages_per_round()
        sizes = wire_sizes(self.session.setup)
        return {"params_g": messages * sizes.g_snapshot_nbytes, "params_d": messages * sizes.d_nbytes}

    @classmethod
    def timing_dependence(cls, params: GossipParams, topology: Topology) -> str | None:
        """Every worker's steps, sends and receives (by round tag) are fixed by R and the graph; only a crash
        makes what a worker receives depend on when the crash falls relative to the messages."""
        for node in topology.nodes:
            availability = topology.dynamics_of(node).availability
            if availability is not None and availability.crash_at_s is not None and math.isfinite(
                    availability.crash_at_s):
                return f"{node} crashes: whether its last models reach a neighbour depends on timing"
        return None

    def generators(self) -> dict[str, Any]:
        return {worker: self.snapshot_of(worker) for worker in (self.plan.live or self.session.workers)}

    def lr_probes(self) -> list[Any]:
        return self.probes_of(self.plan.live or self.session.workers)

    def footing(self) -> dict[str, Any]:
        workers = len(self.session.workers)
        return {"update_order": self.session.setup.training.update_order,
                "iteration": f"one local step at every worker (each its own G and D), averaged with the "
                             f"neighbours every {self.params.every}",
                "g_steps_per_iteration": workers, "d_steps_per_iteration": workers, "model_copies": workers}
