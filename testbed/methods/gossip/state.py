"""What lives on an executor for gossip averaging: a worker that trains alone and mixes in its neighbours.

A :class:`GossipWorker` is a :class:`~testbed.methods.common.worker.GanWorker` (its shard, its own G and D,
its RNGs) that can hand out its models and replace them by a weighted mix of its own and its neighbours'.
What travels is G's snapshot -- parameters *and* BatchNorm running statistics, averaged with the same
weights, as FedAvg does, so every worker's G can be sampled in eval mode with statistics that belong to
its averaged parameters -- and D's parameters (D runs only in training mode: its statistics never
travel).  Each worker keeps its own Adam moments through a mix (they are the worker's; Lian et al.
analyse plain SGD).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from testbed.gan import average_params, set_buffers
from testbed.methods.common.worker import GanWorker


class GossipWorker(GanWorker):
    """A D-PSGD worker: local steps (GanWorker.train_steps), then a weighted mix with its neighbours."""

    calibration_units: ClassVar[dict[str, float]] = {"gossip_average": 2.0}  # a calibration mix holds two models

    def models(self) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
        """(G's snapshot: parameters and BatchNorm statistics, D's parameters): what a neighbour receives."""
        return self.generator_snapshot(), self.get_d()

    def mix(self, own_weight: float, weights: list[float], *models: Any) -> int:
        """Replace G (parameters and statistics) and D by ``own_weight`` x this worker's plus the weighted sum
        of the neighbours' ``[g_1, d_1, g_2, d_2, ...]`` (the weights sum to 1); returns the models mixed."""
        g_models = [self.generator_snapshot(), *models[0::2]]
        d_models = [self.get_d(), *models[1::2]]
        w = [own_weight, *weights]
        self.set_g(average_params([m["params"] for m in g_models], w))
        set_buffers(self.state.G, average_params([m["buffers"] for m in g_models], w))
        self.set_d(average_params(d_models, w))
        return len(w)

    def calibration_tasks(self) -> dict[str, Callable[[], Any]]:
        g, d = self.models()
        return {**super().calibration_tasks(), "gossip_average": lambda: self.mix(0.5, [0.5], g, d)}
