"""Parameters and gradients as ``{name: float32 numpy array}`` dicts: the wire format between nodes.

Executors exchange plain numpy dicts (cheap through Ray, trivially sized:
``params_nbytes``), never torch modules, so every algorithm's byte count is the
sum of the arrays it sends.  Dict order is the module's ``named_parameters``
order, which ``flatten``/``unflatten`` rely on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

ParamDict = dict[str, np.ndarray]


def get_params(module: nn.Module) -> ParamDict:
    """A float32 copy of every parameter (buffers such as BN statistics excluded: see get_buffers)."""
    return {name: _numpy_copy(p) for name, p in module.named_parameters()}


def _numpy_copy(tensor: torch.Tensor) -> np.ndarray:
    """A float32 numpy copy of ``tensor`` (a CPU float32 one without the ``cpu()`` and ``astype`` dispatches)."""
    if tensor.dtype == torch.float32 and tensor.device.type == "cpu":
        return tensor.detach().numpy().copy(order="K")  # the layout astype(copy=True) keeps
    return tensor.detach().cpu().numpy().astype(np.float32, copy=True)


def set_params(module: nn.Module, params: ParamDict) -> None:
    """Overwrite ``module``'s parameters in place from a dict with exactly its names and shapes."""
    own = dict(module.named_parameters())
    if set(own) != set(params):
        missing, extra = sorted(set(own) - set(params)), sorted(set(params) - set(own))
        raise KeyError(f"parameter names differ: missing {missing[:3]}, unexpected {extra[:3]}")
    written = []
    with torch.no_grad():
        for name, p in own.items():
            value = params[name]
            if type(value) is np.ndarray and value.dtype == np.float32 and p.dtype == torch.float32 \
                    and p.device.type == "cpu":
                p.detach().numpy()[...] = value.reshape(p.shape)  # the same bits, without three torch dispatches
                written.append(p)
            else:
                p.copy_(torch.as_tensor(value, dtype=p.dtype).reshape(p.shape))
    if written:  # what copy_ does too: a graph that saved these parameters now refuses to run backward
        torch.autograd.graph.increment_version(written)


def get_buffers(module: nn.Module) -> ParamDict:
    """Floating-point buffers (BatchNorm running mean/var) as a dict, for methods that average them."""
    return {name: b.detach().cpu().numpy().astype(np.float32, copy=True)
            for name, b in module.named_buffers() if b.is_floating_point()}


def set_buffers(module: nn.Module, buffers: ParamDict) -> None:
    """Overwrite ``module``'s floating-point buffers from a dict with exactly their names.

    Every floating buffer must be given: a generator evaluated with some of its BatchNorm
    statistics left at their initial values is not the generator that was trained."""
    own = {name: b for name, b in module.named_buffers() if b.is_floating_point()}
    if set(own) != set(buffers):
        missing, extra = sorted(set(own) - set(buffers)), sorted(set(buffers) - set(own))
        raise KeyError(f"buffer names differ: missing {missing[:3]}, unexpected {extra[:3]}")
    with torch.no_grad():
        for name, value in buffers.items():
            own[name].copy_(torch.as_tensor(value, dtype=own[name].dtype).reshape(own[name].shape))


def generator_snapshot(generator: nn.Module) -> dict[str, ParamDict]:
    """What it takes to sample from ``generator`` as it is: ``{"params": ..., "buffers": ...}``.

    Buffers are the BatchNorm running statistics that eval-mode sampling uses; parameters
    alone would leave them at their initial values (mean 0, variance 1)."""
    return {"params": get_params(generator), "buffers": get_buffers(generator)}


def get_grads(module: nn.Module) -> ParamDict:
    """Current ``.grad`` of every parameter (zeros where a parameter got no gradient)."""
    return {name: (np.zeros(tuple(p.shape), np.float32) if p.grad is None
                   else p.grad.detach().cpu().numpy().astype(np.float32, copy=True))
            for name, p in module.named_parameters()}


def set_grads(module: nn.Module, grads: ParamDict) -> None:
    """Set every parameter's ``.grad`` from ``grads`` (e.g. before an optimiser step)."""
    for name, p in module.named_parameters():
        p.grad = torch.as_tensor(grads[name], dtype=p.dtype, device=p.device).reshape(p.shape).clone()


def flatten(params: ParamDict) -> np.ndarray:
    """All arrays concatenated into one float32 vector, in dict order."""
    if not params:
        return np.zeros(0, np.float32)
    return np.concatenate([np.asarray(a, np.float32).reshape(-1) for a in params.values()])


def unflatten(vector: np.ndarray, like: ParamDict) -> ParamDict:
    """Inverse of :func:`flatten`: cut ``vector`` into ``like``'s names and shapes."""
    total = sum(a.size for a in like.values())
    if vector.size != total:
        raise ValueError(f"vector has {vector.size} values, the template needs {total}")
    out, offset = {}, 0
    for name, a in like.items():
        out[name] = np.asarray(vector[offset: offset + a.size], np.float32).reshape(a.shape).copy()
        offset += a.size
    return out


def params_nbytes(params: ParamDict) -> int:
    """Payload size in bytes: the sum of the arrays' ``nbytes``."""
    return int(sum(np.asarray(a).nbytes for a in params.values()))


def count_params(module: nn.Module) -> int:
    """Number of scalar parameters (|G| or |D| in the design's formulas)."""
    return int(sum(p.numel() for p in module.parameters()))


def average_params(dicts: Sequence[ParamDict], weights: Sequence[float] | None = None) -> ParamDict:
    """Weighted average sum_k w_k d_k / sum_k w_k (FedAvg's aggregation; equal weights by default)."""
    if not dicts:
        raise ValueError("average_params needs at least one dict")
    w = np.ones(len(dicts)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(dicts),) or w.sum() <= 0 or np.any(w < 0):
        raise ValueError(f"need {len(dicts)} non-negative weights with a positive sum, got {weights}")
    w = w / w.sum()
    out = {}
    for name in dicts[0]:  # summed in order, one array at a time: the bits of np.sum(stack, axis=0), without the stack
        total = w[0] * np.asarray(dicts[0][name], np.float64)
        for wk, d in zip(w[1:], dicts[1:], strict=True):
            total += wk * np.asarray(d[name], np.float64)
        out[name] = total.astype(np.float32)
    return out
