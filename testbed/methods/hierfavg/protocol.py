"""HierFAVG's three processes: the cloud's rounds, an edge aggregator's rounds, a client's answer.

Cloud (one iteration per cloud round r): send the global G snapshot and D (``cloud_g``, ``cloud_d``,
tag r) to every live edge; wait for each edge's model (tagged (r, w_e), w_e = the data of the clients
its last edge round averaged; a crashed edge is skipped); average them weighted by w_e in edge order
(``average``: units = edges); count the round.

Edge ``<dc>/edge``: take the cloud's model; then kappa_2 edge rounds: hand its model (``params_g``,
``params_d``, tag (r, j)) to every client of its datacenter that is up and idle (``client_fraction`` C < 1:
to max(floor(C N_e), 1) of them, a seeded choice from the edge's own stream)
(testbed.methods.common.client_pool), wait for their replies (a client that goes down before its reply
has fully arrived is dropped and abandons the round, ``offline: pause`` waits; a crashed one is skipped),
average the kept
replies weighted by n_k in client order; after the kappa_2-th, send its model to the cloud.  A round
with no reply leaves the edge's model as it was; an edge none of whose clients answered in its last
round sends weight 0, and the cloud leaves it out.

Client: train kappa_1 local steps (``train_step`` x kappa_1) from the edge's model, send both nets back
under the same tag.  Nothing is sent once the run should stop.  A population's client (``workers: {count:
N}``) is built for each edge round: the edge spawns its process when it hands it the round, and the
process ends once the round is answered or abandoned.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from testbed.methods.api import Context, Event, Message, Session
from testbed.methods.common.client_pool import ClientPool, Outstanding, abandons, work_until_s
from testbed.methods.common.population import OnDemand
from testbed.methods.common.sizes import wire_sizes

CLIENT_KINDS = ("params_g", "params_d")
CLOUD_KINDS = ("cloud_g", "cloud_d")


@dataclass
class HierPlan:
    """Settings, and what happened: payload bytes sent per tier, dropped client replies (r, j, client)."""

    cloud: str
    edges: dict[str, Sequence[str]]
    """edge node -> its datacenter's clients, in topology order (a population's: its lazy ids)."""
    n_k: Mapping[str, int]
    edge_every: int
    cloud_every: int
    batch_size: int
    offline: str
    client_fraction: float = 1.0
    seed: int = 0
    """The run seed: each edge's client choice draws from its own stream (run seed, edge)."""
    tier_nbytes: dict[str, int] = field(default_factory=lambda: {"client_edge": 0, "edge_cloud": 0})
    dropped: list[tuple[int, int, str]] = field(default_factory=list)
    last_clients: list[str] = field(default_factory=list)
    on_demand: OnDemand = field(default_factory=OnDemand)
    """A population's clients: a process per client with an edge round due (spawned when handed it)."""
    _edge_data: dict[str, float] = field(default_factory=dict)
    """Each edge's total n_k, summed the first time it is needed (client_fraction < 1)."""

    def clients_per_round(self, edge: str) -> int:
        """Clients an edge hands an edge round to when all are up and idle: max(floor(C N_e), 1)."""
        return max(math.floor(self.client_fraction * len(self.edges[edge])), 1)

    def edge_weight(self, edge: str, kept: Sequence[str]) -> float:
        """The data behind an edge's model at the cloud.  Every client (C = 1): the data of those averaged (Liu
        et al.; under churn, the ones that replied).  A sample (C < 1): the edge's whole data once any client
        replied -- the sample's average stands for the edge, as FedAvg's server weights a round -- so a small
        edge is not weighted like a large one for training as many clients (summed once per edge: O(N_e))."""
        if not kept:
            return 0.0
        if self.client_fraction == 1:
            return float(sum(self.n_k[c] for c in kept))
        if edge not in self._edge_data:
            self._edge_data[edge] = float(sum(self.n_k[c] for c in self.edges[edge]))
        return self._edge_data[edge]

    def clients_per_edge_round(self) -> int:
        """The same, summed over the edges (N with C = 1)."""
        return sum(self.clients_per_round(edge) for edge in self.edges)


EDGE_STREAMS = 0xED6E
"""Mixed into an edge's seed, so its client-choice stream differs from any other stream of the run."""


def cloud(ctx: Context, s: Session, plan: HierPlan) -> Generator[Event, Any, None]:
    """The cloud: one round per iteration until the run stops."""
    live = list(plan.edges)
    while not s.should_stop():
        live = [e for e in live if s.crash_time_s(e) > ctx.now_s]
        if not live:
            s.stop("hierfavg: every edge aggregator has crashed")
            return
        r = s.iteration
        g, d = ctx.call("params", num_returns=2)
        for edge in live:
            _send(ctx, s, plan, edge, g, d, CLOUD_KINDS, r, "edge_cloud")
        models: dict[str, tuple[float, list[Any]]] = {}
        for edge in live:
            got: dict[str, Message] = {}
            while len(got) < len(CLOUD_KINDS):
                message = yield ctx.recv(kind=CLOUD_KINDS, src=edge, or_crash_of=edge)
                if message is None:
                    break
                if message.tag[0] == r:
                    got[message.kind] = message
            if len(got) == len(CLOUD_KINDS):
                models[edge] = (float(got["cloud_g"].tag[1]), [got[k].payload for k in CLOUD_KINDS])
        if s.should_stop():
            return
        kept = [e for e in live if e in models and models[e][0] > 0]
        if kept:
            payloads = [p for e in kept for p in models[e][1]]
            yield ctx.compute("average", "average", [models[e][0] for e in kept], *payloads, units=len(kept))
        s.complete_iteration()


def edge(ctx: Context, s: Session, plan: HierPlan) -> Generator[Event, Any, None]:
    """An edge aggregator: kappa_2 rounds over its clients per cloud round."""
    pool = ClientPool(s, plan.edges[ctx.node_id], plan.offline)
    rng = np.random.default_rng([plan.seed, EDGE_STREAMS, list(plan.edges).index(ctx.node_id)])
    late: dict[tuple[str, Any], int] = {}  # parts of late replies seen so far
    while True:
        g_message = yield ctx.recv(kind="cloud_g", src=plan.cloud)
        d_message = yield ctx.recv(kind="cloud_d", src=plan.cloud, tag=g_message.tag)
        r = g_message.tag
        ctx.call("load", g_message.payload, d_message.payload)
        weight = 0.0
        for j in range(plan.cloud_every):
            if s.should_stop():
                return
            yield from _drain(ctx, pool, late)
            clients = pool.choose(plan.clients_per_round(ctx.node_id), rng)
            g, d = ctx.call("params", num_returns=2)
            outstanding = {}
            for node in clients:
                plan.on_demand.handed(s, node, lambda c, e=ctx.node_id: client(c, s, plan, e))  # a population's
                _send(ctx, s, plan, node, g, d, CLIENT_KINDS, (r, j), "client_edge")
                outstanding[node] = pool.dispatched(node, (r, j), ctx.now_s)
            replies = yield from _collect(ctx, pool, outstanding, plan, late)
            kept = [c for c in clients if c in replies]
            weight = plan.edge_weight(ctx.node_id, kept)
            if kept:
                plan.last_clients = kept
                models = [replies[c][kind].payload for c in kept for kind in CLIENT_KINDS]
                yield ctx.compute("average", "average", [float(plan.n_k[c]) for c in kept], *models, units=len(kept))
        if s.should_stop():
            return
        g, d = ctx.call("params", num_returns=2)
        _send(ctx, s, plan, plan.cloud, g, d, CLOUD_KINDS, (r, weight), "edge_cloud")


def _send(ctx: Context, s: Session, plan: HierPlan, dst: str, g: Any, d: Any, kinds: tuple[str, str], tag: Any,
          tier: str) -> None:
    sizes = wire_sizes(s.setup)
    ctx.send(dst, g, kinds[0], nbytes=sizes.g_snapshot_nbytes, tag=tag)
    ctx.send(dst, d, kinds[1], nbytes=sizes.d_nbytes, tag=tag)
    plan.tier_nbytes[tier] += sizes.g_snapshot_nbytes + sizes.d_nbytes


def _late_part(pool: ClientPool, message: Message, late: dict[tuple[str, Any], int]) -> None:
    """A part of a reply to work given up on: ignored, and its client is free once all of it is in."""
    key = (message.src, message.tag)
    late[key] = late.get(key, 0) + 1
    if late[key] == len(CLIENT_KINDS):
        del late[key]
        pool.replied(message.src, message.tag)


def _drain(ctx: Context, pool: ClientPool, late: dict[tuple[str, Any], int]) -> Generator[Event, Any, None]:
    """Take the late replies that have already arrived, so their clients count as free when choosing."""
    while (message := (yield ctx.recv(kind=CLIENT_KINDS, until_s=ctx.now_s))) is not None:
        _late_part(pool, message, late)
    pool.crashed(ctx.now_s)


def _collect(ctx: Context, pool: ClientPool, outstanding: dict[str, Outstanding], plan: HierPlan,
             late: dict[tuple[str, Any], int]) -> Generator[Event, Any, dict[str, dict[str, Message]]]:
    """The complete replies of ``outstanding`` clients, until each replied, was dropped or crashed."""
    got: dict[str, dict[str, Message]] = {c: {} for c in outstanding}
    done: dict[str, dict[str, Message]] = {}
    pending = dict(outstanding)
    while pending:
        wake_s = math.inf if pool.always_up else min(work.drop_s for work in pending.values())
        message = yield ctx.recv(kind=CLIENT_KINDS, until_s=wake_s,
                                 or_crash_of=None if pool.always_up else list(pending))
        if message is None:
            crashed = set(pool.crashed(ctx.now_s))
            for client, work in list(pending.items()):
                if client in crashed or work.drop_s <= ctx.now_s:
                    del pending[client]
                    pool.dropped(client)
                    r, j = work.tag
                    plan.dropped.append((r, j, client))
            continue
        work = pending.get(message.src)
        if work is None or message.tag != work.tag:  # a late reply to work given up on earlier
            _late_part(pool, message, late)
            continue
        got[message.src][message.kind] = message
        if len(got[message.src]) == len(CLIENT_KINDS):
            pool.replied(message.src, message.tag)
            done[message.src] = got[message.src]
            del pending[message.src]
    return done


def client(ctx: Context, s: Session, plan: HierPlan, edge_node: str) -> Generator[Event, Any, None]:
    """A client: answer every edge round it is handed with kappa_1 local steps of both nets; a population's
    client ends when no edge round handed to it is left (answered or abandoned)."""
    while True:
        g_message = yield ctx.recv(kind="params_g", src=edge_node)
        d_message = yield ctx.recv(kind="params_d", src=edge_node, tag=g_message.tag)
        stopped = yield from _answer(ctx, s, plan, edge_node, g_message, d_message)
        if stopped or plan.on_demand.settled(ctx.node_id):
            return


def _answer(ctx: Context, s: Session, plan: HierPlan, edge_node: str, g_message: Message,
            d_message: Message) -> Generator[Event, Any, bool]:
    """Train the edge round from the edge's model and send both nets back -- unless the client abandons it (it
    went down since it was handed the round, or while training) or the run has stopped meanwhile (True)."""
    if abandons(s, ctx.node_id, plan.offline, g_message.t_send_s, ctx.now_s):
        return False  # it went down since the edge handed it the round: dropped there
    r, j = g_message.tag
    lr_factor = s.setup.lr_scale(r)  # the cloud round being trained
    trained = yield ctx.compute("train_step", "hier_round", g_message.payload, d_message.payload,
                                plan.edge_every, plan.batch_size, lr_factor, r * plan.cloud_every + j,
                                units=plan.edge_every,
                                num_returns=2, until_s=work_until_s(s, ctx.node_id, plan.offline))
    if trained is None:
        return False  # it went down mid-round: the round is lost
    if s.should_stop():
        return True
    sizes = wire_sizes(s.setup)
    ctx.send(edge_node, trained[0], "params_g", nbytes=sizes.g_snapshot_nbytes, tag=g_message.tag)
    ctx.send(edge_node, trained[1], "params_d", nbytes=sizes.d_nbytes, tag=g_message.tag)
    plan.tier_nbytes["client_edge"] += sizes.g_snapshot_nbytes + sizes.d_nbytes
    return False
