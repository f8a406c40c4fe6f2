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
  optimiser step; a worker's pull for step c is answered once step c-1 is applied.
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

The shard's optimiser is Adam (``training.beta1`` / ``beta2``) unless ``shard_optimizer: sgd`` (torch's SGD with
``shard_momentum``, default 0; same lr and schedule; testbed.methods.ps.shard_optimizer).

The package: ``protocol.py`` holds the worker and shard processes (Gaia and ``centralized``
reuse them), ``state.py`` the shard and worker states.

Evaluation: the generator's parameters are the shards' G segments; its BatchNorm running
statistics (if any) are the first worker's -- the only place they exist, since workers run G
forward (G's statistics depend on latents and G, not on a worker's data).

Churn (topology ``availability``): a node that is down is offline (testbed.sim.engine: no compute, its
messages stall until it is back), so BSP waits for a down worker, and a down shard answers no pull.
A crashed worker is skipped: from its crash on, each shard's BSP step waits only for the live workers
(a push it made before crashing still counts), bounded delay measures the slowest live worker, and its
pending pulls go unanswered.  A crashed shard (its key range is lost), or every worker crashed, stops
the run with ``stop_reason`` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from testbed.core.errors import ConfigError
from testbed.methods.api import Algorithm, check_datacenter, register, server_datacenters
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.ps.protocol import ShardProgress, plan_shards, ps_shard, ps_worker, shard_generator
from testbed.methods.ps.shard_optimizer import check_shard_optimizer
from testbed.methods.ps.state import ParamShard, PsWorker
from testbed.topology.model import Topology

CONSISTENCY = ("sequential", "bounded_delay", "eventual")


@dataclass(frozen=True)
class PsParams:
    """``consistency``: sequential | bounded_delay | eventual; ``tau``: SSP staleness bound;
    ``servers``: number of shards; ``server_at``: datacenter(s) hosting them; ``shard_optimizer``: adam |
    sgd, with ``shard_momentum`` (sgd only; None: 0)."""

    consistency: str = "sequential"
    tau: int = 2
    servers: int = 1
    server_at: Any = None
    shard_optimizer: str = "adam"
    shard_momentum: float | None = None


@register("ps")
class ParameterServer(Algorithm):
    """Sharded parameter server with BSP / SSP / asynchronous consistency."""

    Params = PsParams
    crash_note = "each shard holds its part of G and D"
    task_kinds = ("grad_step", "server_update")
    compressible_kinds = ("params_g", "params_d", "grads_g", "grads_d")
    gradient_kinds = ("grads_g", "grads_d")
    example_params: ClassVar[dict[str, Any]] = {"servers": 2, "server_at": ["a", "c"]}

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
        check_shard_optimizer(params.shard_optimizer, params.shard_momentum, src)

    @classmethod
    def timing_dependence(cls, params: PsParams, topology: Topology) -> str | None:
        """BSP: a step averages every worker's push in worker order and answers pulls only for the next step, so
        each node computes and sends the same things on any network (only when changes).  SSP and async
        apply each push as it arrives: which gradient meets which parameters is a matter of timing."""
        if params.consistency != "sequential":
            return (f"ps {params.consistency} applies each push as it arrives, so the parameters a worker "
                    "pulls depend on timing")
        return None

    def setup(self) -> None:
        s = self.session
        self.shards = plan_shards(s, server_datacenters(self.params.server_at, s.topology), self.params.servers)
        for i, worker in enumerate(s.workers):
            s.host(worker, PsWorker, s.setup, i)
        for shard in self.shards:
            s.host(shard.node, ParamShard, s.setup, shard.lo, shard.hi, optimizer=self.params.shard_optimizer,
                   momentum=self.params.shard_momentum)

    def start(self) -> None:
        s, p = self.session, self.params
        for worker in s.workers:
            s.spawn(worker, lambda ctx: ps_worker(ctx, s, self.shards))
        total = self.shards[-1].hi
        progress = ShardProgress(s, self.shards)
        for shard in self.shards:
            s.spawn(shard.node, lambda ctx, sh=shard: ps_shard(
                ctx, s, sh, s.workers, p.consistency, p.tau, (sh.hi - sh.lo) / total, progress))

    def node_crashed(self, node: str, t_s: float) -> str | None:
        """A crashed worker is skipped (the shards' step rule counts the live ones); a shard is not."""
        s = self.session
        if node not in s.workers:
            return super().node_crashed(node, t_s)
        if all(s.crash_time_s(w) <= t_s for w in s.workers):
            return f"crashed: every worker (the last, {node}, at {t_s:g}s)"
        return None

    def expected_payload_nbytes(self) -> dict[str, int] | None:
        """BSP: per step per worker, pull 4(|G|+|D|) and push 4(|G|+|D|) over all shards together.  Under
        bounded delay and eventual consistency an iteration is one applied push, and pushes still in flight
        when the run stops are sent too: not fixed by the iteration count."""
        if self.params.consistency != "sequential":
            return None
        sizes = wire_sizes(self.session.setup)
        pushes = self.session.iteration * len(self.session.workers)
        return {"params_g": pushes * sizes.g_nbytes, "params_d": pushes * sizes.d_nbytes,
                "grads_g": pushes * sizes.g_nbytes, "grads_d": pushes * sizes.d_nbytes}

    def generators(self) -> dict[str, Any]:
        return {"ps": shard_generator(self.session, self.shards, self.session.workers[0])}

    def lr_probes(self) -> list[Any]:
        return self.probes_of([s.node for s in self.shards])

    def footing(self) -> dict[str, Any]:
        bsp = self.params.consistency == "sequential"
        return {"update_order": "simultaneous",
                "iteration": "one BSP step (the mean of every worker's gradients)" if bsp
                else "one pushed gradient applied",
                "g_steps_per_iteration": 1, "d_steps_per_iteration": 1}

    def calibration_node(self, kind: str) -> str:
        return self.shards[0].node if kind == "server_update" else self.session.workers[0]
