"""Which columns say *what* a run is: its method, its sweep values, its seed.

Why: every figure plots "one line per method, mean over seeds", and every table has "one row per
method and sweep value".  A suite's ``index.csv`` names its grid axes (dotted keys such as
``algorithm.name``, ``algorithm.consistency``, ``bandwidth_scale``, ``seed``); without an index the
axes are the config fields that differ between the runs.  ``algorithm.*`` axes are part of the
*method* (``ps (consistency=eventual)``); every other axis except seed and dataset is a *sweep*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

BUDGETS = frozenset({"max_iterations", "max_virtual_time", "max_bytes", "eval_every", "eval_samples"})
"""Run budgets: a suite may give one method a different budget (FedAvg's rounds are longer), which
makes them index axes, but they describe how long a run was, not a setting to compare along."""
NOT_SWEEPS = frozenset({"algorithm", "algorithm.name", "seed", "dataset"}) | BUDGETS
DERIVED_SWEEP_CANDIDATES = ("topology", "partition", "model")
METHOD_DEFAULTED = frozenset({"training.update_order"})
"""Settings whose default depends on the method (ps updates G and D simultaneously, local alternately):
differing between methods they say nothing; differing within one method they label it."""


@dataclass(frozen=True)
class Identity:
    """``frame`` (the runs with ``method`` and ``series`` columns) and the axes that made them."""

    frame: pd.DataFrame
    method_axes: tuple[str, ...]
    sweep_axes: tuple[str, ...]


def identify(runs: pd.DataFrame, index_axes: Sequence[str] | None) -> Identity:
    """Label each run with its method and series; ``index_axes`` are index.csv's axes (or None)."""
    runs = runs.copy()
    if index_axes is not None and "algorithm.name" in index_axes:
        runs["algorithm"] = runs["algorithm"].fillna(runs["algorithm.name"]) if "algorithm" in runs else runs[
            "algorithm.name"]
    for column in ("algorithm", "dataset", "seed"):
        if column not in runs:
            runs[column] = None
    runs["algorithm"] = runs["algorithm"].fillna("?").astype(str)
    known = runs["dataset"].dropna().unique()
    runs["dataset"] = runs["dataset"].fillna(known[0] if len(known) == 1 else "?").astype(str)
    if index_axes is not None:
        method_axes = tuple(a for a in index_axes if a.startswith("algorithm.") and a != "algorithm.name")
        sweep_axes = tuple(a for a in index_axes if a not in NOT_SWEEPS and a not in method_axes)
    else:
        method_axes = tuple(c for c in runs.columns if (c.startswith("algorithm.") or c in METHOD_DEFAULTED)
                            and _varies_within(runs, c))
        candidates = [*DERIVED_SWEEP_CANDIDATES,
                      *(c for c in runs.columns if c.startswith("training.") and c not in METHOD_DEFAULTED)]
        sweep_axes = tuple(c for c in candidates if c in runs and runs[c].dropna().astype(str).nunique() > 1)
    runs["method"] = [_method_label(row, method_axes) for row in runs.to_dict("records")]
    runs["series"] = [_series_label(row, sweep_axes) for row in runs.to_dict("records")]
    return Identity(runs, method_axes, sweep_axes)


def short_name(axis: str) -> str:
    """``algorithm.consistency`` -> ``consistency``; ``bandwidth_scale`` stays."""
    return axis.rsplit(".", 1)[-1]


def format_value(value: object) -> str:
    """A sweep value for a label: ``0.5``, ``wan-3dc``, ``10`` (not ``10.0``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _varies_within(runs: pd.DataFrame, column: str) -> bool:
    """True if ``column`` takes two values among the runs of one algorithm."""
    values = runs[["algorithm", column]].dropna()
    return bool((values.astype(str).groupby("algorithm")[column].nunique() > 1).any())


def _method_label(row: dict, method_axes: Sequence[str]) -> str:
    parts = [f"{short_name(a)}={format_value(row[a])}" for a in method_axes if not _missing(row.get(a))]
    return f"{row['algorithm']} ({', '.join(parts)})" if parts else str(row["algorithm"])


def _series_label(row: dict, sweep_axes: Sequence[str]) -> str:
    parts = [f"{short_name(a)}={_topology_stem(row.get(a)) if a == 'topology' else format_value(row.get(a))}"
             for a in sweep_axes if not _missing(row.get(a))]  # an axis a cell does not set says nothing
    return " · ".join([str(row["method"]), *parts])


def _topology_stem(value: object) -> str:
    """A topology axis shows the file's stem (``wan-3dc``), not its path."""
    text = format_value(value)
    return text.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))
