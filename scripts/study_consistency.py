"""Parameter-server consistency with one slow, far datacenter (docs/studies/consistency.md), tuned: each
consistency model's lr chosen on tuning seeds, censored time to target on fresh seeds, paired tests,
staleness, figure and the page's generated tables.

Usage: python scripts/study_consistency.py RESULTS_ROOT OUT_DIR

Why a script of its own: the page compares four consistency models at *equal gradients* (BSP's update is
the mean of three, the others' one push), so its unit is gradients and virtual time, not iterations; it
pairs every relaxed model with BSP and with each other on the same fresh seeds; and it reads each push's
staleness off the traffic log.  The tuning criterion, the censored summaries and the paired tests are the
other tuned studies' (:mod:`analysis.study_stats`, :mod:`analysis.censored`).  Reads the suites under
RESULTS_ROOT: ``consistency-tune`` (tuning seeds 1000 and 1001) and ``consistency-tuned`` (the chosen lrs,
fresh seeds 0-9).  Writes under OUT_DIR: ``consistency-tuning.csv`` (every tuning run, each setting's
criterion values and the choice), ``consistency-tuned.csv`` (every evaluation run),
``consistency-tuned-summary.csv`` (every number the page quotes, long form), ``consistency-tuned-table.md``,
``consistency-tuned.png`` and the page's generated tables between their ``begin numbers`` marks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis.page_numbers import replace_generated
from analysis.runfiles import read_traffic_log
from analysis.script_args import positional
from analysis.staleness import push_staleness
from analysis.study_files import write_study_table
from analysis.study_stats import (
    censored_rows,
    complete_runs,
    median_interval,
    never,
    paired_rows,
    paired_series,
    ratio_interval,
    two_round_choice,
)
from analysis.style import method_colors, new_figure, plot_seeds, save

TARGET = {"high_quality_fraction": (0.3, True), "modes_covered": (7.0, True)}
"""Fixed from the tuning runs before the fresh seeds ran: the highest high-quality fraction of {0.7, 0.6, 0.5, 0.4,
0.3}, with >= 7 of 8 modes, that every series reaches and holds on both tuning seeds at one of its lrs (issue 25's
0.7 is out of this budget's reach: no tuning run passes 0.64; the page gives each level's count)."""
TUNE_SUITES = ("consistency-tune", "consistency-tune2")
"""Round 1 (every series at lr 2e-3, 5e-3, 1e-2); round 2 (the next lr beyond a round-1 choice at the grid's edge)."""
EVAL_SUITE = NAME = "consistency-tuned"
ALT_SUITE = "consistency-tuned-alt"
"""If run: SSP tau = 8 at tau = 2's lr on the same fresh seeds (series ``ssp-8-alt``), a sensitivity check decided
after the fresh-seed results -- reported beside the tuned choice, never instead of it, and left out of the figure."""
SERIES = ("bsp", "ssp-2", "ssp-8", "eventual", "ssp-8-alt")
CONSISTENCY = {"bsp": "sequential", "ssp-2": "bounded_delay", "ssp-8": "bounded_delay", "eventual": "eventual",
               "ssp-8-alt": "bounded_delay"}
GRADIENTS_PER_ITERATION = {"bsp": 3, "ssp-2": 1, "ssp-8": 1, "eventual": 1, "ssp-8-alt": 1}
"""wan-3dc-lite's three workers: a BSP update averages one push of each, a relaxed one applies one push."""
PAIRS = (("bsp", "ssp-2"), ("bsp", "ssp-8"), ("bsp", "eventual"), ("ssp-2", "ssp-8"), ("ssp-2", "eventual"),
         ("ssp-2", "ssp-8-alt"), ("ssp-8", "ssp-8-alt"))
"""(A, B): ratios A / B, so > 1 means B reaches the target sooner (the paper: relaxed sooner than strict)."""
TIMES = (("virtual_time_s", "virtual_s"), ("gradients", "gradients"), ("wan_MB", "wan_MB"))
KEY = ["series", "lr"]


def series_of(cell: str) -> str:
    """``ssp-2_lr0.005`` -> ``ssp-2`` (the suites name every cell series_lrX)."""
    return cell.split("_lr", 1)[0]


def read_suite(root: Path, stage: str, staleness: bool = False) -> pd.DataFrame:
    """One row per complete run of suite ``root``: setting, seed, reach of the target (in iterations,
    gradients, virtual s, WAN MB), final quality, and (``staleness``) its pushes' mean and largest staleness."""
    if not (root / "index.csv").is_file():
        raise SystemExit(f"{root}: no index.csv -- run experiments/studies/{root.name}.yaml there first "
                         "(the page's Commands), or give the results root that holds it")
    rows = []
    for row, _config, _metrics in complete_runs(root, TARGET):
        series = series_of(row["cell"])
        extra = {}
        if staleness:
            s = push_staleness(read_traffic_log(root / row["run_dir"]), CONSISTENCY[series])["staleness"]
            extra = {"staleness_mean": float(s.mean()), "staleness_max": float(s.max())}
        rows.append({"stage": stage, "suite": root.name, "series": series, **row,
                     "gradients": row["iteration"] * GRADIENTS_PER_ITERATION[series],
                     "run_gradients": row["run_iterations"] * GRADIENTS_PER_ITERATION[series], **extra})
    if not rows:
        raise SystemExit(f"{root}: no complete run; run the suite first")
    return pd.DataFrame(rows)


def tuning(round1: pd.DataFrame, round2: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each tuning run with its setting's criterion values (over both tuning seeds); ``chosen`` marks each
    series' lr.  Round 2's lrs (beyond a round-1 choice at the grid's edge) are ranked against that choice."""
    out, _ = two_round_choice(round1, round1.iloc[0:0] if round2 is None else round2, KEY)
    order = {s: i for i, s in enumerate(SERIES)}
    return out.sort_values(["series", "lr", "seed"], key=lambda c: c.map(order) if c.name == "series" else c,
                           kind="stable").reset_index(drop=True)


def tuning_markdown(t: pd.DataFrame) -> str:
    out = ("| round | series | lr | seed | reached and held | gradients to target | virtual s to target "
           "| score (last four) | final high-quality fraction | final modes | setting: seeds reaching "
           "| setting: median iteration | setting: mean score | chosen |\n|" + "---|" * 14 + "\n")
    for r in t.itertuples():
        out += (f"| {r.stage} | {r.series} | {r.lr:g} | {r.seed} | {'yes' if r.reached else 'no'} | "
                f"{never(r.gradients, '.0f')} | "
                f"{never(r.virtual_time_s, '.1f')} | {r.score_last4:.3f} | {r.final_hqf:.3f} | {r.final_modes:.0f} | "
                f"{r.setting_reached:.0f} of {r.setting_seeds:.0f} | {never(r.setting_median_iteration, '.0f')} | "
                f"{r.setting_score:.3f} | {'**chosen**' if r.chosen else ''} |\n")
    return out


def summary(ev: pd.DataFrame) -> pd.DataFrame:
    """Long form (series, quantity, value): censored summaries per series, and each pair of :data:`PAIRS`
    compared on the seeds both ran (ratio of A's time to B's, paired sign-flip test over seeds)."""
    rows: list[tuple[str, str, float | str]] = [("all", "interval_percent", 95)]  # censored_summary's level
    for series, g in ev.groupby("series", sort=False):
        rows += [(series, "seeds", len(g)), (series, "reached", int(g["reached"].sum())),
                 (series, "lr", g["lr"].iloc[0]),
                 (series, "run_gradients", int(g["run_gradients"].max())),
                 (series, "final_hqf_median", g["final_hqf"].median()),
                 (series, "final_modes_median", g["final_modes"].median()),
                 (series, "run_virtual_s", g["run_virtual_s"].mean()), (series, "run_wan_MB", g["run_wan_MB"].mean()),
                 (series, "staleness_mean", g["staleness_mean"].mean()),
                 (series, "staleness_max", g["staleness_max"].max()),
                 (series, "run_wall_s_mean", g["run_wall_s"].mean())]
        rows += censored_rows(series, g, TIMES)
    for a_name, b_name in PAIRS:
        paired = paired_series(ev, a_name, b_name, "virtual_time_s", TIMES)
        if paired is None:
            continue
        aa, bb, pair_rows = paired
        name = f"{a_name} vs {b_name}"
        rows += pair_rows
        rows += paired_rows(name, aa.assign(final=aa["final_hqf"], reached=True),
                            bb.assign(final=bb["final_hqf"], reached=True), (("final", "final_hqf"),), (a_name, b_name))
    return pd.DataFrame(rows, columns=["series", "quantity", "value"])


def results_markdown(st: pd.DataFrame) -> str:
    v = {(s, q): x for s, q, x in st.itertuples(index=False)}
    out = ("| series | lr | gradients run | seeds reaching and holding the target | median virtual s [95 %] "
           "| median gradients [95 %] | median WAN MB [95 %] | staleness: mean (largest) | final high-quality "
           "fraction (median) | final modes (median) | run: virtual s | run: WAN MB |\n|" + "---|" * 12 + "\n")
    for s in [s for s in SERIES if (s, "seeds") in v]:
        out += (f"| {s} | {v[s, 'lr']:g} | {v[s, 'run_gradients']:.0f} | "
                f"{v[s, 'reached']:.0f} of {v[s, 'seeds']:.0f} | "
                f"{median_interval(v, s, 'virtual_s')} | {median_interval(v, s, 'gradients')} | "
                f"{median_interval(v, s, 'wan_MB')} | {v[s, 'staleness_mean']:.2f} ({v[s, 'staleness_max']:.0f}) | "
                f"{v[s, 'final_hqf_median']:.3f} | {v[s, 'final_modes_median']:.0f} | {v[s, 'run_virtual_s']:.1f} | "
                f"{v[s, 'run_wan_MB']:.1f} |\n")
    out += ("\n| paired by seed (A vs B) | seeds | A sooner / B sooner | virtual s to target: ratio of medians A/B "
            "[95 %], p | gradients: ratio [95 %], p | WAN MB: ratio [95 %], p | verdict (virtual s) | final "
            "high-quality fraction: ratio [95 %], p |\n|" + "---|" * 8 + "\n")
    for s in [s for s in st["series"].unique() if " vs " in s]:
        def pair(q: str, s: str = s) -> str:
            return ratio_interval(v, s, q)
        out += (f"| {s} | {v[s, 'paired_seeds']:.0f} | {v[s, 'seeds_a_sooner']:.0f} / {v[s, 'seeds_b_sooner']:.0f} | "
                f"{pair('virtual_s')} | {pair('gradients')} | {pair('wan_MB')} | {v[s, 'virtual_s_verdict']} | "
                f"{pair('final_hqf')} |\n")
    return out


def figure(root: Path, ev: pd.DataFrame, out_dir: Path) -> None:
    """High-quality fraction vs virtual time (log) and vs gradients computed: one colour per series, every
    seed thin, the seed mean ± std band, a dot where a seed reaches and holds the target."""
    colors = method_colors(SERIES)
    fig = new_figure(13, 4.6)
    axes = fig.subplots(1, 2)
    for series in [s for s in SERIES if (ev["series"] == s).any() and s != "ssp-8-alt"]:
        runs = ev[ev["series"] == series]
        metrics = [pd.read_csv(root / r.suite / r.run_dir / "metrics.csv").sort_values("iteration").iloc[1:]
                   for r in runs.itertuples()]
        label = f"{series} (lr {runs['lr'].iloc[0]:g})"
        per = GRADIENTS_PER_ITERATION[series]
        for ax, x in zip(axes, ("virtual_time_s", "iteration"), strict=True):
            scale = per if x == "iteration" else 1
            curves = [(m[x].to_numpy(float) * scale, m["high_quality_fraction"].to_numpy(float)) for m in metrics]
            plot_seeds(ax, curves, {"color": colors[series], "lw": 2}, "high_quality_fraction", label)
        hits = runs[runs["reached"]]
        for ax, x in zip(axes, ("virtual_time_s", "gradients"), strict=True):
            ax.scatter(hits[x], [TARGET["high_quality_fraction"][0]] * len(hits), color=colors[series], s=20,
                       zorder=3, edgecolor="k", lw=0.4)
    for ax, xlabel in zip(axes, ("virtual time (s, log)", "gradients computed (all workers)"), strict=True):
        ax.axhline(TARGET["high_quality_fraction"][0], color="k", ls="--", lw=1)
        ax.set(xlabel=xlabel, ylabel="high-quality fraction", ylim=(0, 1))
        ax.grid(alpha=0.3, which="both")
    axes[0].set_xscale("log")
    level = TARGET["high_quality_fraction"][0]
    axes[0].set_title(f"quality vs virtual time (dashed: target {level:g}; dots: a seed reaches and holds it with "
                      ">= 7 modes)", fontsize=8)
    axes[1].set_title("quality vs gradients (equal gradients: BSP's update averages 3)", fontsize=9)
    axes[0].legend(fontsize=7, loc="upper left")
    save(fig, out_dir, NAME)


def main(root_arg: str, out_arg: str) -> None:
    root, out = Path(root_arg), Path(out_arg)
    round2 = root / TUNE_SUITES[1]
    t = tuning(read_suite(root / TUNE_SUITES[0], "1"),
               read_suite(round2, "2") if (round2 / "index.csv").is_file() else None)
    t.drop(columns=["run_dir", "suite"]).to_csv(out / "consistency-tuning.csv", index=False)
    (out / "consistency-tuning-table.md").write_text(tuning_markdown(t))
    if not (root / EVAL_SUITE / "index.csv").is_file():
        print(tuning_markdown(t))
        return
    ev = pd.concat([read_suite(root / name, "eval", staleness=True) for name in (EVAL_SUITE, ALT_SUITE)
                    if (root / name / "index.csv").is_file()], ignore_index=True)
    st = summary(ev)
    st.to_csv(out / f"{NAME}-summary.csv", index=False)  # full precision: the page rounds from it
    write_study_table(ev.drop(columns=["stage", "suite", "run_dir"]), results_markdown(st), out, NAME)
    figure(root, ev, out)
    page = out / "consistency.md"
    if page.exists():
        replace_generated(page, "consistency-tuning.csv", tuning_markdown(t))
        replace_generated(page, f"{NAME}-summary.csv {NAME}.csv", results_markdown(st))


if __name__ == "__main__":
    main(*positional(__doc__, "results_root", "out_dir"))
