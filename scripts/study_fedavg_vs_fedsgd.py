"""FedSGD vs FedAvg E = 1 and E = 5 (docs/studies/fedavg-vs-fedsgd.md): pilot, tuning choice, censored
rounds to target, paired tests, figure and the page's generated tables.

Usage: python scripts/study_fedavg_vs_fedsgd.py RESULTS_ROOT OUT_DIR

Why a script of its own: McMahan et al.'s claim is about *communication rounds* to a target, so this
study counts rounds (not virtual time) and pairs FedSGD with each FedAvg setting, and E = 1 with E = 5,
on the same fresh seeds (in local steps too: E's effect is steps per round); its tuning grid is per
method *and* per E (E is the compared factor), with FedAvg's client Adam state (fresh each round or kept)
as a second round.  The criterion, the censored summaries and the
paired tests are gaia-vs-ps's (:mod:`analysis.study_stats`, :mod:`analysis.censored`).  Reads the suites
under RESULTS_ROOT: ``fedavg-vs-fedsgd-pilot`` and ``-tune`` (tuning seed 1000), ``-tune-e1-1001`` and
``-tune-1001`` (the same grid on tuning seed 1001), ``-tune2`` (client_state keep), ``fedavg-vs-fedsgd``
(FedSGD and E = 5, fresh seeds) and ``-e1`` (E = 1, fresh seeds).  Writes
under OUT_DIR: ``fedavg-vs-fedsgd-tuning.csv`` (every tuning run, each setting's criterion values and the
choice), ``fedavg-vs-fedsgd.csv`` (every evaluation run), ``fedavg-vs-fedsgd-summary.csv`` (every number the
page quotes, long form), ``fedavg-vs-fedsgd-table.md``, ``fedavg-vs-fedsgd.png`` and the page's generated
tables between their ``begin numbers`` marks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis.censored import censored_summary, paired_comparison
from analysis.page_numbers import replace_generated
from analysis.script_args import positional
from analysis.study_files import write_study_table
from analysis.study_stats import (
    RING8_COVERAGE,
    censored_rows,
    complete_runs,
    median_interval,
    never,
    paired_series,
    ratio_interval,
    two_round_choice,
)
from analysis.style import method_colors, new_figure, plot_seeds, save

TARGET = RING8_COVERAGE
"""Issue 25's ring8 coverage target, fixed by the pilot before the tuning and evaluation runs."""
NAME = "fedavg-vs-fedsgd"
TUNE_SUITES = (f"{NAME}-pilot", f"{NAME}-tune", f"{NAME}-tune-e1-1001", f"{NAME}-tune-1001", f"{NAME}-tune2")
"""Tuning seeds 1000 (pilot, tune) and 1001 (tune-e1-1001, tune-1001) form round 1; ``tune2`` is round 2."""
ROUND2 = "tune2"
EVAL_SUITES = (NAME, f"{NAME}-e1")
SERIES = ("fedsgd", "fedavg-e1", "fedavg-e5")
PAIRS = (("fedsgd", "fedavg-e1"), ("fedsgd", "fedavg-e5"), ("fedavg-e1", "fedavg-e5"))
"""(A, B) paired on the seeds both ran, ratios A / B: the paper's FedSGD / FedAvg for each E, and E = 1 / E = 5."""
TIMES = (("iteration", "rounds"), ("virtual_time_s", "virtual_s"), ("wan_MB", "wan_MB"), ("steps", "steps"))
"""Times to the target (column, name): rounds, virtual s, WAN MB and optimiser steps (rounds x steps per round)."""
BUDGET = {"fedsgd": 3000, "fedavg-e1": 300, "fedavg-e5": 80}
"""Rounds per run, fixed by the pilot before tuning; the pilot's longer runs are cut to them (constant lr)."""
KEY = ["series", "client_state", "lr"]
"""What one tuned setting is (the batch, the budget and the rest are the study's)."""


def series_of(config: dict) -> str:
    """``fedsgd`` or ``fedavg-eE`` from a run's config."""
    alg = config["algorithm"]
    return "fedsgd" if alg["name"] == "fedsgd" else f"fedavg-e{int(alg.get('local_epochs', 1))}"


def steps_per_round(config: dict, n_per_client: int) -> int:
    """Optimiser steps per round on the trained weights: FedSGD one server Adam step, FedAvg E x n_k / B
    local steps per client."""
    alg = config["algorithm"]
    if alg["name"] == "fedsgd":
        return 1
    return int(alg.get("local_epochs", 1)) * -(-n_per_client // int(alg.get("batch_size", 50)))


def stay_fraction(metrics: pd.DataFrame, reached_at: float) -> float:
    """Of the evaluations from the one at which a run reached and held the target to its last, the fraction
    that meet the target (NaN if it never reached it): whether "held" lasted beyond the next evaluation."""
    if reached_at != reached_at:
        return float("nan")
    after = metrics[metrics["iteration"] >= reached_at]
    ok = np.ones(len(after), dtype=bool)
    for metric, (threshold, _) in TARGET.items():  # both conditions are "at least"
        ok &= after[metric].to_numpy(dtype=float) >= threshold
    return float(ok.mean())


def read_suite(root: Path, stage: str) -> pd.DataFrame:
    """One row per complete run of suite ``root``: setting, seed, reach of the target, final quality."""
    rows = []
    for row, config, metrics in complete_runs(root, TARGET, lambda c: BUDGET[series_of(c)]):
        n_k = int(config["dataset"]["n"]) // 12  # wan-3dc's 12 clients, iid
        rows.append({"stage": stage, "series": series_of(config),
                     "client_state": str(config["algorithm"].get("client_state", "reset"))
                     if config["algorithm"]["name"] == "fedavg" else "server",
                     "steps_per_round": steps_per_round(config, n_k), **row,
                     "steps": row["iteration"] * steps_per_round(config, n_k),  # optimiser steps to the target
                     "peak_hqf": float(metrics["high_quality_fraction"].max()),
                     "stay_fraction": stay_fraction(metrics, row["iteration"])})
    return pd.DataFrame(rows)


def read_suites(root: Path, names: tuple[str, ...]) -> pd.DataFrame:
    found = [read_suite(root / n, n.removeprefix(NAME).strip("-") or "eval").assign(suite=n)
             for n in names if (root / n / "index.csv").is_file()]
    found = [f for f in found if len(f)]  # a suite still running has an index but maybe no complete run
    if not found:
        raise SystemExit(f"{root}: none of the suites {', '.join(names)} has an index.csv; run them first")
    return pd.concat(found, ignore_index=True)


def tuning(df: pd.DataFrame) -> pd.DataFrame:
    """Each tuning run with its setting's criterion values; ``chosen`` marks each series' setting.
    Round 1 (every stage but ``tune2``: the pilot's runs are grid points on tuning seed 1000, the
    ``-1001`` suites the same grid on tuning seed 1001) picks each series' lr over *all* its tuning seeds;
    round 2 (``tune2``: FedAvg's client Adam kept at that lr) is compared with round 1's choice on round
    2's seeds only, by the same criterion."""
    out, _ = two_round_choice(df[df["stage"] != ROUND2], df[df["stage"] == ROUND2], KEY)
    out["stage"] = out["stage"].replace({"pilot": "pilot (tune)"})
    return out.sort_values(["series", "client_state", "lr", "seed"], kind="stable").reset_index(drop=True)


def choice(t: pd.DataFrame) -> dict[str, tuple[str, float]]:
    """Per series the chosen (client_state, lr)."""
    c = t[t["chosen"]].drop_duplicates("series")
    return {r.series: (r.client_state, r.lr) for r in c.itertuples()}


def tuning_markdown(t: pd.DataFrame) -> str:
    out = ("| stage | series | client Adam | lr | seed | rounds run | reached and held | round | score (last four) "
           "| peak / final high-quality fraction | final modes | setting: seeds reaching | setting: median round "
           "| chosen |\n|" + "---|" * 14 + "\n")
    for r in t.itertuples():
        out += (f"| {r.stage} | {r.series} | {r.client_state} | {r.lr:g} | {r.seed} | {r.run_iterations} | "
                f"{'yes' if r.reached else 'no'} | {never(r.iteration, '.0f')} | {r.score_last4:.3f} | "
                f"{r.peak_hqf:.3f} / {r.final_hqf:.3f} | {r.final_modes:.0f} | "
                f"{r.setting_reached:.0f} of {r.setting_seeds:.0f} | "
                f"{never(r.setting_median_iteration, '.0f')} | {'**chosen**' if r.chosen else ''} |\n")
    return out


def summary(ev: pd.DataFrame, chosen: dict[str, tuple[str, float]]) -> pd.DataFrame:
    """Long form (series, quantity, value): censored summaries per series, with the tuning's ``chosen``
    (client_state, lr) and whether the fresh seeds ran it; each pair of :data:`PAIRS` on the seeds both ran
    (ratio A / B, so > 1 means B needs fewer rounds)."""
    rows: list[tuple[str, str, float | str]] = [("all", "interval_percent", 95)]  # censored_summary's level
    for series, g in ev.groupby("series", sort=True):
        state = str(g["client_state"].iloc[0])
        rows += [(series, "seeds", len(g)), (series, "reached", int(g["reached"].sum())),
                 (series, "rounds_run", int(g["run_iterations"].max())), (series, "lr", g["lr"].iloc[0]),
                 (series, "client_state", state), (series, "tuned_lr", chosen[series][1]),
                 (series, "tuned_client_state", chosen[series][0]),
                 (series, "runs_tuned_choice", int(chosen[series] == (state, g["lr"].iloc[0]))),
                 (series, "steps_per_round", int(g["steps_per_round"].iloc[0])),
                 (series, "local_epochs", int(series.removeprefix("fedavg-e")) if series != "fedsgd" else 0),
                 (series, "final_hqf_median", g["final_hqf"].median()),
                 (series, "final_modes_median", g["final_modes"].median()),
                 (series, "peak_hqf_median", g["peak_hqf"].median()),
                 (series, "stay_fraction_median", g["stay_fraction"].median()),
                 (series, "stay_fraction_min", g["stay_fraction"].min()),
                 (series, "run_virtual_s", g["run_virtual_s"].mean()), (series, "run_wan_MB", g["run_wan_MB"].mean()),
                 (series, "wan_MB_per_round", (g["run_wan_MB"] / g["run_iterations"]).mean()),
                 (series, "virtual_s_per_round", (g["run_virtual_s"] / g["run_iterations"]).mean()),
                 (series, "run_wall_s_mean", g["run_wall_s"].mean())]
        rows += censored_rows(series, g, TIMES)
        rows += [(series, f"rounds_seed{int(s)}", r) for s, r in zip(g["seed"], g["iteration"], strict=True)
                 if r == r]
    for series_a, series_b in PAIRS:
        paired = paired_series(ev, series_a, series_b, "iteration", TIMES)
        if paired is None:
            continue
        aa, bb, pair_rows = paired
        name = f"{series_a} vs {series_b}"
        seeds = list(aa.index)
        rows += pair_rows
        median_b = censored_summary(bb["iteration"].fillna(0), bb["reached"], n_boot=1).median
        if not aa["reached"].sum() * 2 > len(seeds) and np.isfinite(median_b):  # A's median is censored:
            rows.append((name, "rounds_ratio_budget_bound", aa["run_iterations"].max() / median_b))  # its budget
        q = paired_comparison(aa["final_hqf"], [True] * len(seeds), bb["final_hqf"], [True] * len(seeds))
        rows += [(name, "final_hqf_ratio", q.ratio), (name, "final_hqf_p", q.p_value)]
    return pd.DataFrame(rows, columns=["series", "quantity", "value"])


def results_markdown(st: pd.DataFrame) -> str:
    v = {(s, q): x for s, q, x in st.itertuples(index=False)}
    series = [s for s in SERIES if (s, "seeds") in v]
    out = ("| series | lr | tuning's choice (over its tuning seeds) | rounds run "
           "| seeds reaching and holding the target | median rounds [95 %] "
           "| median virtual s [95 %] | median WAN MB [95 %] | median optimiser steps [95 %] | WAN MB per round "
           "| after reaching: share of evaluations on target (median, lowest) | peak / final high-quality fraction "
           "(median) | final modes (median) |\n|" + "---|" * 13 + "\n")
    for s in series:
        tuned = "the same" if v[s, "runs_tuned_choice"] else f"{v[s, 'tuned_client_state']} {v[s, 'tuned_lr']:g}"
        out += (f"| {s} | {v[s, 'lr']:g} | {tuned} | {v[s, 'rounds_run']:.0f} | "
                f"{v[s, 'reached']:.0f} of {v[s, 'seeds']:.0f} | "
                f"{median_interval(v, s, 'rounds')} | {median_interval(v, s, 'virtual_s')} | "
                f"{median_interval(v, s, 'wan_MB')} | {median_interval(v, s, 'steps')} | "
                f"{v[s, 'wan_MB_per_round']:.4g} | {never(v[s, 'stay_fraction_median'], '.2f')}, "
                f"{never(v[s, 'stay_fraction_min'], '.2f')} | {v[s, 'peak_hqf_median']:.3f} / "
                f"{v[s, 'final_hqf_median']:.3f} | "
                f"{v[s, 'final_modes_median']:.0f} |\n")
    out += ("\n| paired by seed (A vs B) | seeds | A sooner / B sooner | rounds to target: ratio of medians A/B "
            "[95 %], p | virtual s: ratio [95 %], p | WAN MB: ratio [95 %], p | optimiser steps: ratio [95 %], p "
            "| verdict (rounds) | final high-quality fraction: ratio of medians, p |\n|" + "---|" * 9 + "\n")
    for s in [s for s in st["series"].unique() if " vs " in s]:
        def pair(q: str, s: str = s) -> str:
            return ratio_interval(v, s, q)
        out += (f"| {s} | {v[s, 'paired_seeds']:.0f} | {v[s, 'seeds_a_sooner']:.0f} / {v[s, 'seeds_b_sooner']:.0f} | "
                f"{pair('rounds')} | {pair('virtual_s')} | {pair('wan_MB')} | {pair('steps')} | "
                f"{v[s, 'rounds_verdict']} | "
                f"{v[s, 'final_hqf_ratio']:.3g}, p = {v[s, 'final_hqf_p']:.2g} |\n")
    return out


def figure(root: Path, ev: pd.DataFrame, out_dir: Path) -> None:
    """High-quality fraction and modes covered vs communication rounds (log): one colour per series, every
    seed thin, the mean ± std band over seeds (all seeds of a series share its rounds, so the band runs to
    the last round), a dot where a seed reaches and holds the target."""
    colors = method_colors(SERIES)
    fig = new_figure(13, 4.6)
    axes = fig.subplots(1, 2)
    for series in [s for s in SERIES if (ev["series"] == s).any()]:
        runs = ev[ev["series"] == series]
        metrics = [pd.read_csv(root / r.suite / r.run_dir / "metrics.csv").sort_values("iteration").iloc[1:]
                   for r in runs.itertuples()]
        label = f"{series} (lr {runs['lr'].iloc[0]:g})"
        for ax, metric in zip(axes, ("high_quality_fraction", "modes_covered"), strict=True):
            curves = [(m["iteration"].to_numpy(float), m[metric].to_numpy(float)) for m in metrics]
            plot_seeds(ax, curves, {"color": colors[series], "lw": 2}, metric, label)
        hits = runs[runs["reached"]]
        axes[0].scatter(hits["iteration"], [TARGET["high_quality_fraction"][0]] * len(hits), color=colors[series],
                        s=20, zorder=3, edgecolor="k", lw=0.4)
    for ax, metric, (level, _) in zip(axes, ("high-quality fraction", "modes covered (of 8)"), TARGET.values(),
                                      strict=True):
        ax.axhline(level, color="k", ls="--", lw=1)
        ax.set(xscale="log", xlabel="communication rounds (log)", ylabel=metric)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylim(0, 1)
    axes[1].set_ylim(0, 8.3)
    axes[0].set_title("quality vs rounds (dashed: target 0.7; dots: a seed reaches and holds >= 0.7 and >= 7 modes)",
                      fontsize=8)
    axes[1].set_title("modes covered vs rounds (dashed: 7 of 8)", fontsize=9)
    axes[0].legend(fontsize=7, loc="upper left")
    save(fig, out_dir, NAME)


def main(root_arg: str, out_arg: str) -> None:
    root, out = Path(root_arg), Path(out_arg)
    t = tuning(read_suites(root, TUNE_SUITES))
    t.drop(columns=["run_dir", "suite"]).to_csv(out / f"{NAME}-tuning.csv", index=False)
    (out / f"{NAME}-tuning-table.md").write_text(tuning_markdown(t))
    ev = read_suites(root, EVAL_SUITES)
    st = summary(ev, choice(t))
    st.to_csv(out / f"{NAME}-summary.csv", index=False)  # full precision: the page rounds from it
    write_study_table(ev.drop(columns=["stage", "suite", "run_dir"]), results_markdown(st), out, NAME)
    figure(root, ev, out)
    page = out / f"{NAME}.md"
    if page.exists():
        replace_generated(page, f"{NAME}-tuning.csv", tuning_markdown(t))
        replace_generated(page, f"{NAME}-summary.csv {NAME}.csv", results_markdown(st))


if __name__ == "__main__":
    main(*positional(__doc__, "results_root", "out_dir"))
