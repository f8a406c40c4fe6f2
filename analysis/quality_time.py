"""Figure: the headline quality metric against virtual time, one line per method, mean ± std over seeds.

Why: the first question about a distribution method is "how good is the generator after a given
amount of (modelled) wall-clock time on this WAN?" -- virtual time, not iterations, because one
iteration of fedavg and one of ps cost very different time.  One panel per data set (each has its
own headline metric, e.g. modes covered for ring8, FID for images).
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from analysis.load import Results
from analysis.registry import figure
from analysis.style import dataset_panels, quality_label, seed_band, series_styles


@figure("quality_vs_time", "headline quality vs virtual time, one line per method (mean ± std over seeds)")
def build(results: Results) -> Figure:
    """One panel per data set; x = virtual seconds, y = the data set's headline metric."""
    fig, panels = dataset_panels(results)
    styles = series_styles(results.complete)
    for ax, dataset, metric, higher, rows in panels:
        for series, group in rows.groupby("series", sort=True):
            curves = [(run_rows["virtual_time_s"].to_numpy(), run_rows[metric].to_numpy())
                      for _, run_rows in group.sort_values("virtual_time_s").groupby("run")]
            x, mean, std = seed_band(curves)
            style = styles[series]
            ax.plot(x, mean, marker="o", markersize=3, label=f"{series} (n={len(curves)})", **style)
            if len(curves) > 1:
                ax.fill_between(x, mean - std, mean + std, color=style["color"], alpha=0.18, linewidth=0)
        ax.set_xlabel("virtual time (s)")
        _log_x_if_wide(ax, rows)
        ax.set_ylabel(quality_label(metric, higher))
        ax.set_title(f"{dataset}: {metric.replace('_', ' ')} vs virtual time\nline: mean over seeds, band: ± 1 std")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, title="method (n = seeds)", title_fontsize=8)
    return fig


def _log_x_if_wide(ax: object, rows: pd.DataFrame) -> None:
    """Symlog x when the series' end times differ by more than 30x (else the fast ones are squashed)."""
    ends = rows.groupby("series")["virtual_time_s"].max()
    positive = rows.loc[rows["virtual_time_s"] > 0, "virtual_time_s"]
    if len(positive) and ends.min() > 0 and ends.max() / ends.min() > 30:
        ax.set_xscale("symlog", linthresh=float(positive.min()), linscale=0.3)
        ax.set_xlabel("virtual time (s, log scale above the first evaluation)")
