"""A training worker's state: its data shard, its G and D, its RNGs -- the operations every method shares.

Each public method is one task an algorithm can dispatch; parameters go in and out as
``{name: numpy array}`` dicts, which is what crosses the (emulated) network.  Operations
that belong to one method live in that method's ``state.py`` as a subclass (the parameter
server's gradient push, FedAvg's client round, MD-GAN's D steps, SQ answers, centralised
data shipping), so this class reads as what a worker *is*, not as the union of every protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from testbed.compression.endpoint import WireEndpoint
from testbed.gan import (
    GanState,
    apply_d_grads,
    apply_g_grads,
    batched,
    d_grads,
    d_step,
    g_grads,
    g_step,
    generator_snapshot,
    get_buffers,
    get_params,
    sample_latent,
    set_params,
)
from testbed.methods.common.setup import NodeSetup, optimizer_lr, scale_lr
from testbed.methods.common.timing import Calibrated

BATCHES_AT_ONCE = 16
"""Local batches drawn and gathered in one go by :meth:`GanWorker.train_steps` (bounds the rows held at once)."""


class GanWorker(Calibrated, WireEndpoint):
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

    @property
    def state(self) -> GanState:
        """G, D and their optimisers (built on first use from the run's seeded initial models)."""
        if self._state is None:
            self._state = self.setup.gan_state(self.device)
        return self._state

    # -- data ----------------------------------------------------------------------------------
    def num_samples(self) -> int:
        """Local data size n_k (FedAvg and SQ weights)."""
        return int(self.x.shape[0])

    def _batch(self, batch_size: int | None = None) -> torch.Tensor:
        """A random batch of local samples (``training.batch_size`` unless given), on the device."""
        b = batch_size or self.setup.training.batch_size
        idx = self.rng.integers(0, self.x.shape[0], size=min(b, self.x.shape[0]))
        # index_select gathers the same rows as x[idx] with half the per-call overhead
        return torch.index_select(self._x_t, 0, torch.as_tensor(idx, device=self.device))

    def _batches(self, count: int) -> Iterator[torch.Tensor]:
        """``count`` calls of :meth:`_batch`, the same rows in the same order, drawn up to
        :data:`BATCHES_AT_ONCE` at a time: one ``integers`` call for k batches gives the same indices as k
        calls (a bounded draw takes whole 32-bit or 64-bit outputs of the bit generator, none left over
        between calls), and one gather for k batches the same rows.  Nothing else may draw from ``self.rng``
        while the batches are taken."""
        b = min(self.setup.training.batch_size, self.x.shape[0])
        while count > 0:
            k = min(count, BATCHES_AT_ONCE)
            idx = self.rng.integers(0, self.x.shape[0], size=k * b)
            yield from torch.index_select(self._x_t, 0, torch.as_tensor(idx, device=self.device)).split(b)
            count -= k

    # -- local training --------------------------------------------------------------------------
    def train_steps(self, steps: int = 1, lr_factor: float | None = None) -> dict[str, float]:
        """``steps`` local GAN steps (one D and one G update each) in ``training.update_order``:
        *alternating* (D steps, then G steps against the new D) or *simultaneous* (both gradients
        from the same parameters, as a parameter-server worker computes them).  Returns the last losses."""
        stats: dict[str, float] = {}
        t = self.setup.training
        batches = self._batches(int(steps))
        for _ in range(int(steps)):
            factor = self.setup.lr_scale(self.steps) if lr_factor is None else lr_factor
            scale_lr(self.state.opt_d, [t.lr_d], factor)
            scale_lr(self.state.opt_g, [t.lr_g], factor)
            self.steps += 1
            if t.update_order == "simultaneous":
                grad_d, stats = d_grads(self.state, next(batches), r1_gamma=t.r1_gamma, generator=self.gen)
                grad_g, g_stats = g_grads(self.state, t.batch_size, self.gen)
                apply_d_grads(self.state, grad_d)
                apply_g_grads(self.state, grad_g)
                stats.update(g_stats)
            else:
                stats = d_step(self.state, next(batches), r1_gamma=t.r1_gamma, generator=self.gen)
                stats.update(g_step(self.state, t.batch_size, self.gen))
        return stats

    @classmethod
    def batched_train_steps(cls, workers: Sequence[GanWorker],
                            calls: Sequence[tuple[tuple, dict[str, Any]]]) -> list[dict[str, float]] | None:
        """:meth:`train_steps` of several workers as one vmapped computation (testbed.gan.batched) per
        batch size, or None when they cannot step together (different step counts or settings, an
        optimiser other than plain Adam): the executor then runs the calls one by one.  Each worker draws
        its batch and noise from its own generators in the unbatched order, so results equal the
        unbatched calls'."""
        return by_batch_size(workers, calls, "train_steps", cls._batched_train_steps)

    @classmethod
    def _batched_train_steps(cls, workers: Sequence[GanWorker],
                             calls: Sequence[tuple[tuple, dict[str, Any]]]) -> list[dict[str, float]] | None:
        args = [_train_args(*a, **kw) for a, kw in calls]
        t = workers[0].setup.training
        if len({steps for steps, _ in args}) != 1 or any(w.setup.training != t for w in workers) \
                or not batched.supported([w.state for w in workers]):
            return None
        stats: list[dict[str, float]] = [{} for _ in workers]
        for _ in range(int(args[0][0])):
            reals, z_d, z_g = [], [], []
            for w, (_, lr_factor) in zip(workers, args, strict=True):
                factor = w.setup.lr_scale(w.steps) if lr_factor is None else lr_factor
                scale_lr(w.state.opt_d, [t.lr_d], factor)
                scale_lr(w.state.opt_g, [t.lr_g], factor)
                w.steps += 1
                reals.append(w._batch())
                z_d.append(sample_latent(reals[-1].shape[0], w.state.latent_dim, w.gen))
                z_g.append(sample_latent(t.batch_size, w.state.latent_dim, w.gen))
            stats = batched.train_step([w.state for w in workers], torch.stack(reals), torch.stack(z_d),
                                       torch.stack(z_g), t.r1_gamma, t.update_order == "simultaneous")
        return stats

    # -- what the evaluator and the lr columns read -------------------------------------------------
    def generator_snapshot(self) -> dict[str, dict[str, np.ndarray]]:
        """This worker's G as trained: parameters and BatchNorm running statistics."""
        return generator_snapshot(self.state.G)

    def g_buffers(self) -> dict[str, np.ndarray]:
        """G's BatchNorm running statistics (for a G whose parameters live on PS shards)."""
        return get_buffers(self.state.G)

    def current_lrs(self) -> dict[str, float | None]:
        """The learning rates in G's and D's optimisers now."""
        return {"lr_g": optimizer_lr(self.state.opt_g), "lr_d": optimizer_lr(self.state.opt_d)}

    # -- whole-model reads and writes (a method that moves whole nets: averaging, gossip) -----------
    def get_g(self) -> dict[str, np.ndarray]:
        """G's parameters, by name."""
        return get_params(self.state.G)

    def get_d(self) -> dict[str, np.ndarray]:
        """D's parameters, by name."""
        return get_params(self.state.D)

    def set_g(self, params: dict[str, np.ndarray]) -> None:
        """Overwrite G's parameters (its optimiser state is kept)."""
        set_params(self.state.G, params)

    def set_d(self, params: dict[str, np.ndarray]) -> None:
        """Overwrite D's parameters (its optimiser state is kept)."""
        set_params(self.state.D, params)

    # -- calibration -----------------------------------------------------------------------------
    def calibration_tasks(self) -> dict[str, Callable[[], Any]]:
        return {"train_step": lambda: self.train_steps(1)}


def _train_args(steps: int = 1, lr_factor: float | None = None) -> tuple[int, float | None]:
    """:meth:`GanWorker.train_steps`'s arguments, bound as the method binds them."""
    return steps, lr_factor


def by_batch_size(workers: Sequence[GanWorker], calls: Sequence[tuple[tuple, dict[str, Any]]], method: str,
                  batched_fn: Callable[[Sequence[Any], Sequence[tuple[tuple, dict[str, Any]]]], list | None],
                  ) -> list | None:
    """``batched_fn`` once per batch size among ``workers`` (a shard smaller than ``training.batch_size``
    gives smaller batches, which cannot be stacked with the others).  A batched group's calls are on
    different nodes and independent, so running them size by size equals running them in order; a size
    held by one worker, or one ``batched_fn`` declines, runs ``method`` directly.  None: a single size
    that ``batched_fn`` declined (the executor then runs the calls itself)."""
    sizes = [min(w.setup.training.batch_size, w.x.shape[0]) for w in workers]
    if len(set(sizes)) == 1:
        return batched_fn(workers, calls)
    values: list[Any] = [None] * len(workers)
    for size in dict.fromkeys(sizes):
        idx = [i for i, s in enumerate(sizes) if s == size]
        part = batched_fn([workers[i] for i in idx], [calls[i] for i in idx]) if len(idx) > 1 else None
        if part is None:
            part = [getattr(workers[i], method)(*calls[i][0], **calls[i][1]) for i in idx]
        for i, value in zip(idx, part, strict=True):
            values[i] = value
    return values
