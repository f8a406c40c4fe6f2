"""``gaia``: Gaia (Hsieh et al., NSDI 2017) -- one parameter server per datacenter, ASP across them.

Why it exists: Gaia is the review's answer to "the WAN is 15-60x slower than the
LAN": keep a full model replica per datacenter, train over the LAN as usual, and
only tell the other datacenters about the parameter changes that matter.

Inside a datacenter (node ``<dc>/ps``, holding the whole flat ``[G; D]``): the DC's
workers run exactly the ``ps`` worker loop against it -- pull G and D
(``params_g``/``params_d``, 4(|G|+|D|) B down), compute both gradients on a local
batch, push them (``grads_g``/``grads_d``, 4(|G|+|D|) B up).  ``consistency``:

* ``sequential`` (BSP): the PS averages the DC's N pushes of a step and takes one
  Adam step; that is one local *clock* tick.
* ``bounded_delay`` (SSP, staleness ``tau``): each push is applied as it comes; the
  DC's clock is its slowest worker's push count; a pull at clock c waits until that
  clock reaches c - tau.

Across datacenters, Approximate Synchronous Parallel (the state is
testbed.nodes.gaia.GaiaServer):

* **Significance filter.**  Every time the DC clock ticks to t, the PS selects the
  parameters whose update accumulated since they were last shared satisfies
  ``|acc| > v_t |w|``, v_t = ``threshold``/sqrt(t) (``decay: false`` keeps v_t = v),
  and sends every other DC's PS one ``significant_update``: an int32 index array and
  a float32 value array (8 B per entry, measured from the arrays).  Nothing is sent
  when no entry is significant.  The receiver adds the values to its copy.
* **Selective barrier.**  Trigger: when the PS is about to send significant updates
  to a mirror while an earlier ``significant_update`` to that mirror is still
  undelivered *longer than it would take alone on the path* (one-way latency +
  size / bottleneck bandwidth) -- i.e. it is queued behind other WAN traffic, the
  WAN cannot keep up with the DC's update rate (Gaia's condition; propagation delay
  alone is what ASP tolerates and does not trigger) -- it first sends
  the indexes alone (``barrier_index``, 4 B per index).  The mirror then blocks
  reads of those parameters until the values arrive.  Workers always read the whole
  model, so a blocked parameter holds back every pull (the only faithful choice at
  whole-model read granularity).  The barrier names the update it announces by its
  message id (the update is the next message the sender sends: id + 1), so an
  update that overtakes its barrier (jitter) is matched and never blocks.
* **Mirror clock.**  After each tick the PS sends every mirror a ``clock`` message
  (t as one int32: 4 B).  A DC may not start clock c while c - (slowest mirror's
  clock) > ``max_clock_gap`` (default 1: at most one clock ahead; 0 is lockstep).

``iterations`` counts clock ticks of the slowest DC; each DC's learning rate follows the
schedule indexed by its own clock (under bounded delay a clock spans one push per worker, so
the lr is *not* indexed by pushes).  Quality: every datacenter's generator (DCs without
workers get no PS; every DC holds a full, approximately synchronised replica) is evaluated
-- its PS's G parameters with the BatchNorm statistics of that DC's first worker -- and the
metrics are their mean, with ``<metric>_std`` the spread across datacenters.  The filter and mirror additions run on the
PS state without a compute charge (a few vector ops, cheaper than the Adam step,
which is charged ``server_update``).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from testbed.algorithms import register
from testbed.algorithms.base import Algorithm
from testbed.algorithms.ps import Shard, ps_worker, shard_generator
from testbed.errors import ConfigError
from testbed.gan import count_params
from testbed.nodes.gaia import GaiaServer
from testbed.nodes.worker import GanWorker
from testbed.topology import Topology

if TYPE_CHECKING:
    from testbed.engine import NodeContext

CONSISTENCY = ("sequential", "bounded_delay")
ENTRY_NBYTES = 8
"""An int32 index and a float32 value per significant entry."""


@dataclass(frozen=True)
class GaiaParams:
    """``threshold`` v (significance, relative to the value); ``decay``: v_t = v/sqrt(t);
    ``max_clock_gap``: clocks a DC may run ahead of its slowest mirror; ``consistency``
    inside a DC: sequential | bounded_delay (``tau``); ``selective_barrier``: on/off."""

    threshold: float = 0.01
    decay: bool = True
    max_clock_gap: int = 1
    consistency: str = "sequential"
    tau: int = 2
    selective_barrier: bool = True


@dataclass
class _DcState:
    """What one DC's PS process keeps between messages (the control-flow side)."""

    workers: list[str]
    mirrors: list[str]
    version: int = 0
    clock: int = 0
    pushes: dict[str, int] = field(default_factory=dict)
    pending: list[tuple[str, int]] = field(default_factory=list)
    partial: dict[str, dict[str, Any]] = field(default_factory=dict)
    step_buffer: list[Any] = field(default_factory=list)
    mirror_clock: dict[str, int] = field(default_factory=dict)
    awaited: set[int] = field(default_factory=set)
    """Message ids of significant updates announced by a barrier and not yet arrived."""
    arrived: set[int] = field(default_factory=set)
    in_flight: dict[str, list[tuple[float, simpy.Event, int]]] = field(default_factory=dict)
    """Per mirror: (send time, delivery event, bytes on the wire) of significant updates not yet seen delivered."""


@register("gaia")
class Gaia(Algorithm):
    """A parameter server per datacenter; significance-filtered updates across datacenters."""

    Params = GaiaParams
    task_kinds = ("grad_step", "server_update")

    @classmethod
    def validate(cls, params: GaiaParams, topology: Topology, src: str) -> None:
        if params.threshold < 0:
            raise ConfigError(src, "algorithm.threshold", f"{params.threshold} is negative",
                              "give a relative threshold like 0.01 (1%)")
        if params.consistency not in CONSISTENCY:
            raise ConfigError(src, "algorithm.consistency", f"unknown consistency {params.consistency!r}",
                              f"use one of {list(CONSISTENCY)}")
        if params.tau < 0:
            raise ConfigError(src, "algorithm.tau", f"{params.tau} is negative", "give a staleness bound >= 0")
        if params.max_clock_gap < 0:
            raise ConfigError(src, "algorithm.max_clock_gap", f"{params.max_clock_gap} is negative",
                              "give 0 (lockstep) or more clocks")

    def setup(self) -> None:
        run = self.run
        state = run.setup.gan_state("cpu")
        n_g, n_d = count_params(state.G), count_params(state.D)
        self.datacenters = [dc.name for dc in run.topology.datacenters
                            if any(run.topology.datacenter_of(w) == dc.name for w in run.workers)]
        self.servers = {dc: f"{dc}/ps" for dc in self.datacenters}
        self.shards = {dc: Shard(node, 0, n_g + n_d, n_g) for dc, node in self.servers.items()}
        self.clocks = dict.fromkeys(self.datacenters, 0)
        for i, worker in enumerate(run.workers):
            run.executor.host(worker, GanWorker, run.setup, i)
        for node in self.servers.values():
            run.executor.host(node, GaiaServer, run.setup, n_g + n_d, self.params.threshold, self.params.decay)

    def start(self) -> None:
        run = self.run
        for dc in self.datacenters:
            workers = [w for w in run.workers if run.topology.datacenter_of(w) == dc]
            for worker in workers:
                run.engine.spawn(worker, lambda ctx, s=self.shards[dc]: ps_worker(ctx, run, [s]))
            mirrors = [self.servers[m] for m in self.datacenters if m != dc]
            run.engine.spawn(self.servers[dc], lambda ctx, d=dc, w=workers, m=mirrors: self._serve(
                ctx, d, _DcState(w, m, pushes=dict.fromkeys(w, 0), mirror_clock=dict.fromkeys(m, 0))))

    def generators(self) -> dict[str, Any]:
        run = self.run
        return {dc: shard_generator(run, [self.shards[dc]],
                                    next(w for w in run.workers if run.topology.datacenter_of(w) == dc))
                for dc in self.datacenters}

    def lr_probes(self) -> list[Any]:
        return self.probes_of(list(self.servers.values()))

    def footing(self) -> dict[str, Any]:
        bsp = self.params.consistency == "sequential"
        workers = len(self.run.workers)
        steps = len(self.datacenters) if bsp else workers  # bounded delay: one Adam step per push
        return {"update_order": "simultaneous",
                "iteration": "one clock of the slowest datacenter (every DC's PS updates its own copy)",
                "g_steps_per_iteration": steps, "d_steps_per_iteration": steps, "model_copies": len(self.datacenters)}

    def calibration_node(self, kind: str) -> str:
        return self.servers[self.datacenters[0]] if kind == "server_update" else self.run.workers[0]

    # -- the datacenter's parameter server ---------------------------------------------------------
    def _serve(self, ctx: NodeContext, dc: str, st: _DcState) -> Generator[simpy.Event, Any, None]:
        run = self.run
        while True:
            msg = yield ctx.recv()
            if run.should_stop():
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
                yield from self._push(ctx, dc, st, msg)
                if run.should_stop():
                    continue
            self._answer_pulls(ctx, st)

    def _push(self, ctx: NodeContext, dc: str, st: _DcState, msg: Any) -> Generator[simpy.Event, Any, None]:
        """A worker's gradient half arrived: apply when the consistency model says, tick the clock."""
        part = st.partial.setdefault(msg.src, {})
        part[msg.kind] = msg.payload
        if set(part) != {"grads_g", "grads_d"}:
            return
        del st.partial[msg.src]
        st.pushes[msg.src] += 1
        st.step_buffer.extend([part["grads_g"], part["grads_d"]])
        if self.params.consistency == "sequential" and len(st.step_buffer) < 2 * len(st.workers):
            return
        yield ctx.compute("server_update", "apply_at", st.clock, *st.step_buffer)
        st.step_buffer = []
        st.version += 1
        clock = st.version if self.params.consistency == "sequential" else min(st.pushes.values())
        if clock > st.clock:
            st.clock = clock
            self._tick(ctx, dc, st)

    def _tick(self, ctx: NodeContext, dc: str, st: _DcState) -> None:
        """The DC reached clock ``st.clock``: share significant updates, announce the clock, count."""
        before = min(self.clocks.values())
        self.clocks[dc] = st.clock
        if min(self.clocks.values()) > before:
            self.run.complete_iteration()
        if self.run.should_stop():
            return
        count_h, update_h, index_h = ctx.call("filter_updates", st.clock, num_returns=3)
        count = ctx.resolve(count_h)
        if count > 0:
            for mirror in st.mirrors:
                if self.params.selective_barrier and self._lagging(ctx, st, mirror):
                    ctx.send(mirror, index_h, "barrier_index")
                    barrier_id = len(ctx.engine.accountant) - 1
                    st.in_flight.setdefault(mirror, []).append(self._send_update(ctx, mirror, update_h, count))
                    assert len(ctx.engine.accountant) - 1 == barrier_id + 1, "the update must follow its barrier"
                else:
                    st.in_flight.setdefault(mirror, []).append(self._send_update(ctx, mirror, update_h, count))
        for mirror in st.mirrors:
            ctx.send(mirror, np.array([st.clock], dtype=np.int32), "clock")

    @staticmethod
    def _send_update(ctx: NodeContext, mirror: str, update_h: Any, count: int) -> tuple[float, simpy.Event, int]:
        delivered = ctx.send(mirror, update_h, "significant_update")
        return ctx.now_s, delivered, ENTRY_NBYTES * count + ctx.engine.header_nbytes

    @staticmethod
    def _lagging(ctx: NodeContext, st: _DcState, mirror: str) -> bool:
        """An earlier update to ``mirror`` is still undelivered after the time it would take alone
        on the path (latency + size / bottleneck bandwidth): the WAN to it is backlogged."""
        in_flight = [u for u in st.in_flight.get(mirror, []) if not u[1].triggered]
        st.in_flight[mirror] = in_flight
        topology = ctx.engine.topology
        route = topology.route(ctx.node_id, mirror)
        bottleneck_bps = min(topology.link_capacity_bps(k) for k in route.links)
        return any(ctx.now_s - sent_s > route.latency_s + 8 * nbytes / bottleneck_bps
                   for sent_s, _, nbytes in in_flight)

    def _answer_pulls(self, ctx: NodeContext, st: _DcState) -> None:
        """Send G and D to every waiting worker that consistency, mirror clock and barriers allow."""
        if st.awaited:
            return
        p = self.params
        slowest_mirror = min(st.mirror_clock.values(), default=None)
        slowest = min(st.pushes.values())
        ready = [(w, c) for w, c in st.pending
                 if ((p.consistency == "sequential" and st.version >= c)
                     or (p.consistency == "bounded_delay" and slowest >= c - p.tau))
                 and (slowest_mirror is None or c - slowest_mirror <= p.max_clock_gap)]
        if not ready:
            return
        g_seg, d_seg = ctx.call("segments", num_returns=2)
        for worker, clock in ready:
            st.pending.remove((worker, clock))
            ctx.send(worker, g_seg, "params_g")
            ctx.send(worker, d_seg, "params_d")
