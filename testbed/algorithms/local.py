"""``local``: every site trains its own GAN on its own data -- no traffic at all.

The lower bound of the comparison ("each site alone"): a site is a worker, so
a non-IID partition leaves each generator seeing only its own classes.  Each
worker takes ``max_iterations`` training steps (one D step + one G step); the
run's iteration is the slowest worker's step count, and the reported quality is
the mean over all sites' generators (``<metric>_std``: their spread).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from testbed.algorithms import register
from testbed.algorithms.base import Algorithm
from testbed.engine import NodeContext
from testbed.nodes.worker import GanWorker


@register("local")
class Local(Algorithm):
    """Independent training at every worker."""

    task_kinds = ("train_step",)
    update_orders = ("alternating", "simultaneous")

    def setup(self) -> None:
        for i, worker in enumerate(self.run.workers):
            self.run.executor.host(worker, GanWorker, self.run.setup, i)
        self.steps = dict.fromkeys(self.run.workers, 0)

    def start(self) -> None:
        for worker in self.run.workers:
            self.run.engine.spawn(worker, self._train)

    def _train(self, ctx: NodeContext) -> Generator[simpy.Event, Any, None]:
        limit = self.run.spec.max_iterations
        while not self.run.should_stop() and (limit is None or self.steps[ctx.node_id] < limit):
            yield ctx.compute("train_step", "train_steps", 1)
            before = min(self.steps.values())
            self.steps[ctx.node_id] += 1
            if min(self.steps.values()) > before:
                self.run.complete_iteration()

    def generators(self) -> dict[str, Any]:
        return {worker: self.snapshot_of(worker) for worker in self.run.workers}

    def lr_probes(self) -> list[Any]:
        return self.probes_of(self.run.workers)

    def footing(self) -> dict[str, Any]:
        sites = len(self.run.workers)
        return {"update_order": self.run.setup.training.update_order,
                "iteration": "one local step at every site (each site trains its own G and D)",
                "g_steps_per_iteration": sites, "d_steps_per_iteration": sites}
