"""When each run first reached a quality target: iteration, virtual time, WAN bytes, egress.

Why: "which method reaches quality Q first, and for how many WAN bytes" is how Gaia (Hsieh et al.
2017: time to converge) and FedAvg (McMahan et al. 2017: rounds to a target accuracy) report their
speed-ups, and ``summary.json`` / ``metrics.csv`` hold only quality *at* each evaluation.  This
module reads the evaluations in :attr:`Results.metrics` and returns, per run, the first one whose
metric meets the target (``>=`` when higher is better, ``<=`` otherwise), or ``reached = False``.
The target is met *at an evaluation*, so the answer is only as fine as ``eval_every``.
"""

from __future__ import annotations

import pandas as pd

TARGET_COLUMNS = ("iteration", "virtual_time_s", "wan_bytes", "egress_usd")


def first_reaching(metrics: pd.DataFrame, metric: str, target: float, higher_is_better: bool,
                   keys: tuple[str, ...] = ("run",)) -> pd.DataFrame:
    """One row per ``keys`` group of ``metrics`` (one row per evaluation): ``reached`` and, where
    reached, the :data:`TARGET_COLUMNS` of the first evaluation meeting ``target`` (NaN otherwise)."""
    if metric not in metrics.columns:
        raise KeyError(f"no column {metric!r} in the metrics (have: {', '.join(map(str, metrics.columns))})")
    rows = []
    for key, group in metrics.sort_values("iteration").groupby(list(keys), sort=True):
        values = group[metric]
        hit = group[values >= target] if higher_is_better else group[values <= target]
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        row["reached"] = not hit.empty
        for column in TARGET_COLUMNS:
            row[column] = hit[column].iloc[0] if not hit.empty and column in hit else float("nan")
        rows.append(row)
    return pd.DataFrame(rows, columns=[*keys, "reached", *TARGET_COLUMNS])
