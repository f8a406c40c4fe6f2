"""The regime map's statistics per point (scripts/study_regime_map.py): each method's censored time to target,
the fastest and whether the paired test over seeds separates it from the runner-up, the WAN bytes and dollars to
target, and the trained methods' own points.

Why a file of its own: these are the rules that turn runs into the map's answer -- a winner only where the paired
comparison separates it, a seed that misses counted as missing -- written once, and used alike by the page's map,
the tuning-choice sensitivity and the target sensitivity (scripts/regime_map_target.py).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from regime_map_figures import METHODS  # scripts/, beside this file
from regime_map_runs import POINT_COLUMNS, TRAINED  # scripts/, beside this file

from analysis.censored import censored_summary, paired_comparison

POINT = list(POINT_COLUMNS)
MAPS = {"all": METHODS, "in-place": tuple(m for m in METHODS if m != "centralized")}
"""The map over every method, and over those that keep the data where it is (no centralized)."""


def time_at(t: pd.Series, iteration: float) -> float:
    """T(iteration) from the short replay's steady state (nan -> inf: not reached)."""
    if not math.isfinite(iteration):
        return math.inf
    return float(t["t_b"] + (iteration - t["b"]) * t["s_per_iteration"])


def grid_summary(runs: pd.DataFrame, tim: pd.DataFrame, trained: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per point and method the censored summary of time to target over the method's seeds; per point and
    map the fastest (lowest censored median), tested against the runner-up on the seeds both ran.
    Where a timing-dependent method was trained it is one more contender (its own runs' times)."""
    per, win = [], []
    points = tim[POINT].drop_duplicates().sort_values(["step_ms", "rtt_ms", "bandwidth_Mbps"])
    for bw, rtt, step in points.itertuples(index=False):
        times: dict[str, pd.Series] = {}
        medians: dict[str, tuple[float, int]] = {}
        per_iteration: dict[str, float] = {}
        for method in METHODS:
            t = tim[(tim["method"] == method) & (tim["bandwidth_Mbps"] == bw) & (tim["rtt_ms"] == rtt)
                    & (tim["step_ms"] == step)]
            r = runs[runs["method"] == method].sort_values("seed")
            if len(t) and len(r):
                times[method] = pd.Series([time_at(t.iloc[0], i if ok else math.inf)
                                           for i, ok in zip(r["iteration"], r["reached"], strict=True)],
                                          index=r["seed"])
                per_iteration[method] = 1e3 * float(t["s_per_iteration"].iloc[0])
        here = trained[(trained["bandwidth_Mbps"] == bw) & (trained["rtt_ms"] == rtt) & (trained["step_ms"] == step)]
        for method, g in here.groupby("method"):
            times[method] = pd.Series(g["time_s"].to_numpy(), index=g["seed"])
            per_iteration[method] = float(g["ms_per_clock"].median())  # its own runs' mean over the run
        for method, ts in times.items():
            s = censored_summary(ts.to_numpy(), np.isfinite(ts.to_numpy()))
            medians[method] = (s.median, -s.reached)
            per.append({"bandwidth_Mbps": bw, "rtt_ms": rtt, "step_ms": step, "method": method, "seeds": s.n,
                        "reached": s.reached, "median_s": s.median, "low_s": s.low, "high_s": s.high,
                        "ms_per_iteration": per_iteration[method]})
        for name, members in MAPS.items():
            ranked = sorted((m for m in members if m in times), key=lambda m: medians[m])
            if len(ranked) < 2:
                continue
            first, second = ranked[0], ranked[1]
            common = times[first].index.intersection(times[second].index)
            a, b = times[first][common].to_numpy(), times[second][common].to_numpy()
            q = paired_comparison(a, np.isfinite(a), b, np.isfinite(b), names=(first, second))
            win.append({"map": name, "bandwidth_Mbps": bw, "rtt_ms": rtt, "step_ms": step,
                        "contenders": "/".join(m for m in ranked), "fastest": first,
                        "runner_up": second, "winner": first if q.verdict == f"{first} faster" else "tie",
                        "fastest_median_s": medians[first][0], "runner_up_median_s": medians[second][0],
                        "margin": (1 / q.ratio) if q.ratio > 0 else math.inf,
                        "ratio_low": q.low, "ratio_high": q.high, "p_value": q.p_value, "paired_seeds": len(common)})
    return pd.DataFrame(per), pd.DataFrame(win)


def costs(runs: pd.DataFrame) -> pd.DataFrame:
    """WAN MB and egress dollars to target per method (network-independent: value-independent bytes)."""
    rows = []
    for method, r in runs[runs["method"].isin(METHODS)].groupby("method"):
        mb = censored_summary(r["wan_MB"].fillna(0), r["reached"])
        usd = censored_summary(r["egress_usd"].fillna(0), r["reached"])
        rows.append({"method": method, "seeds": mb.n, "reached": mb.reached, "wan_MB_median": mb.median,
                     "wan_MB_low": mb.low, "wan_MB_high": mb.high, "egress_usd_median": usd.median,
                     "iterations_median": censored_summary(r["iteration"].fillna(0), r["reached"]).median})
    return pd.DataFrame(rows)


def trained_points(trained: pd.DataFrame, per: pd.DataFrame) -> pd.DataFrame:
    """Per timing-dependent method and point where it was trained: its seeds, reached, median time and WAN
    MB to target (censored), and the fastest replayed in-place method's median there."""
    rows = []
    replayed = ~per["method"].isin(["centralized", *TRAINED])
    for (method, bw, rtt, step), g in trained.groupby(["method", *POINT]):
        t = censored_summary(g["time_s"].to_numpy(), g["reached"].to_numpy())
        mb = censored_summary(g["wan_MB"].to_numpy(), g["reached"].to_numpy())
        here = per[(per["bandwidth_Mbps"] == bw) & (per["rtt_ms"] == rtt) & (per["step_ms"] == step)
                   & replayed].sort_values("median_s")
        rows.append({"method": method, "bandwidth_Mbps": bw, "rtt_ms": rtt, "step_ms": step, "seeds": t.n,
                     "reached": t.reached, "median_s": t.median, "wan_MB_median": mb.median,
                     "ms_per_clock": float(g["ms_per_clock"].median()),
                     "ps_ms_per_iteration": float(here.loc[here["method"] == "ps", "ms_per_iteration"].iloc[0]),
                     "final_hqf_median": float(g["final_hqf"].median()),
                     "final_modes_median": float(g["final_modes"].median()),
                     "best_other": here["method"].iloc[0], "best_other_median_s": here["median_s"].iloc[0]})
    return pd.DataFrame(rows)
