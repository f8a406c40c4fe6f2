"""The regime map (docs/studies/regime-map.md): which method reaches the ring8 target first, and which
is cheapest in WAN bytes and egress dollars, at each WAN bandwidth x round trip x compute per step.

Usage: python scripts/study_regime_map.py RESULTS_ROOT OUT_DIR

RESULTS_ROOT holds the suites ``regime-map-tune`` and ``regime-map-tune2`` (tuning seed 1000),
``regime-map``, ``-b``, ``-c`` and ``-d`` (the fresh seeds on the base setting, run side by side and in
rounds), ``regime-map-timing`` and ``regime-map-timing-fedavg`` (a short seed-0 run per method, replayed
exactly at all 48 grid points) and, if run, ``regime-map-gaia`` and ``regime-map-relaxed`` (the
timing-dependent methods -- Gaia, the bounded-delay and eventual ps -- trained at a few points) and
``regime-map-deadline`` (FedAvg with a round deadline at the base point: scripts/regime_map_deadline.py).

Why time comes from replays and quality from the seeds: every method but Gaia is timing-independent
here (``Algorithm.timing_dependence``), so the iteration at which a seed reaches the target is the same
on any network, and with fixed costs and identical workers the virtual time of iteration i is the same
for every seed (checked on the base runs: the largest relative spread is written).  The time of
iteration i at a grid point is the short replay's steady state extended to i,
``T(i) = T(b) + (i - b) (T(b) - T(a)) / (b - a)`` for its two evaluations a < b -- checked against the
main runs at the base point (every seed, every evaluation).  Gaia and the relaxed-consistency ps are
timing-dependent: their times are their own runs' at the points where they were trained, where each
is one more contender.  A winner is claimed
only where the paired comparison over seeds (analysis.censored) separates it from the runner-up;
otherwise the point is a tie.  Writes regime-map.csv (per point and method), regime-map-winners.csv,
-runs, -tuning, -settings, -checks, -costs, -trained and -trained-runs csv files, the break-even data size
(-datasize: scripts/regime_map_datasize.py), the map re-derived at
other targets (-target, -target-summary, -target-reach: scripts/regime_map_target.py), regime-map-table.md,
two figures and the page's generated sections.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import regime_map_datasize  # scripts/, beside this file
from regime_map_deadline import deadline_runs, deadline_section  # scripts/, beside this file
from regime_map_figures import USD_PER_GB, figure_cost, figure_map  # scripts/, beside this file
from regime_map_runs import (
    MAIN_SUITES,
    POINT_COLUMNS,
    alternative_settings,
    gaia_variant,
    hit,
    map_runs,
    map_settings,
    map_trained,
    read_suite,
    read_suites,
    relaxed_check,
    relaxed_method,
    relaxed_variant,
    tuning,
)
from regime_map_sections import (
    BANDWIDTH_MBPS,
    RTT_MS,
    STEP_MS,
    checks_section,
    costs_section,
    map_section,
    relaxed_check_section,
    sensitivity_section,
    settings_section,
    tables,
    trained_section,
    tuning_section,
)
from regime_map_summary import costs, grid_summary, time_at, trained_points  # scripts/, beside this file
from regime_map_target import target_section, target_sensitivity, target_summary  # scripts/, beside this file

from analysis.page_numbers import replace_generated
from analysis.study_files import write_study_table

POINT = list(POINT_COLUMNS)
OWN_TABLE_TUNINGS = {
    "regime-map-gaia-tune": (("regime-map-gaia-tune",), gaia_variant, "regime-map-gaia-tuning.csv", None),
    "regime-map-relaxed-tune": (("regime-map-relaxed-tune", "regime-map-relaxed-tune2", "regime-map-relaxed-tau"),
                                relaxed_variant, "regime-map-relaxed-tuning.csv", relaxed_method)}
"""The timing-dependent methods' tunings (not replayed): name -> (its suites, how their cells are named, the csv and
page table, and how a chosen variant is named among the trained runs -- None: the choice is not applied to the map,
as Gaia's: its variants differ in the threshold too, and no setting of it reached the target, so map_trained's rule
would keep its runs anyway)."""
TRAINED_SUITES = ("regime-map-gaia", "regime-map-relaxed", "regime-map-relaxed-b", "regime-map-relaxed-c")
"""Suites of the timing-dependent methods, trained at each point they are shown at."""
RETRAINED_SUITES = ("regime-map-relaxed-tuned", "regime-map-relaxed-tuned-b", "regime-map-relaxed-tuned-c",
                    "regime-map-relaxed-tuned-d")
"""Those methods re-trained at a tuned lr (SSP at 2e-3): map_trained decides whether they replace the map's runs;
the runs left out are the check."""


def per_run(suite: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, seed): target reached (and held), iteration, time, WAN bytes, dollars there.
    FedSGD's rows are ps's (with every client each round it is the BSP ps bit for bit: README)."""
    rows = []
    for _, r in suite.iterrows():
        h = hit(r["metrics"])
        base = {"seed": int(r["seed"]), "lr": r["lr"], "reached": bool(h["reached"]), "iteration": h["iteration"],
                "base_time_s": h["virtual_time_s"], "wan_MB": h["wan_bytes"] / 1e6, "egress_usd": h["egress_usd"],
                "final_hqf": float(r["metrics"]["high_quality_fraction"].iloc[-1]),
                "final_modes": float(r["metrics"]["modes_covered"].iloc[-1])}
        rows.append({"method": r["family"], **base})
        if r["family"] == "ps":
            rows.append({"method": "fedsgd", **base, "base_time_s": math.nan, "wan_MB": math.nan,
                         "egress_usd": math.nan})
    return pd.DataFrame(rows).sort_values(["method", "seed"]).reset_index(drop=True)


def timing(roots: list[Path], variants: dict[str, str]) -> pd.DataFrame:
    """Per (method, grid point): the short replay's two evaluations (a, T(a)), (b, T(b)) and bytes per
    iteration, of the variant the map uses (``variants``: family -> method; the clients' Adam state and
    the learning rate change no message, so ``-keep`` and lr are ignored)."""
    want = {v.replace("-keep", "") for v in variants.values()} | {"fedsgd"}
    rows = []
    for root in roots:
        for _, r in read_suite(root).iterrows():
            if r["method"] not in want:
                continue
            m = r["metrics"].sort_values("iteration")
            (a, ta, wa), (b, tb, wb) = m[["iteration", "virtual_time_s", "wan_bytes"]].tail(2).to_numpy()
            rows.append({"method": r["family"], "bandwidth_Mbps": BANDWIDTH_MBPS[float(r["bandwidth_scale"])],
                         "rtt_ms": RTT_MS[float(r["latency_scale"])], "step_ms": STEP_MS[float(r["compute_scale"])],
                         "a": a, "t_a": ta, "b": b, "t_b": tb, "s_per_iteration": (tb - ta) / (b - a),
                         "wan_b": wb, "wan_per_iteration": (wb - wa) / (b - a)})
    missing = {f for f, v in variants.items() if f not in {row["method"] for row in rows}}
    if missing:
        raise SystemExit(f"no timing replays for {sorted(missing)}: run a timing suite of the variant the map uses")
    return pd.DataFrame(rows)


def checks(suite: pd.DataFrame, tim: pd.DataFrame) -> pd.DataFrame:
    """Seed independence of T(i) at the base point, and the extension against the base runs."""
    rows = []
    for name, group in suite.groupby("family"):
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


def trained_runs(roots: list[Path]) -> pd.DataFrame:
    """The timing-dependent methods' runs (trained at each point): per (method, point, seed) reached and
    held, the run's own virtual time, WAN MB and dollars at the target."""
    rows = []
    for root in roots:
        if not (root / "index.csv").is_file():
            continue
        for _, r in read_suite(root).iterrows():
            h, m = hit(r["metrics"]), r["metrics"].sort_values("iteration")
            rows.append({"method": r["method"], "bandwidth_Mbps": BANDWIDTH_MBPS[float(r["bandwidth_scale"])],
                         "rtt_ms": RTT_MS[float(r["latency_scale"])], "step_ms": STEP_MS[float(r["compute_scale"])],
                         "seed": int(r["seed"]), "lr": r["lr"], "reached": bool(h["reached"]),
                         "iteration": h["iteration"], "time_s": h["virtual_time_s"] if h["reached"] else math.inf,
                         "wan_MB": h["wan_bytes"] / 1e6, "egress_usd": h["egress_usd"],
                         "ms_per_clock": 1e3 * float(m["virtual_time_s"].iloc[-1] / m["iteration"].iloc[-1]),
                         "final_wan_MB": float(m["wan_bytes"].iloc[-1]) / 1e6,
                         "final_hqf": float(m["high_quality_fraction"].iloc[-1]),
                         "final_modes": float(m["modes_covered"].iloc[-1])})
    columns = ["method", *POINT, "seed", "reached", "iteration", "time_s", "wan_MB", "egress_usd"]
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(rows).sort_values(["method", *POINT, "seed"]).reset_index(drop=True)


def fill_fedsgd_bytes(runs: pd.DataFrame, tim: pd.DataFrame) -> pd.DataFrame:
    """FedSGD's WAN bytes at its target iteration, by the same extension as time (its bytes do not depend
    on values or network), and its dollars at the base topology's one price (USD_PER_GB on every link)."""
    t = tim[(tim["method"] == "fedsgd")].iloc[0]
    rows = runs["method"] == "fedsgd"
    nbytes = t["wan_b"] + (runs.loc[rows, "iteration"] - t["b"]) * t["wan_per_iteration"]
    runs.loc[rows, "wan_MB"] = nbytes / 1e6
    runs.loc[rows, "egress_usd"] = nbytes / 1e9 * USD_PER_GB
    return runs


def sensitivity(every: pd.DataFrame, settings: pd.DataFrame, runs: pd.DataFrame, tim: pd.DataFrame,
                trained: pd.DataFrame, win: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every point whose fastest method or verdict changes when one family runs another setting it has as
    many fresh seeds of (alternative_settings): the map's answer and the other one, side by side; and per
    alternative, seed by seed, which setting reached the target sooner (iterations, on the seeds both ran;
    ``runs``: the map's own per-run rows)."""
    key = ["map", *POINT]
    rows, seeds = [], []
    for alt in alternative_settings(every, settings):
        changed = alt[(alt["map_lr"] != settings["map_lr"]) | (alt["map_method"] != settings["map_method"])].iloc[0]
        mine = settings.loc[changed.name]
        alt_runs = per_run(map_runs(every, alt))
        _, other = grid_summary(fill_fedsgd_bytes(alt_runs, tim), tim, trained)
        both = win.merge(other, on=key, suffixes=("", "_alt"))
        moved = both[(both["fastest"] != both["fastest_alt"]) | (both["winner"] != both["winner_alt"])]
        for _, r in moved.iterrows():
            rows.append({"family": changed["family"], "map_lr": float(mine["map_lr"]),
                         "alt_lr": float(changed["map_lr"]), **{k: r[k] for k in key},
                         **{f"{c}{sfx}": r[f"{c}{sfx}"] for sfx in ("", "_alt")
                            for c in ("fastest", "runner_up", "winner", "margin", "p_value")}})
        a = runs[runs["method"] == changed["family"]].set_index("seed")["iteration"]
        b = alt_runs[alt_runs["method"] == changed["family"]].set_index("seed")["iteration"]
        common = a.index.intersection(b.index)
        a, b = a[common].fillna(math.inf), b[common].fillna(math.inf)
        seeds.append({"family": changed["family"], "map_lr": float(mine["map_lr"]), "alt_lr": float(changed["map_lr"]),
                      "seeds": len(common), "map_median_iterations": float(a.median()),
                      "alt_median_iterations": float(b.median()), "map_later": int((a > b).sum()),
                      "map_sooner": int((a < b).sum()), "equal": int((a == b).sum())})
    columns = ["family", "map_lr", "alt_lr", *key]
    return pd.DataFrame(rows, columns=columns if not rows else None), pd.DataFrame(seeds)


@dataclass
class MapAnalysis:
    """What the map rests on, at the target in regime_map_runs.TARGET: the tuning and the settings it gives,
    the fresh-seed runs and their replayed times, the trained methods' runs (on the map and the others) with
    their own tunings, and per point each method's censored summary (``per``) and the winners (``win``)."""

    tune: pd.DataFrame
    every: pd.DataFrame
    settings: pd.DataFrame
    suite: pd.DataFrame
    tim: pd.DataFrame
    runs: pd.DataFrame
    trained: pd.DataFrame
    other: pd.DataFrame
    own_tunings: dict[str, tuple[pd.DataFrame, dict]]
    per: pd.DataFrame
    win: pd.DataFrame


def analyse(root: Path) -> MapAnalysis:
    """The map from the suites under ``root`` (regime_map_target runs it again at other targets)."""
    tune, tuned = tuning(root)
    every = read_suites(root, MAIN_SUITES)
    settings = map_settings(every, tuned)
    suite = map_runs(every, settings)
    tim = timing([root / "regime-map-timing", root / "regime-map-timing-fedavg"],
                 dict(zip(settings["family"], settings["map_method"], strict=True)))
    runs = fill_fedsgd_bytes(per_run(suite), tim)
    trained = trained_runs([root / name for name in TRAINED_SUITES])
    other = trained_runs([root / name for name in RETRAINED_SUITES])
    own_tunings = {}
    for name, (suites, namer, _, to_method) in OWN_TABLE_TUNINGS.items():
        if (root / suites[0] / "index.csv").is_file():
            own_tunings[name] = own, chosen = tuning(root, suites, namer)
            if to_method is not None and len(trained):
                trained, other = map_trained(trained, other, own, chosen, to_method)
    per, win = grid_summary(runs, tim, trained)
    return MapAnalysis(tune, every, settings, suite, tim, runs, trained, other, own_tunings, per, win)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="results root holding the regime-map* suites")
    parser.add_argument("out", type=Path, help="docs/studies")
    args = parser.parse_args()
    a = analyse(args.root)
    tune, every, settings, suite, tim, runs = a.tune, a.every, a.settings, a.suite, a.tim, a.runs
    trained, other, own_tunings, per, win = a.trained, a.other, a.own_tunings, a.per, a.win
    tune.to_csv(args.out / "regime-map-tuning.csv", index=False, float_format="%.6g")
    print(tune.to_string(index=False))
    settings.to_csv(args.out / "regime-map-settings.csv", index=False, float_format="%.6g")
    print(settings.to_string(index=False))
    runs.to_csv(args.out / "regime-map-runs.csv", index=False, float_format="%.6g")
    chk = checks(suite, tim)
    for column in ("seed_spread_rel", "extension_error_rel"):  # as the page shows them (2 significant digits)
        chk[column] = [float(f"{v:.2g}") for v in chk[column]]
    chk.to_csv(args.out / "regime-map-checks.csv", index=False, float_format="%.6g")
    print(chk.to_string(index=False))
    per.to_csv(args.out / "regime-map.csv", index=False, float_format="%.6g")
    tpts = trained_points(trained, per) if len(trained) else pd.DataFrame()
    trained.to_csv(args.out / "regime-map-trained-runs.csv", index=False, float_format="%.6g")
    tpts.to_csv(args.out / "regime-map-trained.csv", index=False, float_format="%.6g")
    sens, sens_seeds = sensitivity(every, settings, runs, tim, trained, win)
    sens.to_csv(args.out / "regime-map-sensitivity.csv", index=False, float_format="%.6g")
    sens_seeds.to_csv(args.out / "regime-map-sensitivity-seeds.csv", index=False, float_format="%.6g")
    cost = costs(runs)
    cost.to_csv(args.out / "regime-map-costs.csv", index=False, float_format="%.6g")
    write_study_table(win, tables(win, cost), args.out, "regime-map-winners")
    (args.out / "regime-map-table.md").write_text((args.out / "regime-map-winners-table.md").read_text())
    (args.out / "regime-map-winners-table.md").unlink()
    figure_map(win, args.out, sens)
    figure_cost(runs, tim, args.out)
    page = args.out / "regime-map.md"
    replace_generated(page, "regime-map-winners.csv", map_section(win))
    replace_generated(page, "regime-map-tuning.csv", tuning_section(tune))
    replace_generated(page, "regime-map-settings.csv regime-map-runs.csv", settings_section(settings, runs))
    replace_generated(page, "regime-map-checks.csv", checks_section(chk))
    replace_generated(page, "regime-map-costs.csv", costs_section(cost))
    be = regime_map_datasize.write(win, per, cost, args.out)
    replace_generated(page, "regime-map-datasize.csv", regime_map_datasize.datasize_section(be))
    dchk = regime_map_datasize.check(args.root, be, runs)
    if len(dchk):
        dchk.to_csv(args.out / "regime-map-datasize-check.csv", index=False, float_format="%.6g")
        replace_generated(page, "regime-map-datasize-check.csv", regime_map_datasize.check_section(dchk))
    replace_generated(page, "regime-map-trained.csv", trained_section(tpts))
    replace_generated(page, "regime-map-sensitivity.csv", sensitivity_section(sens))
    for name, (own, _) in own_tunings.items():
        csv_name = OWN_TABLE_TUNINGS[name][2]
        own.to_csv(args.out / csv_name, index=False, float_format="%.6g")
        replace_generated(page, csv_name, tuning_section(own))
    if len(other):
        rchk = relaxed_check(other, trained, win)
        rchk.to_csv(args.out / "regime-map-relaxed-check.csv", index=False, float_format="%.6g")
        replace_generated(page, "regime-map-relaxed-check.csv", relaxed_check_section(rchk))
    dl = deadline_runs(args.root)
    if len(dl):
        dl.to_csv(args.out / "regime-map-deadline.csv", index=False, float_format="%.6g")
        replace_generated(page, "regime-map-deadline.csv", deadline_section(dl))
    moved, reach = target_sensitivity(analyse, args.root, a)
    moved.to_csv(args.out / "regime-map-target.csv", index=False, float_format="%.6g")
    reach.to_csv(args.out / "regime-map-target-reach.csv", index=False, float_format="%.6g")
    target_summary(moved).to_csv(args.out / "regime-map-target-summary.csv", index=False, float_format="%.6g")
    replace_generated(page, "regime-map-target.csv regime-map-target-reach.csv regime-map-target-summary.csv",
                      target_section(moved, reach))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
