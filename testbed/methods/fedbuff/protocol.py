"""FedBuff's two processes: a server that keeps C clients busy and applies every K updates, and a client.

Server: hand the newest model (``params_g``, ``params_d``, tagged (dispatch id, version)) to idle
clients until C are training (a seeded uniform choice among the clients that are up and not busy:
testbed.methods.common.client_pool); then wait for the next complete update.  A complete update from
work still outstanding goes into the buffer with weight s(tau), tau = version now - version it
started from; once K are in, the server applies them (one ``average`` compute of K units; FedAsync:
K = 1, a mix), the version advances and one iteration completes.  After every arrival the free slot is
refilled with the newest model.  A client that goes down before its update has fully arrived is
dropped (its slot refilled; the client abandons that work, cut off when it went down; an update already
on its way is ignored when it comes; ``offline: pause`` waits instead); a crashed client frees its slot
for good; with no client left alive the run stops.  Nothing is sent once the run should stop.

Client: wait for a model, train one FedAvg round from it (``train_step`` x local steps), send the
update (``delta_g``, ``delta_d``; FedAsync: the model as ``params_g``, ``params_d``) under the same tag.
A population's client (``workers: {count: N}``) is built when it is handed a model: the server spawns its
process then, and the process ends once that work is answered or abandoned.
Sizes: 4(|G|+|G_bn|) and 4|D| each way.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from testbed.methods.api import Context, Event, Message, Session
from testbed.methods.common.client_pool import ClientPool, Outstanding, abandons, work_until_s
from testbed.methods.common.population import OnDemand
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.fedavg.state import local_steps
from testbed.methods.fedbuff.staleness import Staleness

MODEL_KINDS = ("params_g", "params_d")
DELTA_KINDS = ("delta_g", "delta_d")


@dataclass
class FedBuffPlan:
    """What the processes share: settings, and what happened (every applied update as (version it
    advanced the model to, dispatch id, client, staleness); every dropped dispatch as (dispatch id, client))."""

    server: str
    n_k: dict[str, int]
    batch_size: int
    local_epochs: float
    concurrency: int
    buffer: int
    staleness: Staleness
    mixing: float | None
    offline: str
    applied: list[tuple[int, int, str, int]] = field(default_factory=list)
    dispatches: int = 0
    uploads: int = 0
    dropped: list[tuple[int, str]] = field(default_factory=list)
    last_clients: list[str] = field(default_factory=list)
    on_demand: OnDemand = field(default_factory=OnDemand)
    """A population's clients: a process per client with work due (spawned at dispatch)."""

    @property
    def up_kinds(self) -> tuple[str, str]:
        """What a client sends back: its model (FedAsync) or its update (FedBuff)."""
        return MODEL_KINDS if self.mixing is not None else DELTA_KINDS


def serve(ctx: Context, s: Session, plan: FedBuffPlan) -> Generator[Event, Any, None]:
    """The server: keep ``concurrency`` clients training, apply every ``buffer`` arrived updates."""
    sizes = wire_sizes(s.setup)
    pool = ClientPool(s, s.workers, plan.offline)
    outstanding: dict[int, Outstanding] = {}
    parts: dict[int, dict[str, Message]] = {}
    buffer: list[tuple[Outstanding, dict[str, Message], int]] = []
    version, next_id = 0, 0
    while not s.should_stop():
        for node in pool.choose(plan.concurrency - len(outstanding)):
            tag = (next_id, version)
            g, d = ctx.call("params", num_returns=2)
            plan.on_demand.handed(s, node, lambda c: client(c, s, plan))  # a population's client: built now
            ctx.send(node, g, "params_g", nbytes=sizes.g_snapshot_nbytes, tag=tag)
            ctx.send(node, d, "params_d", nbytes=sizes.d_nbytes, tag=tag)
            outstanding[next_id] = pool.dispatched(node, tag, ctx.now_s)
            next_id += 1
            plan.dispatches += 1
        if not pool.busy and not pool.any_alive(ctx.now_s):
            s.stop("fedbuff: every client has crashed")
            return
        wake_s = math.inf if pool.always_up else min((o.drop_s for o in outstanding.values()), default=math.inf)
        if len(outstanding) < plan.concurrency:
            wake_s = min(wake_s, pool.next_return_s(ctx.now_s))
        message = yield ctx.recv(kind=plan.up_kinds, until_s=wake_s, or_crash_of=pool.may_crash())
        if message is None:
            _give_up(ctx, pool, outstanding, plan)
            continue
        if s.should_stop():
            return
        dispatch_id, started = message.tag
        got = parts.setdefault(dispatch_id, {})
        got[message.kind] = message
        if len(got) < len(plan.up_kinds):
            continue
        del parts[dispatch_id]
        pool.replied(message.src, message.tag)
        work = outstanding.pop(dispatch_id, None)
        if work is None:
            continue  # dropped earlier: ignored (its bytes are in the traffic log)
        buffer.append((work, got, version - started))
        if len(buffer) == plan.buffer:
            yield from _apply(ctx, plan, buffer, version)
            version += 1
            buffer = []
            s.complete_iteration()


def _give_up(ctx: Context, pool: ClientPool, outstanding: dict[int, Outstanding], plan: FedBuffPlan) -> None:
    """Drop outstanding work whose client went down (offline: drop) or crashed."""
    crashed = set(pool.crashed(ctx.now_s))
    for dispatch_id, work in list(outstanding.items()):
        if work.client in crashed or work.drop_s <= ctx.now_s:
            del outstanding[dispatch_id]
            pool.dropped(work.client)
            plan.dropped.append((dispatch_id, work.client))


def _apply(ctx: Context, plan: FedBuffPlan, buffer: list[tuple[Outstanding, dict[str, Message], int]],
           version: int) -> Generator[Event, Any, None]:
    """Apply the buffer: FedBuff's staleness-weighted mean step, or FedAsync's mix (K = 1)."""
    weights = [plan.staleness.weight(tau) for _, _, tau in buffer]
    plan.applied.extend((version + 1, work.tag[0], work.client, tau) for work, _, tau in buffer)
    plan.last_clients = [work.client for work, _, _ in buffer]
    payloads = [got[kind].payload for _, got, _ in buffer for kind in plan.up_kinds]
    if plan.mixing is not None:
        yield ctx.compute("average", "mix", plan.mixing * weights[0], *payloads, units=1)
    else:
        yield ctx.compute("average", "apply_buffer", weights, *payloads, units=len(buffer))


def client(ctx: Context, s: Session, plan: FedBuffPlan) -> Generator[Event, Any, None]:
    """A client: answer every model it is handed with its update (or model), under the same tag; a population's
    client ends when no work handed to it is left (answered or abandoned)."""
    steps = local_steps(plan.n_k[ctx.node_id], plan.local_epochs, plan.batch_size)
    while True:
        g_message = yield ctx.recv(kind="params_g", src=plan.server)
        d_message = yield ctx.recv(kind="params_d", src=plan.server, tag=g_message.tag)
        stopped = yield from _answer(ctx, s, plan, g_message, d_message, steps)
        if stopped or plan.on_demand.settled(ctx.node_id):
            return


def _answer(ctx: Context, s: Session, plan: FedBuffPlan, g_message: Message, d_message: Message,
            steps: int) -> Generator[Event, Any, bool]:
    """Train from the model handed over and send the update back -- unless the client abandons the work (it
    went down since it was handed the model, or while training) or the run has stopped meanwhile (True)."""
    if abandons(s, ctx.node_id, plan.offline, g_message.t_send_s, ctx.now_s):
        return False  # it went down since it was handed the model: the server has dropped it
    lr_factor = s.setup.lr_scale(g_message.tag[1])  # the version it trains from
    trained = yield ctx.compute("train_step", "fedbuff_round", g_message.payload, d_message.payload,
                                plan.local_epochs, plan.batch_size, lr_factor, plan.mixing is not None,
                                g_message.tag[0], units=steps, num_returns=2,
                                until_s=work_until_s(s, ctx.node_id, plan.offline))
    if trained is None:
        return False  # it went down mid-training: the work is lost
    if s.should_stop():
        return True
    sizes = wire_sizes(s.setup)
    g_kind, d_kind = plan.up_kinds
    ctx.send(plan.server, trained[0], g_kind, nbytes=sizes.g_snapshot_nbytes, tag=g_message.tag)
    ctx.send(plan.server, trained[1], d_kind, nbytes=sizes.d_nbytes, tag=g_message.tag)
    plan.uploads += 1
    return False
