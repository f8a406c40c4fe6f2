"""Figure: where a worker's virtual time goes -- compute, communication, waiting -- per method.

Why: a method can be slow because it computes more, because its messages are big on thin links,
or because its workers sit waiting for stragglers or barriers; the fix differs for each.  From
``nodes.csv``: the mean over the workers (``<dc>/w<i>``, not servers) of a run, then the mean over
seeds.  Left: seconds, with the run's virtual duration as a marker; right: shares of the sum.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.load import Results
from analysis.registry import figure
from analysis.style import new_figure, wrap_label

PARTS = (("compute_s", "compute", "tab:green"), ("communication_s", "communication", "tab:blue"),
         ("waiting_s", "waiting", "tab:gray"))
WORKER_PATTERN = r"/w\d+$"


def worker_breakdown(results: Results) -> pd.DataFrame:
    """Per series: mean (over workers, then seeds) compute/communication/waiting seconds, and virtual time."""
    nodes = results.nodes[results.nodes["node"].astype(str).str.contains(WORKER_PATTERN)]
    columns = [c for c, _, _ in PARTS]
    per_run = nodes.groupby(["series", "run"])[columns].mean()
    per_series = per_run.groupby("series").mean()
    duration = results.complete.groupby("series")["virtual_time_s"].mean()
    return per_series.join(duration).sort_index()


@figure("time_breakdown", "per-worker compute / communication / waiting seconds per method (stacked bars)")
def build(results: Results) -> Figure:
    """Stacked horizontal bars, one per series: seconds (left) and shares (right)."""
    table = worker_breakdown(results)
    fig = new_figure(13.0, 1.9 + 0.55 * len(table))
    seconds_ax, share_ax = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(table))
    left = np.zeros(len(table))
    total = table[[c for c, _, _ in PARTS]].sum(axis=1).to_numpy()
    share_left = np.zeros(len(table))
    for column, label, color in PARTS:
        values = table[column].to_numpy()
        seconds_ax.barh(y, values, left=left, color=color, label=label, height=0.6)
        shares = np.divide(100 * values, total, out=np.zeros_like(values), where=total > 0)
        share_ax.barh(y, shares, left=share_left, color=color, label=label, height=0.6)
        left += values
        share_left += shares
    seconds_ax.scatter(table["virtual_time_s"], y, marker="|", s=300, color="black", zorder=3,
                       label="run's virtual duration")
    seconds_ax.set_yticks(y, [wrap_label(str(label)) for label in table.index])
    seconds_ax.invert_yaxis()
    seconds_ax.set_xlabel("virtual seconds per worker (mean over workers and seeds)")
    seconds_ax.set_title("time per worker")
    share_ax.set_xlabel("share of the worker's accounted time (%)")
    share_ax.set_xlim(0, 100)
    share_ax.set_title("shares")
    fig.legend(*seconds_ax.get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=9)
    for ax in (seconds_ax, share_ax):
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle("Where workers' virtual time goes (from nodes.csv)")
    return fig
