"""Figure: quality against WAN bytes (log x), each method's trajectory and end point, Pareto front marked.

Why: the testbed's second question is "what quality does each byte across the WAN buy?"  The
methods on the Pareto front (no other method reaches better quality with fewer WAN bytes) are the
only sensible choices; the rest are dominated.  Methods that send nothing across the WAN (``local``)
sit at a "0" tick left of the log axis rather than vanishing from it.  The front is drawn on quality
actually *reached*: a method whose final quality is no better than its untrained generator's
(iteration 0, by more than the seed spread and 5 %) is drawn hollow and cannot sit on the front --
otherwise a method that learned nothing but sent nothing would "win" the low-byte end.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter

from analysis.load import Results
from analysis.registry import figure
from analysis.style import dataset_panels, format_nbytes, quality_label, seed_band, series_styles


@figure("quality_vs_wan_bytes", "final quality vs WAN bytes (log x) per method, trajectories, Pareto front")
def build(results: Results) -> Figure:
    """One panel per data set; x = cumulative WAN bytes, y = the headline metric."""
    fig, panels = dataset_panels(results)
    styles = series_styles(results.complete)
    for ax, dataset, metric, higher, rows in panels:
        ends = final_points(results, dataset)
        floor = _zero_position(pd.concat([rows["wan_bytes"], ends["wan_bytes"]]))
        for series, group in rows.groupby("series", sort=True):
            curves = [(r["wan_bytes"].to_numpy(), r[metric].to_numpy())
                      for _, r in group.sort_values("iteration").groupby("run")]
            x, mean, _ = seed_band(curves)
            ax.plot(np.maximum(x, floor), mean, alpha=0.35, linewidth=1, **styles[series])
        for end in ends.itertuples(index=False):
            color = styles[end.series]["color"]
            ax.errorbar(max(end.wan_bytes, floor), end.quality, yerr=end.quality_std, marker="o", markersize=8,
                        capsize=3, linestyle="none", color=color, markerfacecolor=color if end.learned else "white",
                        label=f"{end.series} (n={end.n})" + ("" if end.learned else ", learned nothing: off the front"))
        front = pareto_front(ends[ends["learned"]], higher)
        ax.plot(np.maximum(front["wan_bytes"], floor), front["quality"], drawstyle="steps-post", color="black",
                linewidth=1.2, zorder=1, label="Pareto front (end points)")
        ax.scatter(np.maximum(front["wan_bytes"], floor), front["quality"], s=180, facecolors="none",
                   edgecolors="black", linewidths=1.5, zorder=3)
        _bytes_axis(ax, floor, max(rows["wan_bytes"].max(), ends["wan_bytes"].max(), floor * 10))
        ax.set_xlabel("WAN bytes sent so far (log scale; 0 = no WAN traffic)")
        ax.set_ylabel(quality_label(metric, higher))
        ax.set_title(f"{dataset}: {metric.replace('_', ' ')} vs WAN bytes\n"
                     "lines: training trajectory (mean over seeds); dots: end, ± 1 std")
        ax.grid(True, alpha=0.3, which="major")
        ax.legend(fontsize=8)
    return fig


def final_points(results: Results, dataset: str) -> pd.DataFrame:
    """Per series: mean/std final quality, mean WAN bytes, number of seeds."""
    metric, _ = results.headline(dataset)
    runs = results.complete[results.complete["dataset"] == dataset]
    grouped = runs.groupby("series", sort=True).agg(
        quality=(f"final_{metric}", "mean"), quality_std=(f"final_{metric}", "std"),
        wan_bytes=("wan_bytes", "mean"), n=("run", "size"))
    evals = results.metrics[results.metrics["run"].isin(runs["run"])]
    first = evals.sort_values("iteration").groupby("run").head(1)
    grouped["initial"] = first.groupby("series")[metric].mean()
    grouped = grouped.fillna({"quality_std": 0.0}).reset_index()
    grouped["learned"] = learned(grouped, results.headline(dataset)[1])
    return grouped


def learned(points: pd.DataFrame, higher_is_better: bool) -> pd.Series:
    """Whether each point's ``quality`` beats its ``initial`` (untrained) quality by more than its seed
    spread ``quality_std`` and 5 % of the initial value (no initial value: assumed learned)."""
    sign = 1.0 if higher_is_better else -1.0
    margin = np.maximum(points["quality_std"], 0.05 * points["initial"].abs().fillna(0.0)) + 1e-12
    return points["initial"].isna() | (sign * (points["quality"] - points["initial"]) > margin)


def pareto_front(points: pd.DataFrame, higher_is_better: bool) -> pd.DataFrame:
    """The points no other point beats on both fewer ``wan_bytes`` and better ``quality``."""
    sign = 1.0 if higher_is_better else -1.0
    ordered = points.assign(_q=sign * points["quality"]).sort_values(["wan_bytes", "_q"], ascending=[True, False])
    keep, best = [], -math.inf
    for i, q in zip(ordered.index, ordered["_q"], strict=True):
        if q > best:
            keep.append(i)
            best = q
    return ordered.loc[keep].drop(columns="_q")


def _zero_position(nbytes: pd.Series) -> float:
    """Where 0 bytes is drawn: one decade below the smallest positive value."""
    positive = nbytes[nbytes > 0]
    return 10.0 ** (math.floor(math.log10(positive.min())) - 1) if len(positive) else 1.0


def _bytes_axis(ax: object, floor: float, top: float) -> None:
    ax.set_xscale("log")
    decades = [10.0 ** k for k in range(int(math.log10(floor)) + 1, math.ceil(math.log10(top)) + 1)]
    ax.xaxis.set_major_locator(FixedLocator([floor, *decades]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: "0" if x <= floor * 1.0001 else format_nbytes(x)))
    ax.set_xlim(floor / 2, top * 2)
