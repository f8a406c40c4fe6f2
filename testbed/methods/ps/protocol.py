"""The parameter server's processes: what a worker and a shard do, message by message.

A worker pulls every shard's key range, computes gradients, pushes them, and repeats; a shard
answers pulls when its consistency model allows and applies pushed gradients.  Gaia (inside a
datacenter) and the centralised baseline (inside the central datacenter) run these same loops.
Churn: a worker that crashes is dropped from the shard's step rule from then on (BSP waits for
the live workers' pushes, a crashed worker's push already in still counts; bounded delay measures
the slowest live worker); the shard is woken at each worker's crash to re-check.
A BSP step averages its N pushes in worker order, not arrival order (:func:`in_worker_order`), so
the float sum -- and the trained values -- do not depend on latencies or jitter.
Every payload's size is declared from the shapes (testbed.methods.common.sizes): a shard's G
part is 4 x its G keys, its D part 4 x its D keys, and gradients are cut the same way.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from testbed.methods.api import EMPTY, Context, Event, Session, service_node
from testbed.methods.common.sizes import FLOAT_NBYTES, wire_sizes
from testbed.methods.ps.state import shard_ranges


@dataclass(frozen=True)
class Shard:
    """A shard node and the key range it owns, split into its G and D parts."""

    node: str
    lo: int
    hi: int
    n_g: int

    @property
    def has_g(self) -> bool:
        return self.lo < self.n_g

    @property
    def has_d(self) -> bool:
        return self.hi > self.n_g

    @property
    def g_nbytes(self) -> int:
        """Bytes of this shard's part of G (parameters or gradients)."""
        return FLOAT_NBYTES * max(min(self.hi, self.n_g) - self.lo, 0)

    @property
    def d_nbytes(self) -> int:
        """Bytes of this shard's part of D."""
        return FLOAT_NBYTES * max(self.hi - max(self.lo, self.n_g), 0)


def plan_shards(session: Session, datacenters: list[str], count: int, prefix: str = "ps") -> list[Shard]:
    """Shard nodes and key ranges for ``count`` shards over ``datacenters`` (round-robin)."""
    sizes = wire_sizes(session.setup)
    n_g = sizes.g_params
    return [Shard(service_node(datacenters[i % len(datacenters)], f"{prefix}{i}"), lo, hi, n_g)
            for i, (lo, hi) in enumerate(shard_ranges(n_g + sizes.d_params, count))]


def shard_generator(session: Session, shards: list[Shard], buffers_from: str) -> dict[str, Any]:
    """The snapshot of a G held by ``shards``: their G segments, and ``buffers_from``'s BN statistics."""
    return {"segments": [session.call(s.node, "g_segment") for s in shards if s.has_g],
            "buffers": session.call(buffers_from, "g_buffers")}


class ShardProgress:
    """Update counts of every shard; the run's iteration is the slowest shard's count."""

    def __init__(self, session: Session, shards: list[Shard]) -> None:
        self.session = session
        self.versions = {shard.node: 0 for shard in shards}

    def updated(self, node: str) -> None:
        """Shard ``node`` applied one more update: complete an iteration if it was the last to."""
        before = min(self.versions.values())
        self.versions[node] += 1
        if min(self.versions.values()) > before:
            self.session.complete_iteration()


def within_budget(session: Session, step: int) -> bool:
    """Whether step ``step`` (0-based) can still run under the iteration budget."""
    budget = session.setup.max_iterations
    return budget is None or step < budget


def ps_worker(ctx: Context, session: Session, shards: list[Shard]) -> Generator[Event, Any, None]:
    """Pull every shard's range, compute gradients, push them; repeat until the run stops."""
    clock = 0
    while not session.should_stop():
        for shard in shards:
            ctx.send(shard.node, clock, "pull", nbytes=0)
        segments: list[Any] = []
        for shard in shards:
            for kind, held in (("params_g", shard.has_g), ("params_d", shard.has_d)):
                segments.append((yield ctx.recv(kind=kind, src=shard.node)).payload if held else EMPTY)
        if session.should_stop():
            return
        grads = yield ctx.compute("grad_step", "flat_grads", *segments, num_returns=2 * len(shards))
        for i, shard in enumerate(shards):
            if shard.has_g:
                ctx.send(shard.node, grads[2 * i], "grads_g", nbytes=shard.g_nbytes)
            if shard.has_d:
                ctx.send(shard.node, grads[2 * i + 1], "grads_d", nbytes=shard.d_nbytes)
        clock += 1


def in_worker_order(pushes: dict[str, list[Any]], workers: list[str]) -> list[Any]:
    """The buffered pushes ``{worker: [g, d]}`` flattened in the order of ``workers``: a step's
    average then sums its terms in the same order on any network (arrival order would not)."""
    return [part for worker in workers if worker in pushes for part in pushes[worker]]


class LiveWorkers:
    """A shard's view of its workers under churn: who is still alive, and a wake-up at each crash.

    Without crashes configured it is the plain loop (every worker, ``ctx.recv()``), byte for byte."""

    def __init__(self, session: Session, workers: list[str]) -> None:
        self.workers = workers
        self.crash_s = {w: t for w in workers if (t := session.crash_time_s(w)) != math.inf}

    def live(self, now_s: float) -> list[str]:
        """The workers that have not crashed by ``now_s``."""
        if not self.crash_s:
            return self.workers
        return [w for w in self.workers if self.crash_s.get(w, math.inf) > now_s] or self.workers

    def all_pushed(self, pushers: set[str], now_s: float) -> bool:
        """BSP: every live worker has pushed this step (a crashed worker's push, if in, still counts)."""
        if not self.crash_s:
            return len(pushers) == len(self.workers)
        return pushers.issuperset(self.live(now_s))

    def next_message(self, ctx: Context) -> Event:
        """The next message, or None when a worker crashes first (the step rule is then re-checked)."""
        return ctx.recv(or_crash_of=[w for w, t in self.crash_s.items() if t > ctx.now_s])


def ps_shard(ctx: Context, session: Session, shard: Shard, workers: list[str], consistency: str, tau: int,
             share: float, progress: ShardProgress) -> Generator[Event, Any, None]:
    """Answer pulls when the consistency model allows; apply pushed gradients."""
    version = 0
    pushes = dict.fromkeys(workers, 0)
    pending: list[tuple[str, int]] = []
    partial: dict[str, dict[str, Any]] = {}
    step_pushes: dict[str, list[Any]] = {}
    needed = {kind for kind, held in (("grads_g", shard.has_g), ("grads_d", shard.has_d)) if held}
    churn = LiveWorkers(session, workers)
    pushers: set[str] = set()
    while True:
        msg = yield churn.next_message(ctx)
        if session.should_stop():
            continue
        if msg is not None and msg.kind == "pull":
            pending.append((msg.src, msg.payload))
        elif msg is not None:
            part = partial.setdefault(msg.src, {})
            part[msg.kind] = msg.payload
            if set(part) == needed:
                del partial[msg.src]
                pushes[msg.src] += 1
                pushers.add(msg.src)
                step_pushes[msg.src] = [part.get("grads_g", EMPTY), part.get("grads_d", EMPTY)]
        if step_pushes and (consistency != "sequential" or churn.all_pushed(pushers, ctx.now_s)):
            yield ctx.compute("server_update", "apply", *in_worker_order(step_pushes, workers), units=share)
            step_pushes, pushers = {}, set()
            version += 1
            progress.updated(shard.node)
            if session.should_stop():
                continue
        slowest = min(pushes[w] for w in churn.live(ctx.now_s))
        ready = [(w, c) for w, c in pending if consistency == "eventual"
                 or (consistency == "sequential" and version >= c and within_budget(session, c))
                 or (consistency == "bounded_delay" and slowest >= c - tau)]
        if ready:
            g_seg, d_seg = ctx.call("segments", num_returns=2)
            for worker, clock in ready:
                pending.remove((worker, clock))
                if shard.has_g:
                    ctx.send(worker, g_seg, "params_g", nbytes=shard.g_nbytes)
                if shard.has_d:
                    ctx.send(worker, d_seg, "params_d", nbytes=shard.d_nbytes)
