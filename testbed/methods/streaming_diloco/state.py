"""What lives on an executor for Streaming DiLoCo: a replica (a worker that keeps training) and the server.

A :class:`Replica` is a :class:`~testbed.methods.common.worker.GanWorker` whose G, D and inner Adam
persist across outer steps (DiLoCo's inner optimiser state is never reset).  Per fragment p it keeps
the *anchor*: the global value of p it last merged (at first, the seeded initial model every node
shares).  Its outer gradient for p is anchor_p - local_p; when the new global value arrives it merges
local_p <- alpha local_p + (1 - alpha) global_p (alpha = ``mixing``; 0 replaces, as DiLoCo does) and
takes global_p as its anchor.

The :class:`OuterServer` holds the global G (parameters and BatchNorm statistics) and D, and per
fragment one outer step: Delta = the n_k-weighted mean of the replicas' outer gradients, then x <-
x - lr (Delta + mu b) with b <- mu b + Delta (DiLoCo's Nesterov step, testbed.methods.fedavg.
server_optimizers, one state per fragment) on parameters; BatchNorm statistics take x <- x - Delta,
i.e. the replicas' mean.  Float64 inside, float32 on the wire.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from testbed.compression.endpoint import WireEndpoint
from testbed.methods.common.setup import NodeSetup
from testbed.methods.common.timing import Calibrated
from testbed.methods.common.worker import GanWorker
from testbed.methods.fedavg.server_optimizers import ServerOptimizerSpec, build
from testbed.methods.streaming_diloco.fragments import fragment_layout, module_parts


class Replica(GanWorker):
    """A DiLoCo replica: persistent G, D and Adam; per fragment, the global value it last merged."""

    def __init__(self, setup: NodeSetup, index: int, fragments: int, mixing: float, device: str = "cpu") -> None:
        super().__init__(setup, index, device)
        self.layout = fragment_layout(setup, fragments)
        self.mixing = mixing
        parts = module_parts(self.state.G, self.state.D)
        self.anchor = [self.layout.gather(p, parts) for p in range(fragments)]

    def outer_gradient(self, p: int) -> np.ndarray:
        """anchor_p - local_p (float32): how far the inner steps since the last merge moved fragment ``p``."""
        local = self.layout.gather(p, module_parts(self.state.G, self.state.D))
        return (self.anchor[p] - local).astype(np.float32)

    def merge(self, p: int, global_vector: np.ndarray) -> None:
        """local_p <- alpha local_p + (1 - alpha) global_p; the anchor becomes global_p."""
        global_vector = np.asarray(global_vector, np.float32)
        if self.mixing:
            local = self.layout.gather(p, module_parts(self.state.G, self.state.D)).astype(np.float64)
            merged = (self.mixing * local + (1.0 - self.mixing) * global_vector.astype(np.float64)).astype(np.float32)
        else:
            merged = global_vector
        self.layout.write_modules(p, merged, self.state.G, self.state.D)
        self.anchor[p] = global_vector.copy()


class OuterServer(Calibrated, WireEndpoint):
    """The global model and one outer optimiser state per fragment."""

    calibration_units: ClassVar[dict[str, float]] = {"average": 2.0}  # one calibration step averages two replicas

    def __init__(self, setup: NodeSetup, fragments: int, outer: ServerOptimizerSpec, device: str = "cpu") -> None:
        state = setup.gan_state("cpu")
        self.layout = fragment_layout(setup, fragments)
        self.parts = module_parts(state.G, state.D)
        self.outer = outer
        self.optimizer = build(outer)
        self.steps = [0] * fragments

    def outer_step(self, p: int, weights: list[float], *grads: np.ndarray) -> np.ndarray:
        """Apply the replicas' outer gradients ``grads`` (weighted by ``weights``) to fragment ``p``; returns its
        new global value (what every replica merges)."""
        w = np.asarray(weights, np.float64) / float(np.sum(weights))
        delta = np.zeros(self.layout.numel(p), np.float64)
        for wk, grad in zip(w, grads, strict=True):
            delta += wk * np.asarray(grad, np.float64)
        x = self.layout.gather(p, self.parts).astype(np.float64)
        mask = self.layout.optimised(p)
        new = x - delta  # BatchNorm statistics: the replicas' mean
        if self.optimizer is not None and mask.any():
            new[mask] = x[mask] - self.outer.lr * self.optimizer.direction(f"fragment{p}", delta[mask])
        elif mask.any():
            new[mask] = x[mask] - self.outer.lr * delta[mask]
        vector = new.astype(np.float32)
        self.layout.scatter(p, vector, self.parts)
        self.steps[p] += 1
        return vector

    def generator_snapshot(self) -> dict[str, dict[str, np.ndarray]]:
        """The global G: parameters and BatchNorm statistics, as the fragments last left them."""
        return {"params": dict(self.parts["g"]), "buffers": dict(self.parts["g_bn"])}

    def params(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The global (G snapshot, D parameters)."""
        return self.generator_snapshot(), dict(self.parts["d"])

    def calibration_tasks(self) -> dict[str, Any]:
        zero = np.zeros(self.layout.numel(0), np.float32)
        return {"average": lambda: self.outer_step(0, [1.0, 1.0], zero, zero)}
