"""The model cut into P fragments that are synchronised one at a time (Streaming DiLoCo's "strided" pattern).

Why: Streaming DiLoCo (Douillard et al. 2025) does not exchange the whole model at an outer step but
one fragment of it, each on its own staggered schedule, so the WAN carries P small bursts instead of
one large one.  The paper's fragments are groups of transformer blocks taken with a stride (layer l
in fragment l mod P); here the units are the GAN's layers -- the modules that own parameters or
BatchNorm statistics, G's first, then D's, in ``named_parameters`` order -- and layer l belongs to
fragment l mod P (a layer's weight, bias and statistics stay together).  A fragment travels as one flat
float32 vector of its tensors (G's parameters, G's statistics, D's parameters, each in module order),
so its size, 4 x its entries, is known from the shapes alone (the engine never waits for a value).
BatchNorm statistics are averaged, never stepped by the outer optimiser (:meth:`FragmentLayout.optimised`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from testbed.methods.common.setup import NodeSetup

NETS = ("g", "g_bn", "d")
"""G's parameters, G's floating buffers, D's parameters: the order tensors are numbered in."""


@dataclass(frozen=True)
class Tensor:
    """One tensor of the model: which net part, its name, its shape, and the layer (module) that owns it."""

    part: str
    name: str
    shape: tuple[int, ...]
    layer: int = 0

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


class FragmentLayout:
    """Which tensors form each of ``fragments`` fragments, and how a fragment is read and written."""

    def __init__(self, tensors: list[Tensor], fragments: int) -> None:
        self.tensors = tensors
        self.fragments = fragments
        self.layers = len({t.layer for t in tensors})
        self.members = [[i for i, t in enumerate(tensors) if t.layer % fragments == p] for p in range(fragments)]

    def numel(self, p: int) -> int:
        """Entries of fragment ``p``."""
        return sum(self.tensors[i].numel for i in self.members[p])

    def nbytes(self, p: int) -> int:
        """Bytes of fragment ``p`` on the wire: 4 per entry (float32)."""
        return 4 * self.numel(p)

    def optimised(self, p: int) -> np.ndarray:
        """Per entry of fragment ``p``: True for a parameter (outer optimiser), False for a BatchNorm statistic."""
        return np.concatenate([np.full(self.tensors[i].numel, self.tensors[i].part != "g_bn")
                               for i in self.members[p]] or [np.zeros(0, bool)])

    def gather(self, p: int, parts: dict[str, dict[str, np.ndarray]]) -> np.ndarray:
        """Fragment ``p`` of ``parts`` (``{"g": .., "g_bn": .., "d": ..}`` name -> array) as one float32 vector."""
        pieces = [np.asarray(parts[self.tensors[i].part][self.tensors[i].name], np.float32).reshape(-1)
                  for i in self.members[p]]
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)

    def scatter(self, p: int, vector: np.ndarray, parts: dict[str, dict[str, np.ndarray]]) -> None:
        """Write fragment ``p`` from ``vector`` into ``parts`` (new arrays; the old ones are left alone)."""
        start = 0
        for i in self.members[p]:
            tensor = self.tensors[i]
            parts[tensor.part][tensor.name] = np.asarray(vector[start:start + tensor.numel], np.float32).reshape(
                tensor.shape).copy()
            start += tensor.numel

    def write_modules(self, p: int, vector: np.ndarray, g: nn.Module, d: nn.Module) -> None:
        """Copy fragment ``p`` from ``vector`` straight into the modules' parameters and buffers."""
        own = {"g": dict(g.named_parameters()), "g_bn": dict(g.named_buffers()), "d": dict(d.named_parameters())}
        start = 0
        with torch.no_grad():
            for i in self.members[p]:
                tensor = self.tensors[i]
                target = own[tensor.part][tensor.name]
                target.copy_(torch.as_tensor(vector[start:start + tensor.numel], dtype=target.dtype).reshape(
                    target.shape))
                start += tensor.numel


def module_parts(g: nn.Module, d: nn.Module) -> dict[str, dict[str, np.ndarray]]:
    """G's parameters, G's floating buffers and D's parameters as float32 arrays by name."""
    from testbed.gan import get_buffers, get_params

    return {"g": get_params(g), "g_bn": get_buffers(g), "d": get_params(d)}


@functools.lru_cache(maxsize=8)
def fragment_layout(setup: NodeSetup, fragments: int) -> FragmentLayout:
    """The run's model cut into ``fragments`` strided fragments (built once per process from the shapes)."""
    state = setup.gan_state("cpu")
    parts = module_parts(state.G, state.D)
    layers: dict[tuple[str, str], int] = {}
    for net, module in (("g", state.G), ("d", state.D)):  # layers in module order, G's first
        for name, _ in module.named_parameters():
            layers.setdefault((net, name.rpartition(".")[0]), len(layers))
        for name, _ in module.named_buffers():
            layers.setdefault((net, name.rpartition(".")[0]), len(layers))
    tensors = [Tensor(part, name, tuple(array.shape), layers[(part[0], name.rpartition(".")[0])])
               for part in NETS for name, array in parts[part].items()]
    return FragmentLayout(tensors, fragments)
