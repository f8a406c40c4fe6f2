"""Figure: how stale the updates an asynchronous server applied were (FedBuff / FedAsync).

Why: an asynchronous method trades waiting for staleness, and its quality depends on how stale the
applied updates were -- something no quality curve shows.  FedBuff records the staleness tau (server
versions between a client's download and its update's application) of every update it applied, in
``summary.json`` under ``method_results.staleness_counts``; this draws one histogram per series (the
counts summed over its seeds, as a share of the series' applied updates), with the mean in the legend.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from analysis.load import Results
from analysis.registry import NotApplicable, figure
from analysis.style import method_colors, new_figure


def staleness_counts(results: Results) -> dict[str, dict[int, int]]:
    """series -> {tau: updates applied with that staleness}, summed over the series' complete runs (a series
    is named by its first run, the lowest seed's)."""
    out: dict[str, dict[int, int]] = {}
    names: dict[str, str] = {}
    for _, run in results.complete.sort_values(["series", "seed"]).iterrows():
        summary_path = Path(str(run["run_dir"])) / "summary.json"
        if not summary_path.is_file():
            continue
        counts = (json.loads(summary_path.read_text()).get("method_results") or {}).get("staleness_counts")
        if not counts:
            continue
        names.setdefault(str(run["series"]), str(run["run"]))
        series = out.setdefault(names[str(run["series"])], {})
        for tau, n in counts.items():
            series[int(tau)] = series.get(int(tau), 0) + int(n)
    return out


@figure("staleness", "staleness of every update an asynchronous server applied (FedBuff / FedAsync), per method")
def build(results: Results) -> Figure:
    """Grouped bars: share of applied updates per staleness tau, one colour per series."""
    counts = staleness_counts(results)
    if not counts:
        raise NotApplicable("no run recorded the staleness of applied updates (only fedbuff does)")
    series = sorted(counts)
    colors = method_colors(series)
    taus = np.arange(max(max(c) for c in counts.values()) + 1)
    fig = new_figure(min(12.0, max(6.0, 1.0 + 0.3 * len(taus) * len(series) ** 0.5)), 3.8)
    ax = fig.subplots()
    width = 0.8 / len(series)
    for i, name in enumerate(series):
        total = sum(counts[name].values())
        share = np.array([counts[name].get(int(t), 0) for t in taus]) / total
        mean = sum(t * n for t, n in counts[name].items()) / total
        ax.bar(taus + (i - (len(series) - 1) / 2) * width, share, width=width, color=colors[name],
               label=f"{name} ({total} updates, mean tau {mean:.2f})")
    ax.set_xticks(taus[:: max(1, len(taus) // 25)])
    ax.set_xlabel("staleness tau (server versions between a client's download and its update's application)")
    ax.set_ylabel("share of applied updates")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Staleness of the applied updates")
    return fig
