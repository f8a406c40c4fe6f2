"""Figure: WAN bytes by message kind per method (stacked bars), and the egress bill per method.

Why: "ps sends 1.3 GB across the WAN" invites "of what?" -- gradients, parameters, raw data,
generated samples.  The kinds come from the traffic log (bytes include each message's header, so
the bars sum to the run's ``wan_bytes``); dollars are the accountant's ``egress_usd``.  Both are
means over seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from analysis.load import Results
from analysis.registry import figure
from analysis.style import byte_unit, format_nbytes, new_figure, wrap_label


def wan_bytes_by_kind(results: Results) -> pd.DataFrame:
    """series x kind: WAN bytes (mean over the series' runs; a run without a kind counts 0)."""
    series_runs = results.complete[["series", "run"]]
    wan = results.traffic[results.traffic["scope"] == "wan"]
    per_run = wan.pivot_table(index="run", columns="kind", values="nbytes", aggfunc="sum", fill_value=0)
    per_run = per_run.reindex(series_runs["run"], fill_value=0)
    per_run.index = series_runs["series"].to_numpy()
    table = per_run.astype(float).groupby(level=0).mean()
    return table.loc[:, table.sum(axis=0) > 0].sort_index()


@figure("wan_bytes", "WAN bytes by message kind (stacked) and egress dollars, per method")
def build(results: Results) -> Figure:
    """Left: stacked horizontal bars of WAN bytes per kind; right: egress USD with ± std."""
    table = wan_bytes_by_kind(results)
    series = sorted(results.complete["series"].unique())
    table = table.reindex(series, fill_value=0)
    fig = new_figure(13.0, 2.4 + 0.55 * len(series))
    bytes_ax, usd_ax = fig.subplots(1, 2, sharey=True, width_ratios=[3, 2])
    y = np.arange(len(series))
    divisor, unit = byte_unit(float(table.sum(axis=1).max()) if table.size else 0.0)
    left = np.zeros(len(series))
    cmap = colormaps["tab20"]
    for i, kind in enumerate(table.columns):
        values = table[kind].to_numpy() / divisor
        bytes_ax.barh(y, values, left=left, height=0.6, label=kind, color=cmap(i % 20))
        left += values
    for yi, total in zip(y, table.sum(axis=1).to_numpy(), strict=True):
        bytes_ax.annotate(format_nbytes(total), (total / divisor, yi), xytext=(4, 0), textcoords="offset points",
                          va="center", fontsize=8)
    bytes_ax.set_yticks(y, [wrap_label(str(label)) for label in series])
    bytes_ax.invert_yaxis()
    bytes_ax.set_xlabel(f"WAN bytes ({unit}, mean over seeds)")
    bytes_ax.set_title("WAN bytes by message kind")
    bytes_ax.set_xlim(0, max(left.max(), 1e-12) * 1.25)
    if len(table.columns):
        fig.legend(*bytes_ax.get_legend_handles_labels(), loc="outside lower center", ncol=min(len(table.columns), 8),
                   fontsize=9, title="message kind", title_fontsize=9)
    usd = results.complete.groupby("series")["egress_usd"].agg(["mean", "std"]).reindex(series).fillna(0.0)
    usd_ax.barh(y, usd["mean"], xerr=usd["std"], height=0.6, color="tab:olive", capsize=3)
    for yi, value in zip(y, usd["mean"], strict=True):
        usd_ax.annotate(f"${value:.4g}", (value, yi), xytext=(4, 0), textcoords="offset points", va="center",
                        fontsize=8)
    usd_ax.set_xlabel("egress cost (USD, mean ± std over seeds)")
    usd_ax.set_title("egress bill (billed at the sender)")
    usd_ax.set_xlim(0, max(float(usd["mean"].max()), 1e-12) * 1.3)
    for ax in (bytes_ax, usd_ax):
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle("WAN traffic and its cost per method")
    return fig
