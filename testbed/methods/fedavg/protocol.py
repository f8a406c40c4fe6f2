"""FedAvg's two processes: the server's rounds and a client's answer to each.

Server: pick m clients (seeded) among those available at the round's start (topology
``availability``; all of them when none is configured), plus ``over_select`` x m more; send each the
global G snapshot and D; wait for the replies -- all of them, or, with a ``round_deadline`` /
over-selection / clients that can crash, the first m complete ones that arrive by the deadline and
from clients still alive -- average them weighted by n_k, count a round.  A reply that comes later is
dropped when it arrives (its bytes were sent, so the traffic log has them); replies carry the round
they answer as the message's tag, so one overtaken by jitter is never taken for a later round's; a
round with no reply leaves the model as it was and still counts.  If every client has crashed the run stops, saying so.
Client: wait for the weights, train E local epochs (charged ``train_step`` x local steps; paused
while the client is down), send both nets back.  Sizes: the G snapshot is 4(|G|+|G_bn|) B, D 4|D| B,
each way.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from testbed.methods.api import Context, Event, Message, Session
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.fedavg.state import local_steps

REPLY_KINDS = ("params_g", "params_d")


@dataclass
class FedAvgPlan:
    """What the processes need: the server node, n_k per client, B, E, m, the deadline (seconds from the
    round's start; inf: none) and over-selection; and what happened: the last round's averaged clients,
    every dropped reply as (round, client), and every averaged one as (round, client, seq of its G reply)."""

    server: str
    n_k: dict[str, int]
    batch_size: int
    local_epochs: float
    clients_per_round: int
    round_deadline_s: float = math.inf
    over_select: float = 0.0
    last_clients: list[str] = field(default_factory=list)
    dropped: list[tuple[int, str]] = field(default_factory=list)
    averaged: list[tuple[int, str, int]] = field(default_factory=list)


def serve(ctx: Context, s: Session, plan: FedAvgPlan) -> Generator[Event, Any, None]:
    """The server: one round per iteration until the run stops."""
    sizes = wire_sizes(s.setup)
    waits_for_all = (plan.round_deadline_s == math.inf and plan.over_select == 0
                     and all(s.crash_time_s(w) == math.inf for w in s.workers))
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
        round_id = s.iteration
        for client in clients:
            ctx.send(client, g, "params_g", nbytes=sizes.g_snapshot_nbytes, tag=round_id)
            ctx.send(client, d, "params_d", nbytes=sizes.d_nbytes, tag=round_id)
        if waits_for_all:
            replies: dict[str, dict[str, Message]] = {}
            for client in clients:
                for kind in REPLY_KINDS:
                    replies.setdefault(client, {})[kind] = yield ctx.recv(kind=kind, src=client)
        else:
            replies = yield from _first_replies(ctx, s, plan, clients, m, round_id)
        kept = [c for c in clients if c in replies]
        if kept:
            plan.last_clients = kept
            plan.averaged.extend((round_id, c, replies[c]["params_g"].seq) for c in kept)
            models = [replies[c][kind].payload for c in kept for kind in REPLY_KINDS]
            yield ctx.compute("average", "average", [float(plan.n_k[c]) for c in kept], *models, units=len(kept))
        s.complete_iteration()


def _first_replies(ctx: Context, s: Session, plan: FedAvgPlan, clients: list[str], keep: int,
                   round_id: int) -> Generator[Event, Any, dict[str, dict[str, Message]]]:
    """The first ``keep`` complete replies of ``clients`` to round ``round_id`` that arrive by the
    deadline from live clients.

    A reply carries the round it answers as its tag: a late reply of an earlier round is dropped when
    it arrives, even when jitter lets it arrive after the same client's reply to this round."""
    deadline_s = ctx.now_s + plan.round_deadline_s
    got: dict[str, dict[str, Message]] = {c: {} for c in clients}
    pending = set(clients)
    done: dict[str, dict[str, Message]] = {}
    while pending and len(done) < keep:
        message = yield ctx.recv(kind=REPLY_KINDS, until_s=deadline_s, or_crash_of=pending)
        if message is None:
            if ctx.now_s >= deadline_s:
                break
            pending -= {c for c in pending if s.crash_time_s(c) <= ctx.now_s}
            continue
        if message.tag != round_id or message.src not in pending:
            continue
        got[message.src][message.kind] = message
        if len(got[message.src]) == len(REPLY_KINDS):
            pending.remove(message.src)
            done[message.src] = got[message.src]
    plan.dropped.extend((round_id, client) for client in clients if client not in done)
    return done


def client(ctx: Context, s: Session, plan: FedAvgPlan) -> Generator[Event, Any, None]:
    """A client: answer every round it is chosen for with its locally trained G and D."""
    sizes = wire_sizes(s.setup)
    steps = local_steps(plan.n_k[ctx.node_id], plan.local_epochs, plan.batch_size)
    while True:
        g_message = yield ctx.recv(kind="params_g", src=plan.server)
        d_message = yield ctx.recv(kind="params_d", src=plan.server)
        g, d, round_id = g_message.payload, d_message.payload, g_message.tag
        lr_factor = s.setup.lr_scale(round_id)  # the round being trained (a late client's is behind)
        g_new, d_new = yield ctx.compute("train_step", "fedavg_round", g, d, plan.local_epochs,
                                         plan.batch_size, lr_factor, units=steps, num_returns=2)
        ctx.send(plan.server, g_new, "params_g", nbytes=sizes.g_snapshot_nbytes, tag=round_id)
        ctx.send(plan.server, d_new, "params_d", nbytes=sizes.d_nbytes, tag=round_id)
