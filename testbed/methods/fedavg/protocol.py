"""FedAvg's two processes: the server's rounds and a client's answer to each.

Server: pick m clients (seeded) among those available at the round's start and not still working on
an earlier round (topology ``availability``; all of them when none is configured), plus
``over_select`` x m more; send each the global G snapshot and D; wait for the replies -- all of
them, or, with a ``round_deadline`` / over-selection / clients that can go down or crash, the first
m complete ones that arrive by the deadline from clients that stayed up -- average them weighted by
n_k, count a round.  ``offline: drop`` (default, FedScale's rule) drops a chosen client that goes
down before its reply has fully arrived (the server stops waiting for it then); ``offline: pause``
waits for it to come back.  A crashed client is dropped under both.  A reply that comes later is
dropped when it arrives (its bytes were sent, so the traffic log has them); replies carry the round
they answer as the message's tag, so one overtaken by jitter is never taken for a later round's; a
round with no reply leaves the model as it was and still counts.  A client is busy from being sent
a round until its reply has fully arrived (or, dropped for going down, until it is back: it abandons
that round), and a busy client is not chosen again.  If every client has crashed the run stops,
saying so.
Client: wait for the weights, train E local epochs (charged ``train_step`` x local steps), send both
nets back.  Offline means offline (testbed.sim.engine): a client that is down does nothing and its
messages stall; under ``drop`` a client that went down since it was chosen abandons that round (its
training is cut off at the moment it goes down).  A population's client (``workers: {count: N}``) has a
process only while a round it was chosen for is unanswered: the server spawns it when it chooses it.
Sizes: the G snapshot is 4(|G|+|G_bn|) B, D 4|D| B,
each way.  FedSGD (testbed.methods.fedsgd) runs this same server with its own reply kinds, server
task and client process (``FedAvgPlan.client_process``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from testbed.methods.api import Context, Event, Message, Session
from testbed.methods.common.client_pool import abandons, work_until_s
from testbed.methods.common.population import OnDemand
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.fedavg.state import local_steps

REPLY_KINDS = ("params_g", "params_d")
OFFLINE_RULES = ("drop", "pause")
"""What the server does with a chosen client that goes down mid-round: drop it, or wait for it."""


@dataclass
class FedAvgPlan:
    """What the processes need: the server node, n_k per client, B, E, m, the deadline (seconds from the
    round's start; inf: none), over-selection and the offline rule; and what happened: the last round's
    averaged clients, every dropped reply as (round, client) (``went_down``: those dropped because the
    client went down), and every averaged one as (round, client, seq of its G reply)."""

    server: str
    n_k: dict[str, int]
    batch_size: int
    local_epochs: float
    clients_per_round: int
    round_deadline_s: float = math.inf
    over_select: float = 0.0
    offline: str = "drop"
    method: str = "fedavg"
    reply_kinds: tuple[str, ...] = REPLY_KINDS
    """What a client sends back (FedAvg: its G and D; FedSGD: their gradients, G's BN statistics)."""
    server_task: tuple[str, str] = ("average", "average")
    """The server's (compute kind, method) applying the replies: FedAvg averages, FedSGD steps Adam."""
    last_clients: list[str] = field(default_factory=list)
    dropped: list[tuple[int, str]] = field(default_factory=list)
    went_down: list[tuple[int, str]] = field(default_factory=list)
    averaged: list[tuple[int, str, int]] = field(default_factory=list)
    client_process: Callable[[Context, Session, FedAvgPlan], Generator[Event, Any, None]] | None = None
    """A client's process (FedSGD's answers with gradients); None: FedAvg's :func:`client`.  The server spawns
    it for a population's client when it chooses one (:class:`~testbed.methods.common.population.OnDemand`)."""
    on_demand: OnDemand = field(default_factory=OnDemand)


@dataclass
class _Busy:
    """The server's view of who is working: client -> the round it was sent; late reply parts seen."""

    parts: int = len(REPLY_KINDS)
    """Messages in one reply."""
    round_of: dict[str, int] = field(default_factory=dict)
    late_parts: dict[tuple[str, Any], set[str]] = field(default_factory=dict)

    def late(self, message: Message) -> None:
        """A reply part of an earlier round (or beyond the first m): once whole, its client is free."""
        key = (message.src, message.tag)
        parts = self.late_parts.setdefault(key, set())
        parts.add(message.kind)
        if len(parts) == self.parts:
            del self.late_parts[key]
            if self.round_of.get(message.src) == message.tag:
                del self.round_of[message.src]


def serve(ctx: Context, s: Session, plan: FedAvgPlan) -> Generator[Event, Any, None]:
    """The server: one round per iteration until the run stops."""
    sizes = wire_sizes(s.setup)
    changes = s.crash_time_s if plan.offline == "pause" else s.next_change_s
    always_up = not s.topology.any_availability  # then no worker goes down or crashes: no walk over them
    waits_for_all = (plan.round_deadline_s == math.inf and plan.over_select == 0
                     and (always_up or all(changes(w) == math.inf for w in s.workers)))
    busy = _Busy(parts=len(plan.reply_kinds))
    process = plan.client_process or client
    while not s.should_stop():
        if not waits_for_all:
            while (late := (yield ctx.recv(kind=plan.reply_kinds, until_s=ctx.now_s))) is not None:
                busy.late(late)  # replies that came in since: their clients are free again
        candidates = (s.workers if always_up and not busy.round_of
                      else [w for w in s.workers if s.available(w) and w not in busy.round_of])
        if not candidates:
            if all(s.crash_time_s(w) <= ctx.now_s for w in s.workers):
                s.stop(f"{plan.method}: every client has crashed")
                return
            wake_s = min(s.next_change_s(w) for w in s.workers)  # a client back, or a busy one's reply
            if (late := (yield ctx.recv(kind=plan.reply_kinds, until_s=wake_s))) is not None:
                busy.late(late)
            continue
        m = min(plan.clients_per_round, len(candidates))
        chosen = sorted(s.rng.choice(len(candidates), min(m + math.ceil(plan.over_select * m), len(candidates)),
                                     replace=False))
        clients = [candidates[i] for i in chosen]
        g, d = ctx.call("params", num_returns=2)
        round_id = s.iteration
        for node in clients:  # a population's client: a process while it has rounds due
            plan.on_demand.handed(s, node, lambda c: process(c, s, plan))
            ctx.send(node, g, "params_g", nbytes=sizes.g_snapshot_nbytes, tag=round_id)
            ctx.send(node, d, "params_d", nbytes=sizes.d_nbytes, tag=round_id)
        if waits_for_all:
            replies: dict[str, dict[str, Message]] = {}
            for node in clients:
                for kind in plan.reply_kinds:
                    replies.setdefault(node, {})[kind] = yield ctx.recv(kind=kind, src=node)
        else:
            busy.round_of.update(dict.fromkeys(clients, round_id))
            replies = yield from _first_replies(ctx, s, plan, clients, m, round_id, busy)
        kept = [c for c in clients if c in replies]
        if kept:
            plan.last_clients = kept
            plan.averaged.extend((round_id, c, replies[c][plan.reply_kinds[0]].seq) for c in kept)
            models = [replies[c][kind].payload for c in kept for kind in plan.reply_kinds]
            kind, method = plan.server_task
            yield ctx.compute(kind, method, [float(plan.n_k[c]) for c in kept], *models, units=len(kept))
        s.complete_iteration()


def _first_replies(ctx: Context, s: Session, plan: FedAvgPlan, clients: list[str], keep: int,
                   round_id: int, busy: _Busy) -> Generator[Event, Any, dict[str, dict[str, Message]]]:
    """The first ``keep`` complete replies of ``clients`` to round ``round_id`` that arrive by the
    deadline from clients that stay up (``offline: drop``; under ``pause``: that do not crash).

    A reply carries the round it answers as its tag: a late reply of an earlier round is dropped when
    it arrives, even when jitter lets it arrive after the same client's reply to this round."""
    deadline_s = ctx.now_s + plan.round_deadline_s
    changes = s.crash_time_s if plan.offline == "pause" else s.next_change_s
    gone_at = {c: changes(c) for c in clients}  # up now, so the next change is its going down (or crash)
    got: dict[str, dict[str, Message]] = {c: {} for c in clients}
    pending = set(clients)
    done: dict[str, dict[str, Message]] = {}
    always_up = not s.topology.any_availability
    while pending and len(done) < keep:
        wake_s = deadline_s if always_up else min(deadline_s, *(gone_at[c] for c in pending))
        message = yield ctx.recv(kind=plan.reply_kinds, until_s=wake_s)
        if message is None:
            if ctx.now_s >= deadline_s:
                break
            for client in sorted(c for c in pending if gone_at[c] <= ctx.now_s):
                pending.remove(client)
                busy.round_of.pop(client, None)  # it abandons the round; free once it is back
                if s.crash_time_s(client) > ctx.now_s:
                    plan.went_down.append((round_id, client))
            continue
        if message.tag != round_id or message.src not in pending:
            busy.late(message)
            continue
        got[message.src][message.kind] = message
        if len(got[message.src]) == len(plan.reply_kinds):
            pending.remove(message.src)
            done[message.src] = got[message.src]
            del busy.round_of[message.src]
    plan.dropped.extend((round_id, client) for client in clients if client not in done)
    return done


def client(ctx: Context, s: Session, plan: FedAvgPlan) -> Generator[Event, Any, None]:
    """A client: answer every round it is chosen for with its locally trained G and D (under
    ``offline: drop``, abandon a round it went down in since it was chosen); a population's client ends
    when no round it was chosen for is left."""
    sizes = wire_sizes(s.setup)
    steps = local_steps(plan.n_k[ctx.node_id], plan.local_epochs, plan.batch_size)
    while True:
        g_message = yield ctx.recv(kind="params_g", src=plan.server)
        round_id = g_message.tag
        d_message = yield ctx.recv(kind="params_d", src=plan.server, tag=round_id)
        yield from _answer(ctx, s, plan, g_message, d_message, steps, sizes)
        if plan.on_demand.settled(ctx.node_id):
            return


def _answer(ctx: Context, s: Session, plan: FedAvgPlan, g_message: Message, d_message: Message, steps: int,
            sizes: Any) -> Generator[Event, Any, None]:
    """Train round ``g_message.tag`` from the server's weights and send both nets back -- unless, under
    ``drop``, the client went down since it was chosen or while training (the round is then lost)."""
    round_id = g_message.tag
    if abandons(s, ctx.node_id, plan.offline, g_message.t_send_s, ctx.now_s):
        return  # it went down since it was chosen: the server has dropped it
    g, d = g_message.payload, d_message.payload
    lr_factor = s.setup.lr_scale(round_id)  # the round being trained (a late client's is behind)
    trained = yield ctx.compute("train_step", "fedavg_round", g, d, plan.local_epochs, plan.batch_size,
                                lr_factor, round_id, units=steps, num_returns=2,
                                until_s=work_until_s(s, ctx.node_id, plan.offline))
    if trained is None:
        return  # it went down mid-training: the round is lost
    g_new, d_new = trained
    ctx.send(plan.server, g_new, "params_g", nbytes=sizes.g_snapshot_nbytes, tag=round_id)
    ctx.send(plan.server, d_new, "params_d", nbytes=sizes.d_nbytes, tag=round_id)
