"""Gaia's datacenter parameter server, message by message (the workers run the ps worker loop).

The process receives four kinds of message: a worker's ``pull`` (queued until consistency, the
mirror clock and any barrier allow an answer), a worker's gradient halves (applied when the
consistency model says; each clock tick runs the significance filter and tells the mirrors),
a mirror's ``clock``, and a mirror's ``barrier_index`` / ``significant_update`` pair.  A barrier
names the update it announces by sequence number: the update is the next message its sender
sends, so ``barrier.seq + 1`` -- checked on every send, and matched on arrival even when the
update overtakes its barrier.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from testbed.methods.api import Context, Delivery, Event, Message, Session
from testbed.methods.ps.protocol import Shard, in_worker_order

ENTRY_NBYTES = 8
"""An int32 index and a float32 value per significant entry."""
INDEX_NBYTES = 4
"""An int32 index per entry a barrier announces."""


@dataclass
class GaiaPlan:
    """What the processes need: the consistency settings, each DC's server shard, and every DC's clock."""

    consistency: str
    tau: int
    max_clock_gap: int
    selective_barrier: bool
    shards: dict[str, Shard]
    clocks: dict[str, int]

    def tick(self, session: Session, dc: str, clock: int) -> None:
        """Datacenter ``dc`` reached ``clock``: an iteration completes when the slowest DC ticks."""
        before = min(self.clocks.values())
        self.clocks[dc] = clock
        if min(self.clocks.values()) > before:
            session.complete_iteration()


@dataclass
class DcState:
    """What one DC's PS process keeps between messages (the control-flow side)."""

    dc: str
    workers: list[str]
    mirrors: list[str]
    version: int = 0
    clock: int = 0
    pushes: dict[str, int] = field(default_factory=dict)
    pending: list[tuple[str, int]] = field(default_factory=list)
    partial: dict[str, dict[str, Any]] = field(default_factory=dict)
    step_pushes: dict[str, list[Any]] = field(default_factory=dict)
    """This step's pushes by worker, averaged in worker order (ps.protocol.in_worker_order)."""
    mirror_clock: dict[str, int] = field(default_factory=dict)
    awaited: set[int] = field(default_factory=set)
    """Sequence numbers of significant updates announced by a barrier and not yet arrived."""
    arrived: set[int] = field(default_factory=set)
    in_flight: dict[str, list[Delivery]] = field(default_factory=dict)
    """Per mirror: significant updates not yet seen delivered."""


def serve(ctx: Context, session: Session, plan: GaiaPlan, st: DcState) -> Generator[Event, Any, None]:
    """Datacenter ``st.dc``'s parameter server."""
    while True:
        msg = yield ctx.recv()
        if session.should_stop():
            continue
        if msg.kind == "pull":
            st.pending.append((msg.src, msg.payload))
        elif msg.kind == "clock":
            st.mirror_clock[msg.src] = max(st.mirror_clock[msg.src], int(msg.payload[0]))
        elif msg.kind == "barrier_index":
            announced = msg.seq + 1
            if announced in st.arrived:
                st.arrived.discard(announced)
            else:
                st.awaited.add(announced)
        elif msg.kind == "significant_update":
            ctx.call("apply_mirror", msg.payload)
            if msg.seq in st.awaited:
                st.awaited.discard(msg.seq)
            else:
                st.arrived.add(msg.seq)
        else:
            yield from _push(ctx, session, plan, st, msg)
            if session.should_stop():
                continue
        _answer_pulls(ctx, plan, st)


def _push(ctx: Context, session: Session, plan: GaiaPlan, st: DcState,
          msg: Message) -> Generator[Event, Any, None]:
    """A worker's gradient half arrived: apply when the consistency model says, tick the clock."""
    part = st.partial.setdefault(msg.src, {})
    part[msg.kind] = msg.payload
    if set(part) != {"grads_g", "grads_d"}:
        return
    del st.partial[msg.src]
    st.pushes[msg.src] += 1
    st.step_pushes[msg.src] = [part["grads_g"], part["grads_d"]]
    sequential = plan.consistency == "sequential"
    if sequential and len(st.step_pushes) < len(st.workers):
        return
    yield ctx.compute("server_update", "apply_at", st.clock, *in_worker_order(st.step_pushes, st.workers))
    st.step_pushes = {}
    st.version += 1
    clock = st.version if sequential else min(st.pushes.values())
    if clock > st.clock:
        st.clock = clock
        _tick(ctx, session, plan, st)


def _tick(ctx: Context, session: Session, plan: GaiaPlan, st: DcState) -> None:
    """The DC reached clock ``st.clock``: share significant updates, announce the clock, count."""
    plan.tick(session, st.dc, st.clock)
    if session.should_stop():
        return
    count_h, update_h, index_h = ctx.call("filter_updates", st.clock, num_returns=3)
    count = ctx.resolve(count_h)
    if count > 0:
        for mirror in st.mirrors:
            if plan.selective_barrier and _lagging(ctx, session, st, mirror):
                barrier = ctx.send(mirror, index_h, "barrier_index", nbytes=INDEX_NBYTES * count)
                update = ctx.send(mirror, update_h, "significant_update", nbytes=ENTRY_NBYTES * count)
                assert update.seq == barrier.seq + 1, "the update must follow its barrier"
            else:
                update = ctx.send(mirror, update_h, "significant_update", nbytes=ENTRY_NBYTES * count)
            st.in_flight.setdefault(mirror, []).append(update)
    for mirror in st.mirrors:
        ctx.send(mirror, np.array([st.clock], dtype=np.int32), "clock")


def _lagging(ctx: Context, session: Session, st: DcState, mirror: str) -> bool:
    """An earlier update to ``mirror`` is still undelivered after the time it would take alone
    on the path (latency + size / bottleneck bandwidth): the WAN to it is backlogged."""
    in_flight = [u for u in st.in_flight.get(mirror, []) if not u.triggered]
    st.in_flight[mirror] = in_flight
    topology = session.topology
    route = topology.route(ctx.node_id, mirror)
    bottleneck_bps = min(topology.link_capacity_bps(k) for k in route.links)
    return any(ctx.now_s - u.t_send_s > route.latency_s + 8 * u.wire_nbytes / bottleneck_bps for u in in_flight)


def _answer_pulls(ctx: Context, plan: GaiaPlan, st: DcState) -> None:
    """Send G and D to every waiting worker that consistency, mirror clock and barriers allow."""
    if st.awaited:
        return
    p = plan
    slowest_mirror = min(st.mirror_clock.values(), default=None)
    slowest = min(st.pushes.values())
    ready = [(w, c) for w, c in st.pending
             if ((p.consistency == "sequential" and st.version >= c)
                 or (p.consistency == "bounded_delay" and slowest >= c - p.tau))
             and (slowest_mirror is None or c - slowest_mirror <= p.max_clock_gap)]
    if not ready:
        return
    shard = plan.shards[st.dc]
    g_seg, d_seg = ctx.call("segments", num_returns=2)
    for worker, clock in ready:
        st.pending.remove((worker, clock))
        ctx.send(worker, g_seg, "params_g", nbytes=shard.g_nbytes)
        ctx.send(worker, d_seg, "params_d", nbytes=shard.d_nbytes)
