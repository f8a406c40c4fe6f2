"""Figure: WAN bandwidth over virtual time per run -- how bursty each method's traffic is.

Why: totals say how many bytes crossed the WAN; a link must be provisioned for the *peak*.  Streaming
DiLoCo's claim (Douillard et al. 2025) is a lower peak at the same mean.  Each run's ``wan_rate.csv``
holds the bits per second every directed WAN link carried in each ``network.rate_window``
(testbed.sim.rate_meter, exact); this sums the links and draws one panel per series (its lowest seed's
run, titled by the run's name), with the peak and mean from ``summary.json`` in the title.  Peaks are
comparable only between runs with the same window.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis.load import Results
from analysis.registry import NotApplicable, figure
from analysis.style import method_colors, new_figure


def wan_rate_series(results: Results) -> dict[str, tuple[pd.Series, dict]]:
    """run name -> (WAN bits/s per window start, summed over links; the run's ``wan_bandwidth`` summary), for
    the first complete run (lowest seed) of each series that wrote ``wan_rate.csv``."""
    out: dict[str, tuple[pd.Series, dict]] = {}
    seen: set[str] = set()
    for _, run in results.complete.sort_values(["series", "seed"]).iterrows():
        run_dir = Path(str(run["run_dir"]))
        path = run_dir / "wan_rate.csv"
        if str(run["series"]) in seen or not path.is_file():
            continue
        rates = pd.read_csv(path)
        if rates.empty:
            continue
        seen.add(str(run["series"]))
        summary = json.loads((run_dir / "summary.json").read_text()).get("wan_bandwidth") or {}
        out[str(run["run"])] = (rates.groupby("t_s")["bps"].sum().sort_index(), summary)
    return out


@figure("wan_rate", "WAN bandwidth over virtual time per method (bits/s per window; peak and mean in the legend)")
def build(results: Results) -> Figure:
    """One step line per series of the WAN's carried rate; peak and mean in the legend."""
    series = wan_rate_series(results)
    if not series:
        raise NotApplicable("no run carried WAN traffic (or the runs predate wan_rate.csv)")
    colors = method_colors(series)
    fig = new_figure(11.0, 3.2 + 0.9 * len(series))
    axes = fig.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
    top = max(float(rate.max()) for rate, _ in series.values()) / 1e6 * 1.1
    for ax, (name, (rate, summary)) in zip(axes, sorted(series.items()), strict=True):
        window = summary.get("window_s") or (rate.index[1] - rate.index[0] if len(rate) > 1 else 1.0)
        ax.step([*rate.index, rate.index[-1] + window], [*(rate / 1e6), rate.iloc[-1] / 1e6], where="post",
                color=colors[name], linewidth=1.0)
        ax.fill_between(list(rate.index), rate / 1e6, step="post", color=colors[name], alpha=0.25)
        peak, mean = summary.get("peak_bps"), summary.get("mean_bps")
        label = (f"{name}: peak {peak / 1e6:.1f} Mbit/s, mean {mean / 1e6:.2f} Mbit/s (window {window * 1e3:g} ms)"
                 if peak is not None and mean is not None else name)
        ax.set_title(label, fontsize=9, loc="left")
        ax.set_ylim(0, top)
        ax.set_ylabel("Mbit/s")
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("virtual time (s); the WAN's directed links summed (a relayed message counts on each)")
    fig.suptitle("WAN bandwidth over time")
    return fig
