"""FedScale's client behaviour trace -> the testbed's availability CSV (testbed.topology.availability_trace).

Why: FedScale (Lai et al., ICML 2022) ships the availability of 136k phones as a pickled dict, one
entry per client::

    {client_id: {"active": [t, ...], "inactive": [t, ...], "finish_time": T, "duration": .., "model": ..}}

A client is online from ``active[i]`` to ``inactive[i]`` (FedScale's ``Client.isActive`` tests
``active[i] <= t % finish_time <= inactive[i]``), and the pattern repeats with period ``finish_time``.
This module turns that into down intervals -- before the first active window, between windows, after
the last one up to ``finish_time`` -- repeated period after period up to a horizon (default one
period per client), merging intervals that touch.  Clients are numbered 0..C-1 in the order of their
FedScale ids.  The pickle is read with an unpickler that builds only plain containers and numbers (a
pickle can otherwise run code); a JSON file of the same shape is read too.
"""

from __future__ import annotations

import io
import json
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from testbed.core.errors import ConfigError
from testbed.core.fileio import atomic_write

_SAFE_BUILTINS = frozenset({"dict", "list", "tuple", "set", "frozenset", "int", "float", "str", "bool", "complex"})
_NUMPY_SCALARS = frozenset({("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                            ("numpy", "dtype")})


class _PlainUnpickler(pickle.Unpickler):
    """Builds builtin containers, numbers, strings and numpy scalars; refuses every other class."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        if (module, name) in _NUMPY_SCALARS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_fedscale(path: str | Path) -> dict[Any, dict[str, Any]]:
    """The FedScale trace at ``path`` (pickle or JSON) as ``{client_id: {"active", "inactive", "finish_time"}}``."""
    raw = Path(path).read_bytes()
    try:
        data = json.loads(raw) if raw.lstrip()[:1] == b"{" else _PlainUnpickler(io.BytesIO(raw)).load()
    except (pickle.UnpicklingError, json.JSONDecodeError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise ConfigError(path, "--fedscale", f"not a FedScale client behaviour trace ({err})",
                          "give FedScale's client_behave_trace (a pickled dict) or the same as JSON") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(path, "--fedscale", "expected a non-empty mapping client_id -> "
                          "{active, inactive, finish_time}", "give FedScale's client_behave_trace file")
    return data


def down_intervals(data: dict[Any, dict[str, Any]], src: str, horizon_s: float | None = None,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(client index, down_start, down_end) arrays of every client's down intervals, client by client in time
    order, over ``[0, horizon_s)`` (None: each client's own ``finish_time``, one period)."""
    clients: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    for index, client_id in enumerate(sorted(data, key=_sort_key)):
        start, end = _client_down(data[client_id], client_id, src, horizon_s)
        clients.append(np.full(start.shape, index, dtype=np.int64))
        starts.append(start)
        ends.append(end)
    return np.concatenate(clients), np.concatenate(starts), np.concatenate(ends)


def _sort_key(client_id: Any) -> tuple[int, Any]:
    return (0, client_id) if isinstance(client_id, int | float) else (1, str(client_id))


def _client_down(entry: Any, client_id: Any, src: str, horizon_s: float | None) -> tuple[np.ndarray, np.ndarray]:
    fix = "each client needs active and inactive lists of equal length and a finish_time > 0"
    if not isinstance(entry, dict) or not {"active", "inactive", "finish_time"} <= set(entry):
        raise ConfigError(src, f"client {client_id}", "missing active, inactive or finish_time", fix)
    try:
        active = np.asarray(entry["active"], dtype=np.float64).reshape(-1)
        inactive = np.asarray(entry["inactive"], dtype=np.float64).reshape(-1)
        period = float(entry["finish_time"])
    except (TypeError, ValueError):
        raise ConfigError(src, f"client {client_id}", "active, inactive or finish_time is not numeric", fix) from None
    if active.shape != inactive.shape or not (math.isfinite(period) and period > 0):
        raise ConfigError(src, f"client {client_id}", f"{active.size} active vs {inactive.size} inactive times, "
                          f"finish_time {entry['finish_time']!r}", fix)
    if not (np.all(np.isfinite(active)) and np.all(inactive >= active) and np.all(active[1:] >= inactive[:-1])):
        raise ConfigError(src, f"client {client_id}", "active windows are not in time order or end before they start",
                          "give sorted, non-overlapping [active[i], inactive[i]] windows")
    active, inactive = np.clip(active, 0.0, period), np.clip(inactive, 0.0, period)
    gap_start = np.concatenate(([0.0], inactive))
    gap_end = np.concatenate((active, [period]))
    keep = gap_end > gap_start
    gap_start, gap_end = gap_start[keep], gap_end[keep]
    horizon = period if horizon_s is None else horizon_s
    periods = max(1, math.ceil(horizon / period))
    shift = np.repeat(np.arange(periods) * period, gap_start.size)
    start = np.tile(gap_start, periods) + shift
    end = np.minimum(np.tile(gap_end, periods) + shift, horizon)
    keep = start < end
    return _merge_touching(start[keep], end[keep])


def _merge_touching(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge intervals (sorted, disjoint) where one ends exactly as the next starts (across a period edge)."""
    if start.size < 2:
        return start, end
    new_run = np.concatenate(([True], start[1:] > end[:-1]))
    first = np.flatnonzero(new_run)
    last = np.concatenate((first[1:], [start.size])) - 1
    return start[first], end[last]


def write_trace_csv(path: str | Path, clients: np.ndarray, start_s: np.ndarray, end_s: np.ndarray) -> Path:
    """Write the availability CSV (``client,down_start,down_end``) atomically; returns its path."""
    frame = pd.DataFrame({"client": clients, "down_start": start_s, "down_end": end_s})
    return atomic_write(Path(path), lambda p: frame.to_csv(p, index=False, float_format="%.10g"))
