"""A module's parameters as one flat float32 vector: load it in place, read gradients out as one buffer.

The parameter-server wire format is the flat ``[G; D]`` vector cut into key ranges.  Going
through ``{name: array}`` dicts for it (``unflatten`` + ``set_params``, a ``get_params`` copy
made only for the shapes, one ``astype`` copy per gradient and a ``flatten`` to concatenate
them) costs several copies and dict builds per step; these helpers do the same with one copy in
(each received segment straight into the parameters it covers) and one buffer out (the
gradients concatenated by torch, handed to numpy without a further copy).  The values are the
same to the bit: only float32 copies are involved (tests/test_flat_params.py).

On the CPU both go through numpy views of the parameters' (and gradients') own memory: a slice
assignment per parameter costs a fraction of a torch dispatch (``split`` + ``_foreach_copy_``, ``cat``),
and right after a training step, when the interpreter's caches are cold, about a third of it.  Several
received pieces (one per shard) are copied straight into the parameters they cover, with no
concatenation; the plan of which piece goes where is worked out once per set of piece sizes.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class FlatLayout:
    """The parameters of ``module`` in ``named_parameters`` order, with their spans in the flat vector.

    Built once per node state and reused every step (the name/shape list ``unflatten`` would
    otherwise rebuild from a ``get_params`` copy)."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.params = [p for _, p in module.named_parameters()]
        ends = np.cumsum([p.numel() for p in self.params], dtype=np.int64)
        self.spans = list(zip([0, *ends[:-1].tolist()], ends.tolist(), strict=True))
        self.numel = int(ends[-1]) if len(ends) else 0
        self._numels = [p.numel() for p in self.params]
        self._targets = [p.detach().view(-1) for p in self.params]  # the parameters' own memory, flat
        on_cpu = all(p.device.type == "cpu" and p.dtype == torch.float32 for p in self.params)
        self._views = [t.numpy() for t in self._targets] if on_cpu else None  # the same memory, as numpy
        self._plans: dict[tuple[int, ...], list[tuple[np.ndarray, int, int, int]]] = {}

    def __deepcopy__(self, memo: dict[int, object]) -> FlatLayout:
        # rebuilt on the copied module: copied flat views would no longer share the copied parameters' memory
        return FlatLayout(copy.deepcopy(self.module, memo))

    def load(self, parts: Sequence[np.ndarray]) -> None:
        """Copy consecutive pieces of the flat vector (e.g. one per shard) into the parameters."""
        parts = [np.asarray(part, np.float32).reshape(-1) for part in parts]
        sizes = tuple(len(part) for part in parts)
        if sum(sizes) != self.numel:
            raise ValueError(f"segments hold {sum(sizes)} values, the module has {self.numel} parameters")
        if self._views is None:
            vector = parts[0] if len(parts) == 1 else np.concatenate(parts)
            if self.params:
                torch._foreach_copy_(self._targets, torch.split(torch.as_tensor(vector, device=self._device()),
                                                                self._numels))
            return
        plan = self._plans.get(sizes)
        if plan is None:
            plan = self._plans[sizes] = self._plan(sizes)
        for target, part, lo, hi in plan:
            target[:] = parts[part][lo:hi]
        torch.autograd.graph.increment_version(self._targets)  # as _foreach_copy_ would: in-place writes are seen

    def _plan(self, sizes: tuple[int, ...]) -> list[tuple[np.ndarray, int, int, int]]:
        """(parameter view or a slice of it, piece index, start, end in the piece) for pieces of ``sizes``."""
        starts = np.cumsum([0, *sizes]).tolist()
        plan = []
        for view, (p_lo, p_hi) in zip(self._views or [], self.spans, strict=True):
            for part, (s_lo, s_hi) in enumerate(itertools.pairwise(starts)):
                lo, hi = max(p_lo, s_lo), min(p_hi, s_hi)
                if lo < hi:
                    plan.append((view[lo - p_lo:hi - p_lo], part, lo - s_lo, hi - s_lo))
        return plan

    def _device(self) -> torch.device:
        return self.params[0].device if self.params else torch.device("cpu")

    def vector(self) -> np.ndarray:
        """A float32 copy of the parameters as one flat vector (``flatten(get_params(module))``)."""
        with torch.no_grad():
            return _to_numpy(torch.cat([p.detach().reshape(-1) for p in self.params]))

    def grad_vector(self, loss: torch.Tensor) -> np.ndarray:
        """d loss / d parameters as one fresh float32 vector (zeros where a parameter gets none)."""
        if not self.params:
            return np.zeros(0, np.float32)
        return self.concat(torch.autograd.grad(loss, self.params, allow_unused=True))

    def concat(self, grads: Sequence[torch.Tensor | None]) -> np.ndarray:
        """Per-parameter gradients (None: zeros) as one fresh float32 vector."""
        if self._views is None or any(g is not None and g.dtype != torch.float32 for g in grads):
            return _to_numpy(torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1)
                                        for p, g in zip(self.params, grads, strict=True)]))
        return np.concatenate([np.zeros(n, np.float32) if g is None else (g.detach() if g.requires_grad else g).numpy()
                               .reshape(-1) for n, g in zip(self._numels, grads, strict=True)])


def _to_numpy(flat: torch.Tensor) -> np.ndarray:
    # torch.cat made a fresh tensor that nothing else holds, so the array may share its memory
    return flat.detach().cpu().numpy().astype(np.float32, copy=False)
