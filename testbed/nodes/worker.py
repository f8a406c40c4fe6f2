"""A training worker's state: its data shard, its G and D, its RNGs.

One class serves every method (local, centralized, ps, fedavg, and the building
blocks MD-GAN, Gaia and SQ learning reuse): each public method is one task an
algorithm can dispatch.  Parameters go in and out as ``{name: numpy array}``
dicts or flat float32 segments, which is what crosses the (emulated) network.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from typing import Any

import numpy as np
import torch

from testbed.gan import (
    GanState,
    apply_d_grads,
    apply_g_grads,
    d_grads,
    d_step,
    flatten,
    g_grads,
    g_step,
    generator_snapshot,
    get_buffers,
    get_params,
    make_adam,
    set_buffers,
    set_params,
    unflatten,
)
from testbed.nodes.setup import NodeSetup, optimizer_lr, scale_lr


class GanWorker:
    """Worker ``index`` of a run: trains on its own partition."""

    def __init__(self, setup: NodeSetup, index: int, device: str = "cpu") -> None:
        self.setup = setup
        self.index = index
        self.device = device
        data = setup.data()
        idx = setup.shard(index)
        self.x = np.ascontiguousarray(data.x[idx])
        self.y = np.ascontiguousarray(data.y[idx])
        self._x_t = torch.as_tensor(self.x, device=device)
        self._state: GanState | None = None  # built on first use; FedAvg clients release it
        self.steps = 0  # local training steps taken (drives the lr schedule of ``local``)
        self.gen = setup.torch_generator(1 + index, device)
        self.rng = np.random.default_rng(setup.seed * 7919 + index)
        self.last_lrs: dict[str, float | None] | None = None  # rates of the last local training (FedAvg)

    @property
    def state(self) -> GanState:
        """G, D and their optimisers (built on first use from the run's seeded initial models)."""
        if self._state is None:
            self._state = self.setup.gan_state(self.device)
        return self._state

    def release(self) -> None:
        """Drop the model state (stateless federated clients: 10,000 of them fit in memory)."""
        self._state = None

    # -- data ----------------------------------------------------------------------------------
    def num_samples(self) -> int:
        """Local data size n_k (FedAvg weights)."""
        return int(self.x.shape[0])

    def raw_data(self) -> dict[str, np.ndarray]:
        """The partition as stored (what ``centralized`` ships)."""
        return {"x": self.x, "y": self.y}

    def add_data(self, *payloads: dict[str, np.ndarray]) -> int:
        """Append shipped partitions to the local data; returns the new size."""
        self.x = np.concatenate([self.x, *(p["x"] for p in payloads)])
        self.y = np.concatenate([self.y, *(p["y"] for p in payloads)])
        self._x_t = torch.as_tensor(self.x, device=self.device)
        return self.num_samples()

    def _batch(self, batch_size: int | None = None) -> torch.Tensor:
        """A random batch of local samples (``training.batch_size`` unless given), on the device."""
        b = batch_size or self.setup.training.batch_size
        idx = self.rng.integers(0, self.x.shape[0], size=min(b, self.x.shape[0]))
        return self._x_t[torch.as_tensor(idx, device=self.device)]

    # -- local training --------------------------------------------------------------------------
    def train_steps(self, steps: int = 1, lr_factor: float | None = None) -> dict[str, float]:
        """``steps`` local GAN steps (one D and one G update each) in ``training.update_order``:
        *alternating* (D steps, then G steps against the new D) or *simultaneous* (both gradients
        from the same parameters, as a parameter-server worker computes them).  Returns the last losses."""
        stats: dict[str, float] = {}
        t = self.setup.training
        for _ in range(int(steps)):
            factor = self.setup.lr_scale(self.steps) if lr_factor is None else lr_factor
            scale_lr(self.state.opt_d, [t.lr_d], factor)
            scale_lr(self.state.opt_g, [t.lr_g], factor)
            self.steps += 1
            if t.update_order == "simultaneous":
                grad_d, stats = d_grads(self.state, self._batch(), r1_gamma=t.r1_gamma, generator=self.gen)
                grad_g, g_stats = g_grads(self.state, t.batch_size, self.gen)
                apply_d_grads(self.state, grad_d)
                apply_g_grads(self.state, grad_g)
                stats.update(g_stats)
            else:
                stats = d_step(self.state, self._batch(), r1_gamma=t.r1_gamma, generator=self.gen)
                stats.update(g_step(self.state, t.batch_size, self.gen))
        return stats

    # -- what the evaluator and the lr columns read -------------------------------------------------
    def generator_snapshot(self) -> dict[str, dict[str, np.ndarray]]:
        """This worker's G as trained: parameters and BatchNorm running statistics."""
        return generator_snapshot(self.state.G)

    def g_buffers(self) -> dict[str, np.ndarray]:
        """G's BatchNorm running statistics (for a G whose parameters live on PS shards)."""
        return get_buffers(self.state.G)

    def current_lrs(self) -> dict[str, float | None]:
        """The learning rates in G's and D's optimisers now (FedAvg clients: those of their last round)."""
        if self._state is None:
            return dict(self.last_lrs) if self.last_lrs else {"lr_g": None, "lr_d": None}
        return {"lr_g": optimizer_lr(self._state.opt_g), "lr_d": optimizer_lr(self._state.opt_d)}

    def get_g(self) -> dict[str, np.ndarray]:
        return get_params(self.state.G)

    def get_d(self) -> dict[str, np.ndarray]:
        return get_params(self.state.D)

    def fedavg_round(self, g: dict[str, dict[str, np.ndarray]], d: dict[str, np.ndarray], epochs: float,
                     batch_size: int, lr_factor: float = 1.0) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """FedAvg client update: load the global G (parameters and BatchNorm statistics) and D, fresh
        Adam, E local epochs; returns G's snapshot and D's parameters.

        ``lr_factor`` is the server's schedule factor for this round (clients keep no step count)."""
        set_params(self.state.G, g["params"])
        set_buffers(self.state.G, g["buffers"])
        set_params(self.state.D, d)
        t = self.setup.training
        self.state.opt_g = make_adam(self.state.G, t.lr_g, (t.beta1, t.beta2))
        self.state.opt_d = make_adam(self.state.D, t.lr_d, (t.beta1, t.beta2))
        self.train_steps(local_steps(self.num_samples(), epochs, batch_size), lr_factor=lr_factor)
        result = self.generator_snapshot(), self.get_d()
        self.last_lrs = self.current_lrs()
        self.release()  # the next round starts from the server's weights and a fresh Adam anyway
        return result

    # -- gradient pushing (parameter server) ------------------------------------------------------
    def flat_grads(self, *segments: np.ndarray) -> list[np.ndarray]:
        """PS step: params arrive as ``[g_0, d_0, g_1, d_1, ...]`` segments of the flat [G; D]
        vectors from each shard; returns the G and D gradients cut the same way."""
        g_parts, d_parts = segments[0::2], segments[1::2]
        set_params(self.state.G, unflatten(np.concatenate(g_parts), get_params(self.state.G)))
        set_params(self.state.D, unflatten(np.concatenate(d_parts), get_params(self.state.D)))
        grad_d, _ = d_grads(self.state, self._batch(), r1_gamma=self.setup.training.r1_gamma, generator=self.gen)
        grad_g, _ = g_grads(self.state, self.setup.training.batch_size, self.gen)
        flat_g, flat_d = flatten(grad_g), flatten(grad_d)
        out: list[np.ndarray] = []
        g_at = d_at = 0
        for g_part, d_part in zip(g_parts, d_parts, strict=True):
            out.append(flat_g[g_at:g_at + len(g_part)])
            out.append(flat_d[d_at:d_at + len(d_part)])
            g_at += len(g_part)
            d_at += len(d_part)
        return out

    # -- calibration -----------------------------------------------------------------------------
    def time_task(self, kind: str, repeats: int = 3) -> float:
        """Median wall seconds of one task of ``kind`` on this device, on a copy of the state."""
        probe = copy.deepcopy(self)
        g_seg, d_seg = flatten(probe.get_g()), flatten(probe.get_d())
        tasks: dict[str, Any] = {
            "train_step": lambda: probe.train_steps(1),
            "grad_step": lambda: probe.flat_grads(g_seg, d_seg),
        }
        if kind not in tasks:
            raise KeyError(f"a worker cannot time task kind {kind!r}")
        times = []
        for _ in range(repeats + 1):  # the first call warms up
            start = time.perf_counter()
            tasks[kind]()
            if self.device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        return statistics.median(times[1:])


def local_steps(num_samples: int, epochs: float, batch_size: int) -> int:
    """Local steps of a FedAvg round: E epochs of ceil(n_k / B) batches (at least one)."""
    return max(1, math.ceil(epochs * math.ceil(num_samples / batch_size)))
