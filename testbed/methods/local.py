"""``local``: every site trains its own GAN on its own data -- no traffic at all.

The lower bound of the comparison ("each site alone"): a site is a worker, so
a non-IID partition leaves each generator seeing only its own classes.  Each
worker takes ``max_iterations`` training steps (one D step + one G step); the
run's iteration is the slowest worker's step count, and the reported quality is
the mean over all sites' generators (``<metric>_std``: their spread).

Churn (topology ``availability``): a site that is down is offline (its steps wait until it is back); a
site that crashes is skipped -- the others go on, the run's iteration becomes the slowest *live*
site's count, and the crashed site's generator is lost (no longer scored).  When every site has
crashed the run stops with that reason.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

from testbed.methods.api import Algorithm, Context, Event, register
from testbed.methods.common.worker import GanWorker
from testbed.topology.model import Topology


@register("local")
class Local(Algorithm):
    """Independent training at every worker."""

    task_kinds = ("train_step",)
    update_orders = ("alternating", "simultaneous")
    example_params: ClassVar[dict[str, Any]] = {}

    @classmethod
    def timing_dependence(cls, params: Any, topology: Topology) -> str | None:
        """No messages: each site takes its own steps whatever the network.  (An evaluation sees every site
        after the steps it has started by then; a replay onto other site speeds changes that, and its check of
        the evaluation cuts says so.)"""
        return None

    def setup(self) -> None:
        s = self.session
        for i, worker in enumerate(s.workers):
            s.host(worker, GanWorker, s.setup, i)
        self.steps = dict.fromkeys(s.workers, 0)
        self.live = list(s.workers)

    def start(self) -> None:
        for worker in self.session.workers:
            self.session.spawn(worker, self._train)

    def _train(self, ctx: Context) -> Generator[Event, Any, None]:
        s = self.session
        limit = s.setup.max_iterations
        while not s.should_stop() and (limit is None or self.steps[ctx.node_id] < limit):
            yield ctx.compute("train_step", "train_steps", 1)
            self.steps[ctx.node_id] += 1
            self._catch_up()

    def _catch_up(self) -> None:
        """Complete the iterations every live site has now taken."""
        s = self.session
        while s.iteration < min(self.steps[w] for w in self.live):
            s.complete_iteration()

    def node_crashed(self, node: str, t_s: float) -> str | None:
        """Skip the crashed site; stop once none is left."""
        if node in self.live:
            self.live.remove(node)
        if not self.live:
            return f"crashed: every site (the last, {node}, at {t_s:g}s)"
        self._catch_up()
        return None

    def expected_payload_nbytes(self) -> dict[str, int]:
        """Nothing crosses the network."""
        return {}

    def _sites(self) -> list[str]:
        return self.live or self.session.workers

    def generators(self) -> dict[str, Any]:
        return {worker: self.snapshot_of(worker) for worker in self._sites()}

    def lr_probes(self) -> list[Any]:
        return self.probes_of(self._sites())

    def footing(self) -> dict[str, Any]:
        sites = len(self.session.workers)
        return {"update_order": self.session.setup.training.update_order,
                "iteration": "one local step at every site (each site trains its own G and D)",
                "g_steps_per_iteration": sites, "d_steps_per_iteration": sites}
