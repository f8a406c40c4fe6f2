"""Server-side states: a parameter-server shard and a model aggregator.

A :class:`ParamShard` owns one contiguous key range of the flat ``[G; D]`` vector
(Li et al.'s key ranges) with its own Adam state, and applies pushed gradients;
an :class:`Aggregator` holds a whole model pair and averages client models
(FedAvg, weighted by n_k).  Both start from the same seeded G and D as workers.

The aggregator's G travels as a snapshot -- parameters *and* BatchNorm running
statistics -- and averages both weighted by n_k (the usual FedAvg treatment of
BN buffers), so the server holds a generator that can be sampled in eval mode.
D's buffers do not travel: D only ever runs in training mode (batch statistics),
so its running statistics are never read (and the shipped discriminators have none).
"""

from __future__ import annotations

import copy
import itertools
import statistics
import time

import numpy as np
import torch

from testbed.gan import average_params, flatten, generator_snapshot, get_params, unflatten
from testbed.nodes.setup import NodeSetup, optimizer_lr, scale_lr


def shard_ranges(total: int, shards: int) -> list[tuple[int, int]]:
    """Split ``range(total)`` into ``shards`` contiguous, near-equal key ranges."""
    edges = [round(i * total / shards) for i in range(shards + 1)]
    return list(itertools.pairwise(edges))


class ParamShard:
    """Keys ``[lo, hi)`` of the flat ``[G; D]`` parameter vector, with Adam."""

    def __init__(self, setup: NodeSetup, lo: int, hi: int, device: str = "cpu") -> None:
        state = setup.gan_state("cpu")
        flat_g, flat_d = flatten(get_params(state.G)), flatten(get_params(state.D))
        self.n_g = len(flat_g)
        self.lo, self.hi = lo, hi
        full = np.concatenate([flat_g, flat_d])
        g_hi = min(hi, self.n_g)
        d_lo = max(lo, self.n_g)
        self.g = torch.nn.Parameter(torch.as_tensor(full[lo:g_hi].copy(), device=device)) if lo < g_hi else None
        self.d = torch.nn.Parameter(torch.as_tensor(full[d_lo:hi].copy(), device=device)) if d_lo < hi else None
        t = setup.training
        groups = [{"params": [p], "lr": lr} for p, lr in ((self.g, t.lr_g), (self.d, t.lr_d)) if p is not None]
        self.opt = torch.optim.Adam(groups, betas=(t.beta1, t.beta2))
        self._base_lrs = [g["lr"] for g in groups]
        self._groups = [name for name, p in (("lr_g", self.g), ("lr_d", self.d)) if p is not None]
        self.setup = setup
        self.version = 0

    def segments(self) -> tuple[np.ndarray, np.ndarray]:
        """This shard's (G part, D part) of the current parameters (either may be empty)."""
        return _numpy(self.g), _numpy(self.d)

    def g_segment(self) -> np.ndarray:
        """This shard's part of G (for evaluating the current generator)."""
        return _numpy(self.g)

    def apply(self, *pushes: np.ndarray) -> int:
        """Average pushed gradients ``[g_w0, d_w0, g_w1, d_w1, ...]`` and take one Adam step at the
        learning rate of update number ``version`` (the parameter server's iteration unit)."""
        return self._step(self.version, pushes)

    def _step(self, lr_step: int, pushes: tuple[np.ndarray, ...]) -> int:
        g_pushes, d_pushes = pushes[0::2], pushes[1::2]
        for param, grads in ((self.g, g_pushes), (self.d, d_pushes)):
            if param is not None:
                param.grad = torch.as_tensor(np.mean(np.stack(grads), axis=0), device=param.device)
        scale_lr(self.opt, self._base_lrs, self.setup.lr_scale(lr_step))
        self.opt.step()
        self.version += 1
        return self.version

    def current_lrs(self) -> dict[str, float | None]:
        """The rates in this shard's Adam now (None for a net it holds no part of)."""
        lrs: dict[str, float | None] = {"lr_g": None, "lr_d": None}
        lrs.update({name: optimizer_lr(self.opt, i) for i, name in enumerate(self._groups)})
        return lrs

    def time_task(self, kind: str, repeats: int = 3) -> float:
        """Median seconds of one ``server_update`` (averaging 4 pushes + Adam) on a copy."""
        if kind != "server_update":
            raise KeyError(f"a parameter shard cannot time task kind {kind!r}")
        probe = copy.deepcopy(self)
        g, d = probe.segments()
        return _median_time(lambda: probe.apply(*([g, d] * 4)), repeats)


class Aggregator:
    """The FedAvg server's model pair; averages client models weighted by data size."""

    def __init__(self, setup: NodeSetup, device: str = "cpu") -> None:
        state = setup.gan_state("cpu")
        self.g, self.d = generator_snapshot(state.G), get_params(state.D)

    def params(self) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
        """The global (G snapshot, D parameters)."""
        return self.g, self.d

    def generator_snapshot(self) -> dict[str, dict[str, np.ndarray]]:
        """The global G: averaged parameters and averaged BatchNorm statistics."""
        return self.g

    def average(self, weights: list[float], *models: dict[str, np.ndarray]) -> int:
        """Set the global G (parameters and buffers) and D to the weighted average of
        ``[g_0, d_0, g_1, d_1, ...]`` (G entries are snapshots)."""
        snapshots = list(models[0::2])
        self.g = {"params": average_params([m["params"] for m in snapshots], weights),
                  "buffers": average_params([m["buffers"] for m in snapshots], weights)}
        self.d = average_params(list(models[1::2]), weights)
        return len(weights)

    def time_task(self, kind: str, repeats: int = 3) -> float:
        """Median seconds of averaging one client's pair into the model (``average``)."""
        if kind != "average":
            raise KeyError(f"an aggregator cannot time task kind {kind!r}")
        probe = copy.deepcopy(self)
        return _median_time(lambda: probe.average([1.0, 1.0], probe.g, probe.d, probe.g, probe.d), repeats) / 2


def _numpy(param: torch.nn.Parameter | None) -> np.ndarray:
    if param is None:
        return np.zeros(0, dtype=np.float32)
    return param.detach().cpu().numpy().copy()


def _median_time(task: object, repeats: int) -> float:
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        task()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


__all__ = ["Aggregator", "ParamShard", "shard_ranges", "unflatten"]
