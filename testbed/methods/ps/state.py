"""What lives on an executor for a parameter server: a key-range shard, and a worker that pushes gradients.

A :class:`ParamShard` owns one contiguous key range of the flat ``[G; D]`` vector (Li et
al.'s key ranges) with its own optimiser state (Adam, or SGD with momentum:
testbed.methods.ps.shard_optimizer) and applies pushed gradients; a :class:`PsWorker`
receives parameter segments, computes G's and D's gradients on a local batch, and cuts them
the same way.  Both start from the same seeded G and D.  Gaia's datacenter server and the
centralised baseline build on these two.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from testbed.compression.endpoint import WireEndpoint
from testbed.gan import batched, flatten, get_params, sample_latent
from testbed.gan.flat import FlatLayout
from testbed.gan.steps import d_grad_vector, g_grad_vector
from testbed.methods.common.setup import NodeSetup, optimizer_lr, scale_lr
from testbed.methods.common.timing import Calibrated
from testbed.methods.common.worker import GanWorker, by_batch_size
from testbed.methods.ps.shard_optimizer import make_shard_optimizer


def shard_ranges(total: int, shards: int) -> list[tuple[int, int]]:
    """Split ``range(total)`` into ``shards`` contiguous, near-equal key ranges."""
    edges = [round(i * total / shards) for i in range(shards + 1)]
    return list(itertools.pairwise(edges))


class ParamShard(Calibrated, WireEndpoint):
    """Keys ``[lo, hi)`` of the flat ``[G; D]`` parameter vector, with its ``optimizer`` (adam | sgd, with
    ``momentum`` for sgd)."""

    def __init__(self, setup: NodeSetup, lo: int, hi: int, device: str = "cpu", optimizer: str = "adam",
                 momentum: float | None = None) -> None:
        state = setup.gan_state("cpu")
        flat_g, flat_d = flatten(get_params(state.G)), flatten(get_params(state.D))
        self.n_g = len(flat_g)
        self.lo, self.hi = lo, hi
        self.device = device
        full = np.concatenate([flat_g, flat_d])
        g_hi = min(hi, self.n_g)
        d_lo = max(lo, self.n_g)
        self.g = torch.nn.Parameter(torch.as_tensor(full[lo:g_hi].copy(), device=device)) if lo < g_hi else None
        self.d = torch.nn.Parameter(torch.as_tensor(full[d_lo:hi].copy(), device=device)) if d_lo < hi else None
        t = setup.training
        groups = [{"params": [p], "lr": lr} for p, lr in ((self.g, t.lr_g), (self.d, t.lr_d)) if p is not None]
        self.opt = make_shard_optimizer(groups, t, optimizer, momentum)
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
        """Average pushed gradients ``[g_w0, d_w0, g_w1, d_w1, ...]`` and take one optimiser step at the
        learning rate of update number ``version`` (the parameter server's iteration unit)."""
        return self._step(self.version, pushes)

    def _step(self, lr_step: int, pushes: tuple[np.ndarray, ...]) -> int:
        g_pushes, d_pushes = pushes[0::2], pushes[1::2]
        for param, grads in ((self.g, g_pushes), (self.d, d_pushes)):
            if param is None:
                continue
            if all(type(g) is np.ndarray and g.dtype == np.float32 and g.shape == grads[0].shape for g in grads):
                # np.mean(np.stack(grads), axis=0) to the bit (numpy adds the rows in order onto zeros, then
                # divides by the count as an intp), without stacking the pushes into a copy first
                mean = np.zeros(grads[0].shape, np.float32)
                for grad in grads:
                    np.add(mean, grad, out=mean)
                np.divide(mean, np.intp(len(grads)), out=mean, casting="unsafe")
            else:
                mean = np.mean(np.stack(grads), axis=0)
            param.grad = torch.as_tensor(mean, device=param.device)
        scale_lr(self.opt, self._base_lrs, self.setup.lr_scale(lr_step))
        self.opt.step()
        self.version += 1
        return self.version

    def current_lrs(self) -> dict[str, float | None]:
        """The rates in this shard's optimiser now, read back from it (None for a net it holds no part of)."""
        lrs: dict[str, float | None] = {"lr_g": None, "lr_d": None}
        lrs.update({name: optimizer_lr(self.opt, i) for i, name in enumerate(self._groups)})
        return lrs

    def calibration_tasks(self) -> dict[str, Callable[[], Any]]:
        g, d = self.segments()
        return {"server_update": lambda: self.apply(*([g, d] * 4))}  # averaging 4 pushes + a step


class PsWorker(GanWorker):
    """A worker that computes gradients for parameter segments it is sent (ps, gaia, centralized)."""

    def __init__(self, setup: NodeSetup, index: int, device: str = "cpu") -> None:
        super().__init__(setup, index, device)
        self._layouts: tuple[FlatLayout, FlatLayout] | None = None  # G's and D's, for the state they index

    def layouts(self) -> tuple[FlatLayout, FlatLayout]:
        """G's and D's flat layouts, built once for the current state (rebuilt if the state is replaced)."""
        if self._layouts is None or self._layouts[0].module is not self.state.G \
                or self._layouts[1].module is not self.state.D:
            self._layouts = FlatLayout(self.state.G), FlatLayout(self.state.D)
        return self._layouts

    def flat_grads(self, *segments: np.ndarray) -> list[np.ndarray]:
        """PS step: params arrive as ``[g_0, d_0, g_1, d_1, ...]`` segments of the flat [G; D]
        vectors from each shard; returns the G and D gradients cut the same way.

        The segments are copied straight into G's and D's parameters and the gradients come out
        as one flat vector each (testbed.gan.flat): the same values as going through
        ``unflatten`` + ``set_params`` and ``flatten(d_grads(...))``, with a fraction of the copies."""
        g_parts, d_parts = segments[0::2], segments[1::2]
        layout_g, layout_d = self.layouts()
        layout_g.load(g_parts)
        layout_d.load(d_parts)
        t = self.setup.training
        flat_d = d_grad_vector(self.state, layout_d, self._batch(), r1_gamma=t.r1_gamma, generator=self.gen)
        flat_g = g_grad_vector(self.state, layout_g, t.batch_size, self.gen)
        return _cut(segments, flat_g, flat_d)

    @classmethod
    def batched_flat_grads(cls, workers: Sequence[PsWorker],
                           calls: Sequence[tuple[tuple, dict[str, Any]]]) -> list[list[np.ndarray]] | None:
        """:meth:`flat_grads` of several workers as one vmapped computation (testbed.gan.batched), or None
        (the executor then runs them one by one) when their batches or settings differ.  Each worker
        loads its own segments and draws its batch and noise from its own generators in the unbatched order;
        one computation per batch size (testbed.methods.common.worker.by_batch_size)."""
        return by_batch_size(workers, calls, "flat_grads", cls._batched_flat_grads)

    @classmethod
    def _batched_flat_grads(cls, workers: Sequence[PsWorker],
                            calls: Sequence[tuple[tuple, dict[str, Any]]]) -> list[list[np.ndarray]] | None:
        t = workers[0].setup.training
        if any(kwargs for _, kwargs in calls) or any(w.setup.training != t for w in workers) \
                or not batched.supported([w.state for w in workers]):
            return None
        reals, z_d, z_g = [], [], []
        for w, (segments, _) in zip(workers, calls, strict=True):
            layout_g, layout_d = w.layouts()
            layout_g.load(segments[0::2])
            layout_d.load(segments[1::2])
            reals.append(w._batch())
            z_d.append(sample_latent(reals[-1].shape[0], w.state.latent_dim, w.gen))
            z_g.append(sample_latent(t.batch_size, w.state.latent_dim, w.gen))
        flat_g, flat_d = batched.gradients([w.state for w in workers], torch.stack(reals), torch.stack(z_d),
                                           torch.stack(z_g), t.r1_gamma)
        return [_cut(segments, g, d) for (segments, _), g, d in zip(calls, flat_g, flat_d, strict=True)]

    def calibration_tasks(self) -> dict[str, Callable[[], Any]]:
        g_seg, d_seg = flatten(self.get_g()), flatten(self.get_d())
        return {**super().calibration_tasks(), "grad_step": lambda: self.flat_grads(g_seg, d_seg)}


def _cut(segments: Sequence[np.ndarray], flat_g: np.ndarray, flat_d: np.ndarray) -> list[np.ndarray]:
    """Flat G and D gradients cut as the received ``[g_0, d_0, g_1, d_1, ...]`` segments are."""
    out: list[np.ndarray] = []
    g_at = d_at = 0
    for g_part, d_part in zip(segments[0::2], segments[1::2], strict=True):
        out.append(flat_g[g_at:g_at + len(g_part)])
        out.append(flat_d[d_at:d_at + len(d_part)])
        g_at += len(g_part)
        d_at += len(d_part)
    return out


def _numpy(param: torch.nn.Parameter | None) -> np.ndarray:
    if param is None:
        return np.zeros(0, dtype=np.float32)
    return param.detach().cpu().numpy().copy()
