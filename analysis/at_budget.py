"""Each run's quality at a budget of WAN bytes (or virtual time, or any cumulative column).

Why: two methods that move bytes at different rates end at different WAN totals, so their final
qualities are not a comparison at equal cost.  "What quality had each method bought with B bytes?"
is the question Hardy et al. (MD-GAN, IPDPS 2019) answer with less traffic for equal quality.  This
module reads the evaluations in :attr:`Results.metrics` and returns, per run, the metric at the
*last evaluation whose cumulative column is at most the budget* -- a step, not an interpolation,
since quality between two evaluations is unknown -- or NaN where the first evaluation is already
over the budget.
"""

from __future__ import annotations

import pandas as pd


def metric_at_budget(metrics: pd.DataFrame, metric: str, column: str, budget: float,
                     keys: tuple[str, ...] = ("run",)) -> pd.DataFrame:
    """One row per ``keys`` group of ``metrics`` (one row per evaluation): ``metric`` and ``column``
    at the last evaluation with ``column <= budget``, and its ``iteration`` (NaN where none is)."""
    for name in (metric, column):
        if name not in metrics.columns:
            raise KeyError(f"no column {name!r} in the metrics (have: {', '.join(map(str, metrics.columns))})")
    rows = []
    for key, group in metrics.sort_values("iteration").groupby(list(keys), sort=True):
        within = group[group[column] <= budget]
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        for name in ("iteration", column, metric):
            row[name] = within[name].iloc[-1] if not within.empty else float("nan")
        rows.append(row)
    return pd.DataFrame(rows, columns=[*keys, "iteration", column, metric])
