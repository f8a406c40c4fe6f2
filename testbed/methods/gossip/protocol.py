"""Gossip averaging's one process: a worker's local steps and, every R of them, a round with its neighbours.

Worker, per local step: one GAN step on its own shard (``train_step``), counted as its step; after every
R-th step (but not after the last one the budget allows: nothing would train on it) an averaging round r:
send G's snapshot (``params_g``, 4(|G|+|G_bn|) B) and D (``params_d``, 4|D| B) to each neighbour the round's
graph gives it (tagged r, so a round never takes another's models), wait for each neighbour's two, and
mix them in with Metropolis-Hastings weights (``gossip_average``, charged per model mixed).  The rounds are
synchronous (Lian et al.'s D-PSGD): a worker waits for its neighbours, so a slow or down worker slows its
neighbourhood.  A neighbour that has crashed -- before the round or while a worker waits for it -- is
dropped from then on, its weight kept by the worker itself.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from testbed.methods.api import Context, Event, Session
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.gossip.graph import GossipGraph

KINDS = ("params_g", "params_d")


@dataclass
class GossipPlan:
    """What the processes need: R, the graph, every worker's step count and the workers still alive."""

    every: int
    graph: GossipGraph
    steps: dict[str, int]
    live: list[str]
    dropped: dict[str, set[str]]
    """Worker -> the neighbours it has dropped (crashed)."""


def work(ctx: Context, s: Session, plan: GossipPlan, on_step: Callable[[], None]) -> Generator[Event, Any, None]:
    """Worker ``ctx.node_id``: local steps, an averaging round every ``plan.every`` of them."""
    me = ctx.node_id
    sizes = wire_sizes(s.setup)
    limit = s.setup.max_iterations
    while not s.should_stop() and (limit is None or plan.steps[me] < limit):
        yield ctx.compute("train_step", "train_steps", 1)
        plan.steps[me] += 1
        on_step()
        if plan.steps[me] % plan.every == 0 and (limit is None or plan.steps[me] < limit):
            yield from _average(ctx, s, plan, plan.steps[me] // plan.every - 1, sizes.g_snapshot_nbytes,
                                sizes.d_nbytes)


def _average(ctx: Context, s: Session, plan: GossipPlan, round_index: int, g_nbytes: int,
             d_nbytes: int) -> Generator[Event, Any, None]:
    """One averaging round: send to every live neighbour, receive from each, mix what arrived."""
    me, dropped = ctx.node_id, plan.dropped.setdefault(ctx.node_id, set())
    neighbours = {n: w for n, w in plan.graph.neighbours(round_index, me).items() if n not in dropped}
    for neighbour in list(neighbours):
        if s.crash_time_s(neighbour) <= ctx.now_s:  # gone before this round: drop it without a send
            dropped.add(neighbour)
            del neighbours[neighbour]
    if not neighbours:
        return
    g, d = ctx.call("models", num_returns=2)
    for neighbour in neighbours:
        ctx.send(neighbour, g, "params_g", nbytes=g_nbytes, tag=round_index)
        ctx.send(neighbour, d, "params_d", nbytes=d_nbytes, tag=round_index)
    weights, models = [], []
    for neighbour, weight in neighbours.items():
        pair = []
        for kind in KINDS:
            message = yield ctx.recv(kind=kind, src=neighbour, tag=round_index, or_crash_of=neighbour)
            if message is None:  # it crashed before its model arrived
                break
            pair.append(message.payload)
        if len(pair) < len(KINDS):
            dropped.add(neighbour)
            continue
        weights.append(weight)
        models.extend(pair)
    if models:
        yield ctx.compute("gossip_average", "mix", 1.0 - sum(weights), weights, *models, units=1 + len(weights))
