"""``streaming_diloco``: DiLoCo whose outer step synchronises one model fragment at a time, overlapped with training.

Douillard et al., *Streaming DiLoCo with overlapping communication: Towards a Distributed Free Lunch*,
2025.  Every worker is a replica that keeps its own G, D and inner Adam and takes inner steps on its
shard (one D and one G update each); the model is cut into P = ``fragments`` strided fragments
(fragments.py); fragment p is exchanged every H = ``inner_steps`` inner steps on a staggered schedule
(after step o_p + kH, o_p = round((p + 1) H / P)): each replica sends its outer gradient anchor_p -
local_p, the server at ``server_at`` takes one outer step on p (DiLoCo's Nesterov, ``outer_lr``,
``outer_momentum``; BatchNorm statistics averaged) and sends p back; a replica keeps training for tau =
``overlap`` inner steps before it merges local_p <- alpha local_p + (1 - alpha) global_p (alpha =
``mixing``).  The outer gradient can be quantised on the wire like any message (``network.compression:
{outer_grad: {quantize: 4}}``; the paper sends 4-bit floats).  P = 1, tau = 0, alpha = 0 is DiLoCo.
``iterations`` counts inner steps of every replica (the slowest live one's count, as ``local`` does); the
inner schedule is indexed by each replica's own steps; the outer step size is constant.

The exchange goes through one aggregator, as the testbed's DiLoCo (FedAvg + ``server_optimizer:
nesterov``) does; the paper all-reduces between replicas, which moves 2(M-1)/M of a fragment per replica
on a ring instead of one fragment each way.

Bytes, exactly: per exchange of fragment p, every live replica sends 4 n_p (``outer_grad``) and receives
4 n_p (``fragment``), n_p = the fragment's entries; over T inner steps fragment p is exchanged
floor((T - o_p) / H) + 1 times (if T >= o_p), so the run moves 2 M sum_p 4 n_p (floor((T - o_p)/H) + 1)
payload bytes (M replicas; the last exchanges' replies may be cut by the stop).  Peak and mean WAN
bandwidth, the paper's claim, are in every run's ``summary.json`` (``wan_bandwidth``, testbed.sim.rate_meter).

Churn: a replica that is down pauses, and so does every exchange waiting for its gradient (as the BSP
parameter server waits); a crashed replica is skipped from then on (its last gradient, if it arrived,
still counts); a crashed server, or every replica crashed, stops the run.  Synchronous: its operations do
not depend on timing, so a run can be replayed on another network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from testbed.core.errors import ConfigError
from testbed.core.fields import checked_number
from testbed.methods.api import Algorithm, check_one_datacenter, register, server_node
from testbed.methods.fedavg.server_optimizers import ServerOptimizerSpec
from testbed.methods.streaming_diloco.fragments import fragment_layout
from testbed.methods.streaming_diloco.protocol import StreamingPlan, replica, server
from testbed.methods.streaming_diloco.state import OuterServer, Replica
from testbed.topology.model import Topology


@dataclass(frozen=True)
class StreamingDiLoCoParams:
    """``inner_steps`` H, ``fragments`` P, ``overlap`` tau (inner steps; 0 <= tau < H), ``mixing`` alpha,
    ``outer_lr`` (0.7) and ``outer_momentum`` (0.9) of the outer Nesterov step, ``server_at``."""

    inner_steps: int = 20
    fragments: int = 2
    overlap: int = 0
    mixing: float = 0.5
    outer_lr: float = 0.7
    outer_momentum: float = 0.9
    server_at: Any = None


@register("streaming_diloco")
class StreamingDiLoCo(Algorithm):
    """Replicas training alone, one fragment synchronised at a time through an outer Nesterov step."""

    Params = StreamingDiLoCoParams
    task_kinds = ("train_step", "average")
    compressible_kinds = ("outer_grad", "fragment")
    gradient_kinds = ("outer_grad",)  # anchor_p - local_p: a pseudo-gradient of fragment p
    tagged_gradient_kinds = ("outer_grad",)  # fragments interleave: one residual per fragment (tag (p, t))
    update_orders = ("alternating", "simultaneous")
    example_params: ClassVar[dict[str, Any]] = {"inner_steps": 2, "fragments": 2, "overlap": 1}

    @classmethod
    def validate(cls, params: StreamingDiLoCoParams, topology: Topology, src: str) -> None:
        checked_number(params.inner_steps, src, "algorithm.inner_steps", int, 1, 1_000_000)
        checked_number(params.fragments, src, "algorithm.fragments", int, 1, 1024)
        if not 0 <= params.overlap < params.inner_steps:
            raise ConfigError(src, "algorithm.overlap", f"{params.overlap} is outside [0, {params.inner_steps}) "
                              "(inner_steps)", "overlap the exchange with fewer inner steps than H, e.g. 1")
        checked_number(params.mixing, src, "algorithm.mixing", float, 0, 1, "[)")
        checked_number(params.outer_lr, src, "algorithm.outer_lr", float, 0, 10, "(]")
        checked_number(params.outer_momentum, src, "algorithm.outer_momentum", float, 0, 1, "[)")
        check_one_datacenter(params.server_at, topology, src)

    def setup(self) -> None:
        s = self.session
        layout = fragment_layout(s.setup, self.params.fragments)
        if not all(layout.members):
            raise ConfigError("<experiment>", "algorithm.fragments", f"{self.params.fragments} fragments of a model "
                              f"with {layout.layers} layers", f"use at most {layout.layers} fragments")
        self.server = server_node(self.params.server_at, s.topology)
        for i, worker in enumerate(s.workers):
            s.host(worker, Replica, s.setup, i, self.params.fragments, self.params.mixing)
        outer = ServerOptimizerSpec("nesterov", self.params.outer_lr, self.params.outer_momentum)
        s.host(self.server, OuterServer, s.setup, self.params.fragments, outer)
        sizes = [s.call(w, "num_samples") for w in s.workers]
        n_k = {w: int(s.resolve(h)) for w, h in zip(s.workers, sizes, strict=True)}
        self.plan = StreamingPlan(self.server, self.params.inner_steps, self.params.overlap, layout, n_k,
                                  steps=dict.fromkeys(s.workers, 0), live=list(s.workers))

    def start(self) -> None:
        s = self.session
        s.spawn(self.server, lambda ctx: server(ctx, s, self.plan))
        for worker in s.workers:
            s.spawn(worker, lambda ctx: replica(ctx, s, self.plan))

    def node_crashed(self, node: str, t_s: float) -> str | None:
        """A replica may crash (skipped); the server may not, nor every replica."""
        if node == self.server:
            return f"crashed: {node} at {t_s:g}s (the streaming_diloco server holds the global model)"
        if node in self.plan.live:
            self.plan.live.remove(node)
        if not self.plan.live:
            return f"crashed: every replica (the last, {node}, at {t_s:g}s)"
        while self.session.iteration < min(self.plan.steps[w] for w in self.plan.live):
            self.session.complete_iteration()
        return None

    @classmethod
    def timing_dependence(cls, params: Any, topology: Topology) -> str | None:
        """The server takes the exchanges in schedule order and each replica's gradient by (fragment, step) tag,
        averaged in replica order; a replica trains, sends and merges on its own step count: the same
        computations on any network.  A crash makes whether a replica's last gradient counts depend on timing.
        (An evaluation sees the server's fragments as the slowest replica's step finds them; a replay onto other
        replica speeds may change that, and its check of the evaluation cuts says so.)"""
        for node in topology.nodes:
            availability = topology.dynamics_of(node).availability
            if availability is not None and availability.crash_at_s is not None and math.isfinite(
                    availability.crash_at_s):
                return f"{node} crashes: whether its last outer gradient counts depends on timing"
        return None

    def expected_payload_nbytes(self) -> dict[str, int]:
        """4 n_p per outer gradient and per new fragment sent.  Every replica sends one per exchange due by its
        last inner step (``outer_grad``) and gets one per exchange the server completed (``fragment``); at the
        stop, replicas ahead of the slowest have sent gradients the server never got to, so the counts are
        the plan's, the sizes the formula's (tests/test_streaming_diloco.py checks the counts by schedule)."""
        layout = self.plan.layout
        return {"outer_grad": sum(layout.nbytes(p) * n for p, n in self.plan.grads_sent.items()),
                "fragment": sum(layout.nbytes(p) * n for p, n in self.plan.fragments_sent.items())}

    def generators(self) -> dict[str, Any]:
        return {"streaming_diloco": self.snapshot_of(self.server)}

    def lr_probes(self) -> list[Any]:
        return self.probes_of(self.plan.live[:1] or self.session.workers[:1])

    def footing(self) -> dict[str, Any]:
        replicas = len(self.session.workers)
        return {"update_order": self.session.setup.training.update_order,
                "iteration": "one inner step at every replica (fragments exchanged on a staggered schedule)",
                "g_steps_per_iteration": replicas, "d_steps_per_iteration": replicas,
                "inner_steps": self.params.inner_steps, "fragments": self.params.fragments,
                "overlap": self.params.overlap}

    def results(self) -> dict[str, Any]:
        """Fragment sizes and the exchanges the server completed."""
        layout = self.plan.layout
        return {"fragment_payload_nbytes": [layout.nbytes(p) for p in range(layout.fragments)],
                "exchanges": len(self.plan.exchanges)}

    def calibration_node(self, kind: str) -> str:
        return self.server if kind == "average" else self.session.workers[0]
