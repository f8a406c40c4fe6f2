"""Figure: the key quality metrics against virtual time, one line per method, mean ± std over seeds.

Why: the first question about a distribution method is "how good is the generator after a given
amount of (modelled) wall-clock time on this WAN?" -- virtual time, not iterations, because one
iteration of fedavg and one of ps cost very different time.  One column per data set, one row per
key metric of that data set (as its runs recorded them: Results.key_metrics), headline first: for mixtures the
high-quality fraction and the mode KL, which still separate methods once every method covers all
8 modes, then the mode count; for images FID, then the classifier score.
"""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator

from analysis.load import Results
from analysis.registry import figure
from analysis.style import band_limits, new_figure, quality_label, seed_band, series_styles
from testbed.quality import METRIC_HIGHER_IS_BETTER


def metric_panels(results: Results) -> tuple[Figure, list[tuple[object, str, str, bool, pd.DataFrame]]]:
    """A figure with a column per data set and a row per key metric; ``(ax, dataset, metric, higher, rows)``."""
    datasets = sorted(results.complete["dataset"].unique())
    metrics = {d: [m for m in results.key_metrics(d) if m in results.metrics.columns] for d in datasets}
    depth = max(len(m) for m in metrics.values())
    fig = new_figure(7.5 * len(datasets), 3.9 * depth)
    grid = fig.subplots(depth, len(datasets), squeeze=False)
    panels = []
    for col, dataset in enumerate(datasets):
        rows = results.metrics[results.metrics["dataset"] == dataset]
        for row in range(depth):
            if row < len(metrics[dataset]):
                metric = metrics[dataset][row]
                panels.append((grid[row][col], dataset, metric, METRIC_HIGHER_IS_BETTER[metric], rows))
            else:
                grid[row][col].set_axis_off()
    return fig, panels


@figure("quality_vs_time", "key quality metrics vs virtual time, one line per method (mean ± std over seeds)")
def build(results: Results) -> Figure:
    """A column per data set, a row per key metric; x = virtual seconds."""
    fig, panels = metric_panels(results)
    styles = series_styles(results.complete)
    for ax, dataset, metric, higher, rows in panels:
        for series, group in rows.groupby("series", sort=True):
            curves = [(run_rows["virtual_time_s"].to_numpy(), run_rows[metric].to_numpy(dtype=float))
                      for _, run_rows in group.sort_values("virtual_time_s").groupby("run")]
            x, mean, std = seed_band(curves)
            style = styles[series]
            ax.plot(x, mean, marker="o", markersize=3, label=f"{series} (n={len(curves)})", **style)
            if len(curves) > 1:
                ax.fill_between(x, *band_limits(mean, std, metric), color=style["color"], alpha=0.18, linewidth=0)
        ax.set_xlabel("virtual time (s)")
        _log_x_if_wide(ax, rows)
        ax.set_ylabel(quality_label(metric, higher))
        first = metric == results.key_metrics(dataset)[0]
        ax.set_title(f"{dataset}: {metric.replace('_', ' ')} vs virtual time"
                     + ("\nline: mean over seeds, band: ± 1 std" if first else ""))
        ax.grid(True, alpha=0.3)
        if first:
            ax.legend(fontsize=8, title="method (n = seeds)", title_fontsize=8)
    return fig


def _log_x_if_wide(ax: object, rows: pd.DataFrame) -> None:
    """Symlog x when the series' end times differ by more than 30x (else the fast ones are squashed)."""
    ends = rows.groupby("series")["virtual_time_s"].max()
    positive = rows.loc[rows["virtual_time_s"] > 0, "virtual_time_s"]
    if len(positive) and ends.min() > 0 and ends.max() / ends.min() > 30:
        linthresh = float(positive.min())
        ax.set_xscale("symlog", linthresh=linthresh, linscale=0.3)
        # ticks at 0 and at the decades above the linear part only: a decade inside it sat beside the 0 tick
        first, last = math.ceil(math.log10(linthresh)), math.floor(math.log10(float(ends.max())))
        ax.xaxis.set_major_locator(FixedLocator([0.0, *(10.0 ** k for k in range(first, last + 1))]))
        ax.set_xlabel("virtual time (s, log scale above the first evaluation)")
