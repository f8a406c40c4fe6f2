"""The regime map (docs/studies/regime-map.md): which method reaches the ring8 target first, and which
is cheapest in WAN bytes and egress dollars, at each WAN bandwidth x round trip x compute per step.

Usage: python scripts/study_regime_map.py RESULTS_ROOT OUT_DIR

RESULTS_ROOT holds the suites ``regime-map-tune`` (tuning seed 1000), ``regime-map`` and ``regime-map-b``
(the fresh seeds on the base setting, run side by side), ``regime-map-timing`` and
``regime-map-timing-fedavg`` (a short seed-0 run per method, replayed exactly at all 48 grid points).

Why time comes from replays and quality from the seeds: every method here is timing-independent
(``Algorithm.timing_dependence``), so the iteration at which a seed reaches the target is the same on
any network, and with fixed costs and identical workers the virtual time of iteration i is the same for
every seed (checked on the base runs: the largest relative spread is written).  The time of iteration i
at a grid point is the short replay's steady state extended to i,
``T(i) = T(b) + (i - b) (T(b) - T(a)) / (b - a)`` for its two evaluations a < b -- checked against the
main runs at the base point (every seed, every evaluation).  A winner is claimed only where the paired
comparison over seeds (analysis.censored) separates it from the runner-up; otherwise the point is a tie.
Writes regime-map.csv (per point and method), regime-map-winners.csv, -runs, -tuning, -checks and -costs
csv files, regime-map-table.md, two figures and the page's generated sections.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from regime_map_figures import METHODS, USD_PER_GB, figure_cost, figure_map  # scripts/, beside this file

from analysis.censored import censored_summary, paired_comparison, reached_and_held
from analysis.page_numbers import replace_generated
from analysis.study_files import write_study_table

TARGET = {"high_quality_fraction": (0.7, True), "modes_covered": (7.0, True)}
BANDWIDTH_MBPS = {0.1: 10, 1.0: 100, 10.0: 1000, 100.0: 10000}
RTT_MS = {0.2: 10, 1.0: 50, 3.0: 150, 6.0: 300}
STEP_MS = {1.0: 1, 10.0: 10, 100.0: 100}
MAPS = {"all": METHODS, "in-place": tuple(m for m in METHODS if m != "centralized")}
"""The map over every method, and over those that keep the data where it is (no centralized)."""
N_K_MAX, BATCH = 4500, 256
"""The largest client's shard (ring8 n = 12,000 by_datacenter over 3 regions: 3/3/2 modes of 1,500) and
B: a FedAvg round is ceil(E ceil(n_k / B)) local steps for it (E = 1: 18; E = 0.25: 5)."""


def method_of(algorithm: dict | str) -> str:
    """``fedavg-e1`` (``-keep``: the clients' Adam kept across rounds) or the algorithm's name."""
    alg = algorithm if isinstance(algorithm, dict) else {"name": algorithm}
    if alg["name"] != "fedavg":
        return str(alg["name"])
    return f"fedavg-e{float(alg.get('local_epochs', 1)):g}" + ("-keep" if alg.get("client_state") == "keep" else "")


def steps_per_iteration(method: str) -> int:
    """Optimiser steps a worker takes per iteration (per round for FedAvg), for the tuning criterion."""
    if not method.startswith("fedavg"):
        return 1
    return math.ceil(float(method.split("-e")[1].split("-")[0]) * math.ceil(N_K_MAX / BATCH))


def read_suite(root: Path) -> pd.DataFrame:
    """index.csv of a suite (complete cells) with each cell's metrics.csv attached as ``metrics``."""
    index = pd.read_csv(root / "index.csv")
    index = index[index["status"] == "complete"].copy()
    configs = [yaml.safe_load((root / run / "config.yaml").read_text()) for run in index["run_dir"]]
    index["method"] = [method_of(c["algorithm"]) for c in configs]
    index["seed"] = [int(c["seed"]) for c in configs]
    index["lr"] = [float(c["training"]["lr_g"]) for c in configs]
    index["metrics"] = [pd.read_csv(root / run / "metrics.csv") for run in index["run_dir"]]
    return index


def hit(metrics: pd.DataFrame) -> pd.Series:
    """reached_and_held's row for one run: reached, iteration, time, bytes, dollars at the target."""
    return reached_and_held(metrics.assign(run="r"), TARGET).iloc[0]


def tuning(root: Path) -> tuple[pd.DataFrame, dict[str, float], str]:
    """Per tuning cell: reached, iteration and steps to target, the fallback score; the choices."""
    rows = []
    for _, r in read_suite(root).iterrows():
        m, h = r["metrics"], hit(r["metrics"])
        tail = m.sort_values("iteration").tail(4)
        rows.append({"cell": r["cell"], "method": r["method"], "lr": r["lr"],
                     "reached": bool(h["reached"]), "iteration": h["iteration"],
                     "steps_to_target": h["iteration"] * steps_per_iteration(r["method"]),
                     "score_last4": float((tail["high_quality_fraction"] * tail["modes_covered"] / 8).mean()),
                     "final_hqf": float(m["high_quality_fraction"].iloc[-1]),
                     "final_modes": float(m["modes_covered"].iloc[-1])})
    df = pd.DataFrame(rows)
    key = df.assign(s=df["steps_to_target"].where(df["reached"], math.inf),
                    fallback=(-df["score_last4"]).where(~df["reached"], 0.0))  # the score decides only if none reached
    best = key.sort_values(["s", "fallback", "lr"])
    chosen_lr = {}
    for family in ("centralized", "ps", "fedavg"):
        rows_f = best[best["method"].str.startswith(family)]
        if len(rows_f):
            chosen_lr[family] = float(rows_f["lr"].iloc[0])
    fed = best[best["method"].str.startswith("fedavg")]
    df["chosen"] = df["cell"].isin([best[best["method"] == m]["cell"].iloc[0] for m in ("centralized", "ps")]
                                   + ([fed["cell"].iloc[0]] if len(fed) else []))
    return df, chosen_lr, (fed["method"].iloc[0] if len(fed) else "fedavg-e1")


def main_runs(root: Path) -> pd.DataFrame:
    """The fresh-seed runs of ``regime-map`` and ``regime-map-b`` (run side by side; a (method, seed) both
    ran -- the same configuration, so the same values -- counted once)."""
    names = [name for name in ("regime-map", "regime-map-b") if (root / name / "index.csv").is_file()]
    suites = [read_suite(root / name) for name in names]
    return pd.concat(suites, ignore_index=True).drop_duplicates(["method", "seed"]).reset_index(drop=True)


def per_run(suite: pd.DataFrame, fedavg: str) -> pd.DataFrame:
    """One row per (method, seed): target reached (and held), iteration, time, WAN bytes, dollars there.
    FedSGD's rows are ps's (with every client each round it is the BSP ps bit for bit: README)."""
    rows = []
    for _, r in suite.iterrows():
        h = hit(r["metrics"])
        method = "fedavg" if r["method"] == fedavg else r["method"]
        base = {"seed": int(r["seed"]), "reached": bool(h["reached"]), "iteration": h["iteration"],
                "base_time_s": h["virtual_time_s"], "wan_MB": h["wan_bytes"] / 1e6, "egress_usd": h["egress_usd"],
                "final_hqf": float(r["metrics"]["high_quality_fraction"].iloc[-1]),
                "final_modes": float(r["metrics"]["modes_covered"].iloc[-1])}
        rows.append({"method": method, **base})
        if method == "ps":
            rows.append({"method": "fedsgd", **base, "base_time_s": math.nan, "wan_MB": math.nan,
                         "egress_usd": math.nan})
    return pd.DataFrame(rows).sort_values(["method", "seed"]).reset_index(drop=True)


def timing(roots: list[Path], fedavg: str) -> pd.DataFrame:
    """Per (method, grid point): the short replay's two evaluations (a, T(a)), (b, T(b)) and bytes per iteration."""
    rows = []
    for root in roots:
        for _, r in read_suite(root).iterrows():
            if r["method"].startswith("fedavg") and r["method"] != fedavg.replace("-keep", ""):
                continue  # the other E (client_state does not change a message: the same times)
            m = r["metrics"].sort_values("iteration")
            (a, ta, wa), (b, tb, wb) = m[["iteration", "virtual_time_s", "wan_bytes"]].tail(2).to_numpy()
            rows.append({"method": "fedavg" if r["method"].startswith("fedavg") else r["method"],
                         "bandwidth_Mbps": BANDWIDTH_MBPS[float(r["bandwidth_scale"])],
                         "rtt_ms": RTT_MS[float(r["latency_scale"])], "step_ms": STEP_MS[float(r["compute_scale"])],
                         "a": a, "t_a": ta, "b": b, "t_b": tb, "s_per_iteration": (tb - ta) / (b - a),
                         "wan_b": wb, "wan_per_iteration": (wb - wa) / (b - a)})
    return pd.DataFrame(rows)


def time_at(t: pd.Series, iteration: float) -> float:
    """T(iteration) from the short replay's steady state (nan -> inf: not reached)."""
    if not math.isfinite(iteration):
        return math.inf
    return float(t["t_b"] + (iteration - t["b"]) * t["s_per_iteration"])


def checks(suite: pd.DataFrame, tim: pd.DataFrame, fedavg: str) -> pd.DataFrame:
    """Seed independence of T(i) at the base point, and the extension against the base runs."""
    rows = []
    for method, group in suite.groupby("method"):
        name = "fedavg" if method == fedavg else method
        if name not in METHODS:
            continue
        frames = [g.set_index("iteration")["virtual_time_s"] for g in group["metrics"]]
        joined = pd.concat(frames, axis=1).dropna()
        spread = ((joined.max(axis=1) - joined.min(axis=1)) / joined.max(axis=1).where(joined.max(axis=1) > 0)).max()
        t = tim[(tim["method"] == name) & (tim["bandwidth_Mbps"] == 100) & (tim["rtt_ms"] == 50)
                & (tim["step_ms"] == 1)]
        ext = math.nan
        if len(t):
            col = joined.iloc[:, 0]
            col = col[col.index >= t["b"].iloc[0]]
            ext = max(abs(time_at(t.iloc[0], i) - v) / v for i, v in col.items())
        rows.append({"method": name, "seeds": len(frames), "seed_spread_rel": float(spread or 0.0),
                     "extension_error_rel": ext})
    return pd.DataFrame(rows)


def grid_summary(runs: pd.DataFrame, tim: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per point and method the censored summary of time to target over the method's seeds; per point and
    map the fastest (lowest censored median), tested against the runner-up on the seeds both ran."""
    per, win = [], []
    points = tim[["bandwidth_Mbps", "rtt_ms", "step_ms"]].drop_duplicates().sort_values(
        ["step_ms", "rtt_ms", "bandwidth_Mbps"])
    for bw, rtt, step in points.itertuples(index=False):
        times: dict[str, pd.Series] = {}
        medians: dict[str, tuple[float, int]] = {}
        for method in METHODS:
            t = tim[(tim["method"] == method) & (tim["bandwidth_Mbps"] == bw) & (tim["rtt_ms"] == rtt)
                    & (tim["step_ms"] == step)]
            r = runs[runs["method"] == method].sort_values("seed")
            if not len(t) or not len(r):
                continue
            times[method] = pd.Series([time_at(t.iloc[0], i if ok else math.inf)
                                       for i, ok in zip(r["iteration"], r["reached"], strict=True)], index=r["seed"])
            s = censored_summary(times[method].to_numpy(), np.isfinite(times[method].to_numpy()))
            medians[method] = (s.median, -s.reached)
            per.append({"bandwidth_Mbps": bw, "rtt_ms": rtt, "step_ms": step, "method": method, "seeds": s.n,
                        "reached": s.reached, "median_s": s.median, "low_s": s.low, "high_s": s.high,
                        "ms_per_iteration": 1e3 * float(t["s_per_iteration"].iloc[0])})
        for name, members in MAPS.items():
            ranked = sorted((m for m in members if m in times), key=lambda m: medians[m])
            if len(ranked) < 2:
                continue
            first, second = ranked[0], ranked[1]
            common = times[first].index.intersection(times[second].index)
            a, b = times[first][common].to_numpy(), times[second][common].to_numpy()
            q = paired_comparison(a, np.isfinite(a), b, np.isfinite(b), names=(first, second))
            win.append({"map": name, "bandwidth_Mbps": bw, "rtt_ms": rtt, "step_ms": step, "fastest": first,
                        "runner_up": second, "winner": first if q.verdict == f"{first} faster" else "tie",
                        "fastest_median_s": medians[first][0], "runner_up_median_s": medians[second][0],
                        "margin": (1 / q.ratio) if q.ratio > 0 else math.inf,
                        "ratio_low": q.low, "ratio_high": q.high, "p_value": q.p_value, "paired_seeds": len(common)})
    return pd.DataFrame(per), pd.DataFrame(win)


def fill_fedsgd_bytes(runs: pd.DataFrame, tim: pd.DataFrame) -> pd.DataFrame:
    """FedSGD's WAN bytes at its target iteration, by the same extension as time (its bytes do not depend
    on values or network), and its dollars at the base topology's one price (USD_PER_GB on every link)."""
    t = tim[(tim["method"] == "fedsgd")].iloc[0]
    rows = runs["method"] == "fedsgd"
    nbytes = t["wan_b"] + (runs.loc[rows, "iteration"] - t["b"]) * t["wan_per_iteration"]
    runs.loc[rows, "wan_MB"] = nbytes / 1e6
    runs.loc[rows, "egress_usd"] = nbytes / 1e9 * USD_PER_GB
    return runs


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


def fmt(v: float, spec: str = ".3g") -> str:
    return "never" if not math.isfinite(v) else format(v, spec)


def tables(win: pd.DataFrame, cost: pd.DataFrame) -> str:
    """The winners table (every point, both maps) and the costs table, as markdown."""
    lines = ["| step (ms) | RTT (ms) | bandwidth (Mbps) | map | fastest | median s | runner-up | median s | "
             "margin [95 % interval] | p | verdict |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in win.sort_values(["map", "step_ms", "rtt_ms", "bandwidth_Mbps"]).iterrows():
        lo, hi = (1 / r["ratio_high"] if r["ratio_high"] > 0 else math.inf), (
            1 / r["ratio_low"] if r["ratio_low"] > 0 else math.inf)
        lines.append(f"| {r['step_ms']:g} | {r['rtt_ms']:g} | {r['bandwidth_Mbps']:g} | {r['map']} | {r['fastest']} | "
                     f"{fmt(r['fastest_median_s'])} | {r['runner_up']} | {fmt(r['runner_up_median_s'])} | "
                     f"{fmt(r['margin'], '.2f')} [{fmt(lo, '.2f')}, {fmt(hi, '.2f')}] | {r['p_value']:.3f} | "
                     f"{r['winner'] if r['winner'] != 'tie' else 'tie (no difference measured)'} |")
    lines += ["", "| method | seeds reaching | median iterations to target | median WAN MB to target [interval] | "
              "median egress USD |", "|---|---|---|---|---|"]
    for _, r in cost.iterrows():
        lines.append(f"| {r['method']} | {r['reached']}/{r['seeds']} | {fmt(r['iterations_median'], '.0f')} | "
                     f"{fmt(r['wan_MB_median'])} [{fmt(r['wan_MB_low'])}, {fmt(r['wan_MB_high'])}] | "
                     f"{fmt(r['egress_usd_median'], '.7f')} |")
    return "\n".join(lines) + "\n"


def map_section(win: pd.DataFrame) -> str:
    """Per map and compute level, the fastest method and its margin in a 4 x 4 grid (bandwidth x RTT)."""
    out = []
    bws, rtts = sorted(BANDWIDTH_MBPS.values()), sorted(RTT_MS.values())
    for name in MAPS:
        title = "every method" if name == "all" else "data stays in its region (no centralized)"
        for step in sorted(STEP_MS.values()):
            w = win[(win["map"] == name) & (win["step_ms"] == step)].set_index(["rtt_ms", "bandwidth_Mbps"])
            out += [f"**{title}, {step:g} ms per step**: fastest median, runner-up's median / its (x) "
                    "(*tie*: the paired test over seeds does not separate them)", "",
                    "| RTT \\ bandwidth | " + " | ".join(f"{b:g} Mbps" for b in bws) + " |",
                    "|---" * (len(bws) + 1) + "|"]
            for rtt in rtts:
                cells = [f"{w.loc[(rtt, bw), 'fastest']}, " + (f"{w.loc[(rtt, bw), 'margin']:.2f}x" if math.isfinite(
                    w.loc[(rtt, bw), "margin"]) else "the only one to reach it")
                         + (" *tie*" if w.loc[(rtt, bw), "winner"] == "tie" else "") if (rtt, bw) in w.index else "-"
                         for bw in bws]
                out.append(f"| {rtt:g} ms | " + " | ".join(cells) + " |")
            out.append("")
    return "\n".join(out)


def tuning_section(tune: pd.DataFrame) -> str:
    lines = ["| cell | lr | reached | iteration (FedAvg: round) | steps per worker | score (last four evaluations) | "
             "final high-quality fraction | final modes | chosen |", "|---|---|---|---|---|---|---|---|---|"]
    for _, r in tune.iterrows():
        lines.append(f"| {r['cell']} | {r['lr']:g} | {'yes' if r['reached'] else 'no'} | "
                     f"{fmt(r['iteration'], '.0f')} | {fmt(r['steps_to_target'], '.0f')} | {r['score_last4']:.3f} | "
                     f"{r['final_hqf']:.3f} | {r['final_modes']:.0f} | {'**chosen**' if r['chosen'] else ''} |")
    return "\n".join(lines) + "\n"


def checks_section(chk: pd.DataFrame) -> str:
    lines = ["| method | seeds | largest relative spread of T(i) across seeds (base) | "
             "largest relative error of the extension (base, every evaluation) |", "|---|---|---|---|"]
    for _, r in chk.iterrows():
        lines.append(f"| {r['method']} | {r['seeds']} | {r['seed_spread_rel']:.2g} | {r['extension_error_rel']:.2g} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="results root holding the regime-map* suites")
    parser.add_argument("out", type=Path, help="docs/studies")
    args = parser.parse_args()
    tune, chosen_lr, fedavg = tuning(args.root / "regime-map-tune")
    tune.to_csv(args.out / "regime-map-tuning.csv", index=False, float_format="%.6g")
    print(tune.to_string(index=False))
    print("chosen:", chosen_lr, fedavg)
    tim = timing([args.root / "regime-map-timing", args.root / "regime-map-timing-fedavg"], fedavg)
    suite = main_runs(args.root)
    runs = fill_fedsgd_bytes(per_run(suite, fedavg), tim)
    runs.to_csv(args.out / "regime-map-runs.csv", index=False, float_format="%.6g")
    chk = checks(suite, tim, fedavg)
    for column in ("seed_spread_rel", "extension_error_rel"):  # as the page shows them (2 significant digits)
        chk[column] = [float(f"{v:.2g}") for v in chk[column]]
    chk.to_csv(args.out / "regime-map-checks.csv", index=False, float_format="%.6g")
    print(chk.to_string(index=False))
    per, win = grid_summary(runs, tim)
    per.to_csv(args.out / "regime-map.csv", index=False, float_format="%.6g")
    cost = costs(runs)
    cost.to_csv(args.out / "regime-map-costs.csv", index=False, float_format="%.6g")
    write_study_table(win, tables(win, cost), args.out, "regime-map-winners")
    (args.out / "regime-map-table.md").write_text((args.out / "regime-map-winners-table.md").read_text())
    (args.out / "regime-map-winners-table.md").unlink()
    figure_map(win, args.out)
    figure_cost(runs, tim, args.out)
    page = args.out / "regime-map.md"
    replace_generated(page, "regime-map-winners.csv", map_section(win))
    replace_generated(page, "regime-map-tuning.csv", tuning_section(tune))
    replace_generated(page, "regime-map-checks.csv", checks_section(chk))
    replace_generated(page, "regime-map-costs.csv", tables(win, cost).split("\n\n")[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
