"""Finite or stopped: the one check that a value holds no NaN or infinity.

Why: settings inside every declared range can still diverge (a large lr with ``beta2: 0``); such a
run used to end ``complete`` with every weight NaN and metrics that looked ordinary.  Three places
ask this module, so there is one rule and one wording:

* the engine, for every message a node sends (``Executor.check_finite``: the in-process executors
  look at the value they already hold, a computed value once however many nodes it is sent to;
  Ray's actors keep their values, so there the evaluation check below is what stops a run);
* the run, at every evaluation, for every generator it scores (parameters and buffers);
* ``python -m testbed sample``, for a saved generator.

A hit raises :class:`NonFiniteError` naming where (``a grads_d message from a/w0 to a/ps0
(net.0.weight)``); the run turns it into
``stop_reason: diverged: <where> at iteration N``.  Cost: one BLAS dot product per float array -- ``x . x``
is finite unless an entry is NaN or infinite (or it overflows, which is then settled entry by entry) --
no copies, no per-entry Python work (benchmarks/finite_checks.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


class NonFiniteError(ArithmeticError):
    """A value that must be finite is not; ``where`` says which (a message, a generator, an entry)."""

    def __init__(self, where: str) -> None:
        self.where = where
        super().__init__(where)


def _array_finite(value: np.ndarray) -> bool:
    kind = value.dtype.kind
    if kind not in "fc" or value.size == 0:
        return True
    flat = value.ravel()
    # x . x (one BLAS call, ~3x cheaper than a sum) is NaN or infinite iff an entry is -- or it overflows
    if math.isfinite(np.dot(flat, flat) if kind == "f" else abs(complex(np.vdot(flat, flat)))):
        return True
    return bool(np.isfinite(value).all())  # NaN/inf, or only an overflowing product of finite entries


def _tensor_finite(value: Any) -> bool:
    if not value.is_floating_point() or value.numel() == 0:
        return True
    if math.isfinite(float(value.detach().sum().abs().item())):
        return True
    return bool(value.detach().isfinite().all().item())


def first_non_finite(value: Any, path: str = "") -> str | None:
    """The path (``params/net.0.weight``, ``[2]``; ``""`` for ``value`` itself) of the first NaN or infinite
    number in ``value``, or None when every number is finite.

    ``value``: numpy arrays, torch tensors, Python or numpy floats, and mappings, lists and tuples of
    them at any depth; anything else (bytes, integers, text) is finite by definition."""
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing x . x is settled entry by entry
        return _first_non_finite(value, path)


def _first_non_finite(value: Any, path: str) -> str | None:
    if type(value) is dict and all(type(v) is np.ndarray for v in value.values()):  # the common payload
        for key, item in value.items():
            if not _array_finite(item):
                return f"{path}/{key}" if path else str(key)
        return None
    if isinstance(value, np.ndarray):
        return None if _array_finite(value) else path
    if isinstance(value, (float, np.floating)):
        return None if math.isfinite(value) else path
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _first_non_finite(item, f"{path}/{key}" if path else str(key))
            if found is not None:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _first_non_finite(item, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    if hasattr(value, "is_floating_point") and hasattr(value, "numel"):  # a torch tensor (torch not imported)
        return None if _tensor_finite(value) else path
    return None


def require_finite(value: Any, what: str) -> None:
    """Raise :class:`NonFiniteError` (``"<what> (<path>)"``) unless every number in ``value`` is finite."""
    found = first_non_finite(value)
    if found is not None:
        raise NonFiniteError(f"{what} ({found})" if found else what)
