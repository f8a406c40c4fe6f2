"""FedAvg's two processes: the server's rounds and a client's answer to each.

Server: pick m clients (seeded) among those available at the round's start (topology
``availability``; all of them when none is configured), plus ``over_select`` x m more; send each the
global G snapshot and D; wait for the replies -- all of them, or, with a ``round_deadline`` /
over-selection / clients that can crash, the first m complete ones that arrive by the deadline and
from clients still alive -- average them weighted by n_k, count a round.  A reply that comes later is
dropped when it arrives (its bytes were sent, so the traffic log has them); a round with no reply
leaves the model as it was and still counts.  If every client has crashed the run stops, saying so.
Client: wait for the weights, train E local epochs (charged ``train_step`` x local steps; paused
while the client is down), send both nets back.  Sizes: the G snapshot is 4(|G|+|G_bn|) B, D 4|D| B,
each way.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from testbed.methods.api import Session
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.fedavg.state import local_steps

if TYPE_CHECKING:
    import simpy

    from testbed.engine import Message, NodeContext

REPLY_KINDS = ("params_g", "params_d")


@dataclass
class FedAvgPlan:
    """What the processes need: the server node, n_k per client, B, E, m, the deadline (seconds from the
    round's start; inf: none) and over-selection; and what happened: the last round's averaged clients,
    and every dropped reply as (round, client)."""

    server: str
    n_k: dict[str, int]
    batch_size: int
    local_epochs: float
    clients_per_round: int
    round_deadline_s: float = math.inf
    over_select: float = 0.0
    last_clients: list[str] = field(default_factory=list)
    dropped: list[tuple[int, str]] = field(default_factory=list)


def serve(ctx: NodeContext, s: Session, plan: FedAvgPlan) -> Generator[simpy.Event, Any, None]:
    """The server: one round per iteration until the run stops."""
    sizes = wire_sizes(s.setup)
    waits_for_all = (plan.round_deadline_s == math.inf and plan.over_select == 0
                     and all(s.crash_time_s(w) == math.inf for w in s.workers))
    stale: dict[tuple[str, str], int] = {}
    while not s.should_stop():
        candidates = [w for w in s.workers if s.available(w)]
        if not candidates:
            wake_s = min(s.next_change_s(w) for w in s.workers)
            if wake_s == math.inf:
                s.stop("fedavg: every client has crashed")
                return
            yield ctx.wait(wake_s - ctx.now_s)
            continue
        m = min(plan.clients_per_round, len(candidates))
        chosen = sorted(s.rng.choice(len(candidates), min(m + math.ceil(plan.over_select * m), len(candidates)),
                                     replace=False))
        clients = [candidates[i] for i in chosen]
        g, d = ctx.call("params", num_returns=2)
        for client in clients:
            ctx.send(client, g, "params_g", nbytes=sizes.g_snapshot_nbytes)
            ctx.send(client, d, "params_d", nbytes=sizes.d_nbytes)
        if waits_for_all:
            replies: dict[str, dict[str, Any]] = {}
            for client in clients:
                for kind in REPLY_KINDS:
                    replies.setdefault(client, {})[kind] = (yield ctx.recv(kind=kind, src=client)).payload
        else:
            replies = yield from _first_replies(ctx, s, plan, clients, m, stale)
        kept = [c for c in clients if c in replies]
        if kept:
            plan.last_clients = kept
            models = [replies[c][kind] for c in kept for kind in REPLY_KINDS]
            yield ctx.compute("average", "average", [float(plan.n_k[c]) for c in kept], *models, units=len(kept))
        s.complete_iteration()


def _first_replies(ctx: NodeContext, s: Session, plan: FedAvgPlan, clients: list[str], keep: int,
                   stale: dict[tuple[str, str], int]) -> Generator[simpy.Event, Any, dict[str, dict[str, Any]]]:
    """The first ``keep`` complete replies of ``clients`` that arrive by the deadline from live clients.

    ``stale`` counts, per (client, kind), the replies of earlier rounds still to come: each is dropped
    when it arrives (a client answers its rounds in order, so its late replies come before new ones)."""
    deadline_s = ctx.now_s + plan.round_deadline_s
    got: dict[str, dict[str, Any]] = {c: {} for c in clients}
    pending = set(clients)
    done: dict[str, dict[str, Any]] = {}

    def accept(message: Message) -> bool:
        return message.kind in REPLY_KINDS

    while pending and len(done) < keep:
        wake_s = min([deadline_s] + [s.crash_time_s(c) for c in pending])
        message = yield from ctx.recv_until(wake_s, accept)
        if message is None:
            if ctx.now_s >= deadline_s:
                break
            pending -= {c for c in pending if s.crash_time_s(c) <= ctx.now_s}
            continue
        key = (message.src, message.kind)
        if stale.get(key, 0) > 0 or message.src not in pending:
            stale[key] = max(stale.get(key, 0) - 1, 0)
            continue
        got[message.src][message.kind] = message.payload
        if len(got[message.src]) == len(REPLY_KINDS):
            pending.remove(message.src)
            done[message.src] = got[message.src]
    for client in clients:
        if client not in done:
            plan.dropped.append((s.iteration, client))
            for kind in REPLY_KINDS:
                if kind not in got[client]:
                    stale[(client, kind)] = stale.get((client, kind), 0) + 1
    return done


def client(ctx: NodeContext, s: Session, plan: FedAvgPlan) -> Generator[simpy.Event, Any, None]:
    """A client: answer every round it is chosen for with its locally trained G and D."""
    sizes = wire_sizes(s.setup)
    steps = local_steps(plan.n_k[ctx.node_id], plan.local_epochs, plan.batch_size)
    while True:
        g = (yield ctx.recv(kind="params_g", src=plan.server)).payload
        d = (yield ctx.recv(kind="params_d", src=plan.server)).payload
        lr_factor = s.setup.lr_scale(s.iteration)  # the round being trained
        g_new, d_new = yield ctx.compute("train_step", "fedavg_round", g, d, plan.local_epochs,
                                         plan.batch_size, lr_factor, units=steps, num_returns=2)
        ctx.send(plan.server, g_new, "params_g", nbytes=sizes.g_snapshot_nbytes)
        ctx.send(plan.server, d_new, "params_d", nbytes=sizes.d_nbytes)
