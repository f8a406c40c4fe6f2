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

Across datacenters, Approximate Synchronous Parallel (the process is in ``protocol.py``,
the state -- accumulator and significance filter -- in ``state.py``):

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

Churn (topology ``availability``): a node that is down is offline (testbed.sim.engine: no compute, its
messages stall until it is back), so whoever needs it waits; a crashed worker, server or datacenter
stops the run with ``stop_reason`` naming it (the inter-DC clock barrier and each DC's BSP wait for
every member).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from testbed.core.errors import ConfigError
from testbed.methods.api import Algorithm, register, service_node, workers_by_datacenter
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.gaia.protocol import ENTRY_NBYTES, DcState, GaiaPlan, serve
from testbed.methods.gaia.state import GaiaServer
from testbed.methods.ps.protocol import Shard, ps_worker, shard_generator
from testbed.methods.ps.state import PsWorker
from testbed.topology.model import Topology

CONSISTENCY = ("sequential", "bounded_delay")
__all__ = ["CONSISTENCY", "ENTRY_NBYTES", "Gaia", "GaiaParams"]


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


@register("gaia")
class Gaia(Algorithm):
    """A parameter server per datacenter; significance-filtered updates across datacenters."""

    Params = GaiaParams
    crash_note = ("each datacenter's copy and its parameter servers are part of the global model, "
                  "and the clock barrier waits for every datacenter")
    task_kinds = ("grad_step", "server_update")
    value_dependent = ("bytes depend on the values (only significant updates are sent, fewer as training settles): "
                       "extrapolated from early iterations, an upper bound -- and so is virtual time where the "
                       "WAN is the bottleneck")
    compressible_kinds = ("params_g", "params_d", "grads_g", "grads_d")
    gradient_kinds = ("grads_g", "grads_d")
    example_params: ClassVar[dict[str, Any]] = {"threshold": 0.05, "decay": False}

    @classmethod
    def timing_dependence(cls, params: GaiaParams, topology: Topology) -> str | None:
        """Across datacenters Gaia is asynchronous: mirrors add significant updates as they arrive, clocks run
        up to ``max_clock_gap`` apart, and the selective barrier fires on how long an update has been queued."""
        return ("gaia's datacenters apply each other's significant updates as they arrive and its selective "
                "barrier fires on queueing time, so what each datacenter computes depends on timing")

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
        s = self.session
        sizes = wire_sizes(s.setup)
        total = sizes.g_params + sizes.d_params
        self.members = workers_by_datacenter(s)
        self.datacenters = list(self.members)
        self.servers = {dc: service_node(dc, "ps") for dc in self.datacenters}
        self.shards = {dc: Shard(node, 0, total, sizes.g_params) for dc, node in self.servers.items()}
        p = self.params
        self.plan = GaiaPlan(p.consistency, p.tau, p.max_clock_gap, p.selective_barrier, self.shards,
                             dict.fromkeys(self.datacenters, 0))
        for i, worker in enumerate(s.workers):
            s.host(worker, PsWorker, s.setup, i)
        for node in self.servers.values():
            s.host(node, GaiaServer, s.setup, total, self.params.threshold, self.params.decay)

    def start(self) -> None:
        s = self.session
        for dc, workers in self.members.items():
            for worker in workers:
                s.spawn(worker, lambda ctx, shard=self.shards[dc]: ps_worker(ctx, s, [shard]))
            mirrors = [self.servers[m] for m in self.datacenters if m != dc]
            state = DcState(dc, workers, mirrors, pushes=dict.fromkeys(workers, 0),
                            mirror_clock=dict.fromkeys(mirrors, 0))
            s.spawn(self.servers[dc], lambda ctx, st=state: serve(ctx, s, self.plan, st))

    @property
    def clocks(self) -> dict[str, int]:
        """Every datacenter's clock (the run's iteration is the slowest one's)."""
        return self.plan.clocks

    def generators(self) -> dict[str, Any]:
        return {dc: shard_generator(self.session, [self.shards[dc]], self.members[dc][0]) for dc in self.datacenters}

    def lr_probes(self) -> list[Any]:
        return self.probes_of(list(self.servers.values()))

    def footing(self) -> dict[str, Any]:
        bsp = self.params.consistency == "sequential"
        workers = len(self.session.workers)
        steps = len(self.datacenters) if bsp else workers  # bounded delay: one Adam step per push
        return {"update_order": "simultaneous",
                "iteration": "one clock of the slowest datacenter (every DC's PS updates its own copy)",
                "g_steps_per_iteration": steps, "d_steps_per_iteration": steps, "model_copies": len(self.datacenters)}

    def calibration_node(self, kind: str) -> str:
        return self.servers[self.datacenters[0]] if kind == "server_update" else self.session.workers[0]
