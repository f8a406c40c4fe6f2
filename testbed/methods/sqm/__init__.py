"""``sqm``: geo-distributed statistical-query learning (Cano et al. 2016) of a GAN.

Raw data never leaves its datacenter; only D's parameters and gradient
statistics cross the WAN.  A central learner ``<server_at>/learner`` holds G and
D.  Each step (one learner step; ``iterations`` counts them):

1. the learner sends D's parameters to every datacenter's *head* (its first
   worker) -- ``params_d``: 4|D| B per DC;
2. the datacenter answers the statistical query "mean gradient of D's real-data
   loss (softplus(-D(x)), + R1 if set) over a local batch of b" -- ``sq_answer``:
   4|D| B per DC back to the learner;
3. meanwhile the learner computes the fake-data term on b samples of its own G
   (``sq_fake``), then steps D with sum_dc w_dc * answer_dc + fake term and steps G
   against the new D (``sq_step``; ``training.update_order: simultaneous`` steps G
   against the old D instead): G never needs the data.  Both follow the lr schedule,
   indexed by learner steps.

Decisions:

* **How a DC with several workers answers.** The head forwards the query over the
  LAN to the DC's other workers (``params_d``, LAN), every worker answers on its own
  shard in parallel (``sq_query``), the others send their answers to the head
  (``sq_answer``, LAN), and the head merges them (a weighted mean, cheap, charged no
  virtual time).  So per step per DC with W workers: exactly one 4|D| B message each
  way between the learner and the DC, plus 2(W - 1) x 4|D| B inside the DC; the
  learner's own DC talks to it over the LAN.  No sample, raw or generated, is ever sent.
* **Weights.** Answers are means over a batch; the statistic the learner wants is
  the mean over *all* data, so a DC's answer is its workers' answers weighted by
  their shard sizes n_k / n_dc, and the learner weights DCs by n_dc / n.  With
  non-IID data (``by_datacenter``) this keeps every class at its true frequency.

Churn (topology ``availability``): a node that is down is offline (testbed.sim.engine: no compute, its
messages stall until it is back), so its datacenter's answer waits; a crashed worker or learner stops the
run with ``stop_reason`` naming it (each query's answer sums over every datacenter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from testbed.methods.api import (
    Algorithm,
    check_batch_size,
    check_one_datacenter,
    register,
    server_node,
    workers_by_datacenter,
)
from testbed.methods.common.sizes import wire_sizes
from testbed.methods.sqm.protocol import SqmPlan, head, learn, member
from testbed.methods.sqm.state import SqLearner, SqWorker
from testbed.topology.model import Topology


@dataclass(frozen=True)
class SqmParams:
    """``batch_size`` b of every query and of the learner's fake batches (0 = training.batch_size);
    ``server_at``: the learner's datacenter."""

    batch_size: int = 0
    server_at: Any = None


@register("sqm")
class StatisticalQuery(Algorithm):
    """A central learner asking datacenters for real-data gradient statistics."""

    Params = SqmParams
    crash_note = ("the learner waits for every datacenter's answer to each statistical query")
    task_kinds = ("sq_query", "sq_fake", "sq_step")
    compressible_kinds = ("params_d", "sq_answer")
    gradient_kinds = ("sq_answer",)  # the mean gradient of D's real-data loss

    @classmethod
    def timing_dependence(cls, params: SqmParams, topology: Topology) -> str | None:
        """Every query waits for every datacenter's answer, merged in a fixed order: the same on any network."""
        return None
    update_orders = ("alternating", "simultaneous")
    example_params: ClassVar[dict[str, Any]] = {"server_at": "c"}

    @classmethod
    def validate(cls, params: SqmParams, topology: Topology, src: str) -> None:
        check_batch_size(params.batch_size, src)
        check_one_datacenter(params.server_at, topology, src)

    def setup(self) -> None:
        s = self.session
        self.learner = server_node(self.params.server_at, s.topology, "learner")
        b = self.params.batch_size or s.setup.training.batch_size
        self.members = workers_by_datacenter(s)
        for i, worker in enumerate(s.workers):
            s.host(worker, SqWorker, s.setup, i, b)
        s.host(self.learner, SqLearner, s.setup, b)
        self.n_k = {w: int(s.resolve(s.call(w, "num_samples"))) for w in s.workers}
        total = sum(self.n_k.values())
        self.dc_weights = [sum(self.n_k[w] for w in ws) / total for ws in self.members.values()]
        self.plan = SqmPlan(self.learner, self.members, self.n_k, self.dc_weights)

    def start(self) -> None:
        s, plan = self.session, self.plan
        s.spawn(self.learner, lambda ctx: learn(ctx, s, plan))
        for workers in self.members.values():
            first, others = workers[0], workers[1:]
            s.spawn(first, lambda ctx, others=others: head(ctx, s, plan, others))
            for worker in others:
                s.spawn(worker, lambda ctx, first=first: member(ctx, s, first))

    def expected_payload_nbytes(self) -> dict[str, int]:
        """Per step every worker gets D (from the learner, or its head over the LAN) and answers: 4|D| each."""
        messages = self.session.iteration * len(self.session.workers)
        d_nbytes = wire_sizes(self.session.setup).d_nbytes
        return {"params_d": messages * d_nbytes, "sq_answer": messages * d_nbytes}

    def generators(self) -> dict[str, Any]:
        return {"sqm": self.snapshot_of(self.learner)}

    def lr_probes(self) -> list[Any]:
        return self.probes_of([self.learner])

    def footing(self) -> dict[str, Any]:
        return {"update_order": self.session.setup.training.update_order,
                "iteration": "one learner step (D on the datacenters' answers, then G)",
                "g_steps_per_iteration": 1, "d_steps_per_iteration": 1}

    def calibration_node(self, kind: str) -> str:
        return self.learner if kind in ("sq_fake", "sq_step") else self.session.workers[0]
