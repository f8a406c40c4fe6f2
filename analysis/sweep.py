"""Figure: final quality and virtual time against each sweep axis (e.g. ``bandwidth_scale``), per method.

Why: a suite that sweeps one knob (WAN bandwidth, number of datacenters, partition skew) asks
"how does each method degrade as the knob turns?"  One row per sweep axis (and data set): final
headline metric (left) and virtual time to the stop condition (right), mean ± std over seeds.
Numeric axes are drawn to scale (log when they span more than 10x); others as categories.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.axes import format_value, short_name
from analysis.load import Results
from analysis.registry import NotApplicable, figure
from analysis.style import method_colors, new_figure, quality_label


def sweep_table(results: Results, axis: str, dataset: str) -> pd.DataFrame:
    """Per (line, axis value): mean/std of the final headline metric and of virtual time, and n."""
    metric, _ = results.headline(dataset)
    runs = results.complete[results.complete["dataset"] == dataset]
    others = [a for a in results.sweep_axes if a != axis]
    runs = runs.assign(line=[" · ".join([m, *(f"{short_name(a)}={format_value(r[a])}" for a in others)])
                             for m, (_, r) in zip(runs["method"], runs.iterrows(), strict=True)])
    return runs.groupby(["line", axis], sort=True).agg(
        quality=(f"final_{metric}", "mean"), quality_std=(f"final_{metric}", "std"),
        time_s=("virtual_time_s", "mean"), time_std=("virtual_time_s", "std"),
        method=("method", "first"), n=("run", "size")).fillna({"quality_std": 0.0, "time_std": 0.0}).reset_index()


@figure("sweep", "final quality and virtual time vs each sweep axis, one line per method")
def build(results: Results) -> Figure:
    """Rows: sweep axis x data set; columns: final quality, virtual time."""
    axes_used = [a for a in results.sweep_axes if results.complete[a].dropna().astype(str).nunique() > 1]
    if not axes_used:
        raise NotApplicable("no sweep axis (the runs differ only in method and seed)")
    datasets = sorted(results.complete["dataset"].unique())
    rows = [(axis, dataset) for axis in axes_used for dataset in datasets]
    fig = new_figure(13.0, 4.6 * len(rows))
    grid = np.asarray(fig.subplots(len(rows), 2, squeeze=False))
    colors = method_colors(results.complete["method"])
    for (axis, dataset), (q_ax, t_ax) in zip(rows, grid, strict=True):
        metric, higher = results.headline(dataset)
        table = sweep_table(results, axis, dataset)
        numeric = pd.api.types.is_numeric_dtype(results.complete[axis])
        categories = sorted(table[axis].unique(), key=str)
        for line, rows_of_line in table.groupby("line", sort=True):
            x = rows_of_line[axis].to_numpy(dtype=float) if numeric else [categories.index(v) for v in
                                                                             rows_of_line[axis]]
            color = colors[rows_of_line["method"].iloc[0]]
            label = f"{line} (n={int(rows_of_line['n'].min())})"
            q_ax.errorbar(x, rows_of_line["quality"], yerr=rows_of_line["quality_std"], marker="o", capsize=3,
                          color=color, label=label)
            t_ax.errorbar(x, rows_of_line["time_s"], yerr=rows_of_line["time_std"], marker="o", capsize=3,
                          color=color, label=label)
        for ax in (q_ax, t_ax):
            ax.set_xlabel(short_name(axis) if numeric else f"{short_name(axis)} (category)")
            ax.grid(True, alpha=0.3)
            if numeric:
                values = table[axis].astype(float)
                if values.min() > 0 and values.max() / values.min() > 10:
                    ax.set_xscale("log")
            else:
                ax.set_xticks(range(len(categories)), [format_value(c) for c in categories])
        q_ax.set_ylabel(f"final {quality_label(metric, higher)}")
        q_ax.set_title(f"{dataset}: final {metric.replace('_', ' ')} vs {short_name(axis)}")
        t_ax.set_ylabel("virtual time to stop (s)")
        t_ax.set_title(f"{dataset}: virtual time vs {short_name(axis)}")
        q_ax.legend(fontsize=8)
    fig.suptitle("Sweeps: mean ± std over seeds")
    return fig
