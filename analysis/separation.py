"""Which differences between methods exceed the seed spread: the sentence a results table invites.

Why: with a few seeds, most gaps between methods' means are noise.  A conservative, explicit rule
-- two series differ on a metric only if their means are further apart than the sum of their
standard deviations over seeds, and each has at least two completed seeds -- keeps ``summary.md``
from being read as a ranking it cannot support.  It is a screen, not a significance test: with two
seeds, a pair that passes is a candidate worth more seeds, one that fails is not evidence of no effect.
"""

from __future__ import annotations

import itertools

import pandas as pd

from analysis.load import Results
from testbed.quality import METRIC_HIGHER_IS_BETTER


def separated_pairs(results: Results, table: pd.DataFrame) -> list[dict[str, object]]:
    """Per data set and key metric: every (better, worse) pair of series whose means differ by more than
    std_better + std_worse, each with >= 2 completed runs."""
    keys = results.group_columns
    out: list[dict[str, object]] = []
    for dataset, rows in table[table["runs"] >= 2].groupby("dataset", sort=True):
        labels = [" · ".join(str(row[k]) for k in keys if k != "dataset") for _, row in rows.iterrows()]
        for metric in results.key_metrics(str(dataset)):
            mean, std = f"final_{metric}_mean", f"final_{metric}_std"
            if mean not in rows:
                continue
            sign = 1.0 if METRIC_HIGHER_IS_BETTER[metric] else -1.0
            points = list(zip(labels, rows[mean], rows[std].fillna(0.0), strict=True))
            for (la, ma, sa), (lb, mb, sb) in itertools.combinations(points, 2):
                if abs(ma - mb) > sa + sb:
                    (bl, bm, bs), (wl, wm, ws) = ((la, ma, sa), (lb, mb, sb)) if sign * (ma - mb) > 0 else (
                        (lb, mb, sb), (la, ma, sa))
                    out.append({"dataset": dataset, "metric": metric, "better": bl, "worse": wl,
                                "better_mean": bm, "better_std": bs, "worse_mean": wm, "worse_std": ws})
    return out


def separation_markdown(results: Results, table: pd.DataFrame) -> list[str]:
    """The ``summary.md`` section listing :func:`separated_pairs` (or saying there are none)."""
    pairs = separated_pairs(results, table)
    lines = ["## Differences beyond the seed spread", "",
             "Pairs whose means differ by more than the sum of their std over seeds (each with >= 2 seeds), "
             "on the data set's key metrics. A screen, not a significance test.", ""]
    if not pairs:
        return [*lines, "None: every gap between series is within their seed spread (or fewer than 2 seeds)."]
    for p in pairs:
        lines.append(f"- {p['dataset']}, {p['metric']}: **{p['better']}** {p['better_mean']:.4g} ± "
                     f"{p['better_std']:.2g} beats {p['worse']} {p['worse_mean']:.4g} ± {p['worse_std']:.2g}")
    return lines
