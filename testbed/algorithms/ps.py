"""Parameter server (Li et al., OSDI 2014) for GANs: shards hold G and D, workers push gradients.

The flat ``[G; D]`` parameter vector is split into ``servers`` contiguous key ranges,
one shard node ``<dc>/ps<i>`` each, dealt round-robin over the ``server_at``
datacenters.  Each step a worker sends every shard a ``pull`` (header only, its
clock in the header), receives that shard's parameter range (``params_g`` and
``params_d``: 4(|G|+|D|) B over all shards), computes G's and D's gradients on a
local batch -- both from the same parameters, i.e. simultaneous GAN updates --
and pushes them back (``grads_g`` / ``grads_d``: 4(|G|+|D|) B).

Consistency models (when may a pull be answered?):

* ``sequential`` (BSP): a shard averages the N pushes of a step and takes one
  Adam step; a worker's pull for step c is answered once step c-1 is applied.
* ``bounded_delay`` (SSP, staleness ``tau``): each push is applied as it comes;
  a pull from a worker at clock c waits until the slowest worker has pushed c - tau.
* ``eventual`` (async): each push applied as it comes, pulls answered at once.

``iterations`` counts model updates: one per step under BSP, one per push otherwise; with
several shards an iteration is complete when *every* shard has applied it (each shard counts its
own updates, the run the slowest shard's).  Under BSP a shard answers a pull for step c only if
step c is within the iteration budget, so no shard ships parameters for a step that will not run
(bytes equal 4(|G|+|D|) x N x iterations each way, for any number of shards).  The learning-rate
schedule is indexed by the shard's update count, i.e. by iterations.  The server update is charged
``server_update`` x (shard share of keys).

Evaluation: the generator's parameters are the shards' G segments; its BatchNorm running
statistics (if any) are the first worker's -- the only place they exist, since workers run G
forward (G's statistics depend on latents and G, not on a worker's data).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from testbed.algorithms import register
from testbed.algorithms.base import EMPTY, Algorithm, check_datacenter, server_datacenters
from testbed.errors import ConfigError
from testbed.gan import count_params
from testbed.nodes.server import ParamShard, shard_ranges
from testbed.nodes.worker import GanWorker
from testbed.topology import Topology

if TYPE_CHECKING:
    from testbed.engine import NodeContext
    from testbed.run import Run

CONSISTENCY = ("sequential", "bounded_delay", "eventual")


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


def plan_shards(run: Run, datacenters: list[str], count: int, prefix: str = "ps") -> list[Shard]:
    """Shard nodes and key ranges for ``count`` shards over ``datacenters`` (round-robin)."""
    state = run.setup.gan_state("cpu")
    n_g, n_d = count_params(state.G), count_params(state.D)
    return [Shard(f"{datacenters[i % len(datacenters)]}/{prefix}{i}", lo, hi, n_g)
            for i, (lo, hi) in enumerate(shard_ranges(n_g + n_d, count))]


def shard_generator(run: Run, shards: list[Shard], buffers_from: str) -> dict[str, Any]:
    """The snapshot of a G held by ``shards``: their G segments, and ``buffers_from``'s BN statistics."""
    return {"segments": [run.executor.call(s.node, "g_segment") for s in shards if s.has_g],
            "buffers": run.executor.call(buffers_from, "g_buffers")}


def host_shards(run: Run, shards: list[Shard]) -> None:
    for shard in shards:
        run.executor.host(shard.node, ParamShard, run.setup, shard.lo, shard.hi)


class ShardProgress:
    """Update counts of every shard; the run's iteration is the slowest shard's count."""

    def __init__(self, run: Run, shards: list[Shard]) -> None:
        self.run = run
        self.versions = {shard.node: 0 for shard in shards}

    def updated(self, node: str) -> None:
        """Shard ``node`` applied one more update: complete an iteration if it was the last to."""
        before = min(self.versions.values())
        self.versions[node] += 1
        if min(self.versions.values()) > before:
            self.run.complete_iteration()


def within_budget(run: Run, step: int) -> bool:
    """Whether step ``step`` (0-based) can still run under the iteration budget."""
    return run.spec.max_iterations is None or step < run.spec.max_iterations


def start_ps(run: Run, workers: list[str], shards: list[Shard], consistency: str, tau: int) -> None:
    """Spawn the worker and shard processes of a parameter server."""
    for worker in workers:
        run.engine.spawn(worker, lambda ctx: ps_worker(ctx, run, shards))
    total = shards[-1].hi
    progress = ShardProgress(run, shards)
    for shard in shards:
        run.engine.spawn(shard.node, lambda ctx, s=shard: ps_shard(
            ctx, run, s, workers, consistency, tau, (s.hi - s.lo) / total, progress))


def ps_worker(ctx: NodeContext, run: Run, shards: list[Shard]) -> Generator[simpy.Event, Any, None]:
    """Pull every shard's range, compute gradients, push them; repeat until the run stops."""
    clock = 0
    while not run.should_stop():
        for shard in shards:
            ctx.send(shard.node, clock, "pull", nbytes=0)
        segments: list[Any] = []
        for shard in shards:
            for kind, held in (("params_g", shard.has_g), ("params_d", shard.has_d)):
                segments.append((yield ctx.recv(kind=kind, src=shard.node)).payload if held else EMPTY)
        if run.should_stop():
            return
        grads = yield ctx.compute("grad_step", "flat_grads", *segments, num_returns=2 * len(shards))
        for i, shard in enumerate(shards):
            if shard.has_g:
                ctx.send(shard.node, grads[2 * i], "grads_g")
            if shard.has_d:
                ctx.send(shard.node, grads[2 * i + 1], "grads_d")
        clock += 1


def ps_shard(ctx: NodeContext, run: Run, shard: Shard, workers: list[str], consistency: str, tau: int,
             share: float, progress: ShardProgress) -> Generator[simpy.Event, Any, None]:
    """Answer pulls when the consistency model allows; apply pushed gradients."""
    version = 0
    pushes = dict.fromkeys(workers, 0)
    pending: list[tuple[str, int]] = []
    partial: dict[str, dict[str, Any]] = {}
    step_buffer: list[Any] = []
    needed = {kind for kind, held in (("grads_g", shard.has_g), ("grads_d", shard.has_d)) if held}
    while True:
        msg = yield ctx.recv()
        if run.should_stop():
            continue
        if msg.kind == "pull":
            pending.append((msg.src, msg.payload))
        else:
            part = partial.setdefault(msg.src, {})
            part[msg.kind] = msg.payload
            if set(part) == needed:
                del partial[msg.src]
                pushes[msg.src] += 1
                step_buffer.extend([part.get("grads_g", EMPTY), part.get("grads_d", EMPTY)])
                if consistency != "sequential" or len(step_buffer) == 2 * len(workers):
                    yield ctx.compute("server_update", "apply", *step_buffer, units=share)
                    step_buffer = []
                    version += 1
                    progress.updated(shard.node)
                    if run.should_stop():
                        continue
        slowest = min(pushes.values())
        ready = [(w, c) for w, c in pending if consistency == "eventual"
                 or (consistency == "sequential" and version >= c and within_budget(run, c))
                 or (consistency == "bounded_delay" and slowest >= c - tau)]
        if ready:
            g_seg, d_seg = ctx.call("segments", num_returns=2)
            for worker, clock in ready:
                pending.remove((worker, clock))
                if shard.has_g:
                    ctx.send(worker, g_seg, "params_g")
                if shard.has_d:
                    ctx.send(worker, d_seg, "params_d")


@dataclass(frozen=True)
class PsParams:
    """``consistency``: sequential | bounded_delay | eventual; ``tau``: SSP staleness bound;
    ``servers``: number of shards; ``server_at``: datacenter(s) hosting them."""

    consistency: str = "sequential"
    tau: int = 2
    servers: int = 1
    server_at: Any = None


@register("ps")
class ParameterServer(Algorithm):
    """Sharded parameter server with BSP / SSP / asynchronous consistency."""

    Params = PsParams
    task_kinds = ("grad_step", "server_update")

    @classmethod
    def validate(cls, params: PsParams, topology: Topology, src: str) -> None:
        if params.consistency not in CONSISTENCY:
            raise ConfigError(src, "algorithm.consistency", f"unknown consistency {params.consistency!r}",
                              f"use one of {list(CONSISTENCY)}")
        if not 1 <= params.servers <= 1024:
            raise ConfigError(src, "algorithm.servers", f"servers = {params.servers}", "use 1 to 1024 shards")
        if params.tau < 0:
            raise ConfigError(src, "algorithm.tau", f"tau = {params.tau} is negative", "give a staleness bound >= 0")
        check_datacenter(params.server_at, topology, src)

    def setup(self) -> None:
        run = self.run
        self.shards = plan_shards(run, server_datacenters(self.params.server_at, run.topology), self.params.servers)
        for i, worker in enumerate(run.workers):
            run.executor.host(worker, GanWorker, run.setup, i)
        host_shards(run, self.shards)

    def start(self) -> None:
        start_ps(self.run, self.run.workers, self.shards, self.params.consistency, self.params.tau)

    def generators(self) -> dict[str, Any]:
        return {"ps": shard_generator(self.run, self.shards, self.run.workers[0])}

    def lr_probes(self) -> list[Any]:
        return self.probes_of([s.node for s in self.shards])

    def footing(self) -> dict[str, Any]:
        bsp = self.params.consistency == "sequential"
        return {"update_order": "simultaneous",
                "iteration": "one BSP step (the mean of every worker's gradients)" if bsp
                else "one pushed gradient applied",
                "g_steps_per_iteration": 1, "d_steps_per_iteration": 1}

    def calibration_node(self, kind: str) -> str:
        return self.shards[0].node if kind == "server_update" else self.run.workers[0]
