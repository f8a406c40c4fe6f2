"""Figure, tables and headline of the MD-GAN swap study (docs/studies/mdgan-swap.md).

Usage: python scripts/study_mdgan_swap.py RESULTS/mdgan-swap RESULTS/mdgan-swap-tune OUT_DIR

Tuning (``mdgan-swap-tune``, seed 1000): per cell the mean classifier-FID over iterations >= 200 (the
criterion fixed before the runs), the learning rate chosen per arm (no swap / swap), and the target:
the best FID level the single-machine reference reaches *and holds* at the next evaluation, rounded up
to a multiple of 10 (fixed before the main runs; a first rule, its FID at iteration 100, gave 560,
which every run meets at its first evaluation -- the reference's FID swings 250-560 between
evaluations).  Main runs (``mdgan-swap``, read up to ``MAIN_ITERATIONS``): per run the mean FID over
the second half, the best and final FID, the iteration at which FID <= target is reached and held at the next evaluation
(``analysis.censored.reached_and_held``), WAN bytes and virtual time; per cell the mean ± std of the
second-half FID and the censored summary of iterations to target; paired over seeds (same seeds in
every cell): each swap cell against no swap, carry against reset at each period, and the longer period
against the shorter.  Writes ``mdgan-swap.csv`` (per
run), ``mdgan-swap-tune.csv``,
``mdgan-swap-stats.csv`` (every number the page's prose quotes) and the page's generated section.
"""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import matplotlib.ticker
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis import load_results
from analysis.censored import censored_summary, paired_comparison, reached_and_held
from analysis.page_numbers import replace_generated
from analysis.script_args import positional
from analysis.study_files import write_study_table
from analysis.style import new_figure, save

FIRST_RULE_AT = 100
"""The first target rule (the reference's FID at this iteration), reported and not used: see above."""
TUNE_SECOND_HALF = 200
"""The tuning runs (400 iterations) are judged on iterations 200-400 (the criterion fixed before them)."""
MAIN_ITERATIONS = 100
"""The main runs' length (cut from 400 to fit the budget).  Runs made longer (noswap seeds 0-3, 400
iterations) are read up to here: the lr is constant and nothing in MD-GAN reads the run's length."""
SECOND_HALF = MAIN_ITERATIONS // 2
CELLS = {"noswap": "no swap", "E1-reset": "swap every epoch, Adam reset", "E1-carry": "swap every epoch, Adam carried",
         "E4-reset": "swap every 4 epochs, Adam reset", "E4-carry": "swap every 4 epochs, Adam carried"}
COLOURS = {"noswap": "black", "E1-reset": "C0", "E1-carry": "C1", "E4-reset": "C2", "E4-carry": "C3"}
PAIRS = [("E1-reset", "noswap"), ("E1-carry", "noswap"), ("E4-reset", "noswap"), ("E4-carry", "noswap"),
         ("E1-carry", "E1-reset"), ("E4-carry", "E4-reset"), ("E4-reset", "E1-reset"), ("E4-carry", "E1-carry")]


def cell_of(run: str) -> str:
    """The cell name of a run id such as ``E1-reset_seed=3``."""
    return run.split("_seed=")[0]


def best_held(metrics: pd.DataFrame) -> float:
    """The lowest FID level reached and held (this evaluation and the next, or the last alone)."""
    fid = metrics.sort_values("iteration")["fid"].to_numpy()
    return float(min([max(a, b) for a, b in itertools.pairwise(fid)] + [fid[-1]]))


def tuning(root: Path) -> tuple[pd.DataFrame, float, dict[str, float]]:
    """Per tuning cell its second-half mean FID; the target; the chosen lr per arm."""
    res = load_results(root)
    runs = res.complete.set_index("run")
    m = res.metrics
    rows = []
    for run, g in m.groupby("run"):
        rows.append({"cell": run, "algorithm": runs.loc[run, "algorithm.name"],
                     "lr": float(runs.loc[run, "training.lr_g"]),
                     "fid_second_half": g.loc[g["iteration"] >= TUNE_SECOND_HALF, "fid"].mean(),
                     "fid_main_second_half": g.loc[g["iteration"].between(SECOND_HALF, MAIN_ITERATIONS), "fid"].mean(),
                     "fid_at_first_rule": float(g.loc[g["iteration"] == FIRST_RULE_AT, "fid"].iloc[0]),
                     "best_held_fid": best_held(g),
                     "final_fid": float(g.sort_values("iteration")["fid"].iloc[-1])})
    df = pd.DataFrame(rows).sort_values("cell")
    target = math.ceil(df.loc[df["cell"] == "reference", "best_held_fid"].iloc[0] / 10) * 10
    chosen = {}
    for arm in ("noswap", "swap"):
        arm_rows = df[df["cell"].str.startswith(arm + "-")]
        chosen[arm] = float(arm_rows.loc[arm_rows["fid_second_half"].idxmin(), "lr"])
    return df, float(target), chosen


def per_run(root: Path, target: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    res = load_results(root)
    runs = res.complete.set_index("run")
    metrics = res.metrics[res.metrics["iteration"] <= MAIN_ITERATIONS].copy()
    metrics["cell"] = metrics["run"].map(cell_of)
    hit = reached_and_held(metrics, {"fid": (target, False)}).set_index("run")
    rows = []
    for run, m in metrics.groupby("run"):
        m = m.sort_values("iteration")
        best = m.loc[m["fid"].idxmin()]
        r, last = runs.loc[run], m.iloc[-1]  # totals at MAIN_ITERATIONS, from the metrics row taken there
        if int(last["iteration"]) != MAIN_ITERATIONS:
            raise SystemExit(f"{root}: run {run} ends at iteration {last['iteration']}, not {MAIN_ITERATIONS}")
        rows.append({"run": run, "cell": cell_of(run), "seed": int(r["seed"]),
                     "fid_second_half": m.loc[m["iteration"] >= SECOND_HALF, "fid"].mean(),
                     "best_fid": best["fid"], "best_at": int(best["iteration"]), "final_fid": m["fid"].iloc[-1],
                     "reached": bool(hit.loc[run, "reached"]), "iterations_to_target": hit.loc[run, "iteration"],
                     "virtual_s": last["virtual_time_s"], "wan_MB": last["wan_bytes"] / 1e6,
                     "egress_usd": last["egress_usd"], "wall_s": last["wall_time_s"],
                     "run_iterations": int(r["iterations"])})
    df = pd.DataFrame(rows)
    df["order"] = df["cell"].map(list(CELLS).index)
    return df.sort_values(["order", "seed"]).drop(columns="order"), metrics


def stats(df: pd.DataFrame, tune: pd.DataFrame, target: float, chosen: dict[str, float]) -> pd.DataFrame:
    """Per cell and per pair, every number the page quotes (quantity, value)."""
    ref = tune[tune["cell"] == "reference"].iloc[0]
    out: dict[str, float] = {"tuning_seed": 1000, "second_half_from": SECOND_HALF, "iterations": MAIN_ITERATIONS,
                             "tune_second_half_from": TUNE_SECOND_HALF, "tune_iterations": 400,
                             "target_fid": target, "first_rule_at": FIRST_RULE_AT, "lr_noswap": chosen["noswap"],
                             "lr_swap": chosen["swap"], "seeds": df.groupby("cell").size().min(),
                             "reference_fid_first_rule": ref["fid_at_first_rule"],
                             "reference_best_held": ref["best_held_fid"], "reference_final_fid": ref["final_fid"],
                             "reference_second_half": ref["fid_second_half"]}
    for cell, rows in df.groupby("cell"):
        f = rows["fid_second_half"]
        s = censored_summary(rows["iterations_to_target"].fillna(0), rows["reached"])
        out |= {f"{cell}_fid_mean": f.mean(), f"{cell}_fid_std": f.std(), f"{cell}_reached": s.reached,
                f"{cell}_it_median": s.median, f"{cell}_it_low": s.low, f"{cell}_it_high": s.high,
                f"{cell}_wan_MB": rows["wan_MB"].mean(), f"{cell}_virtual_s": rows["virtual_s"].mean()}
    sampled_wan = df.loc[df["cell"] == "noswap", "wan_MB"].mean()  # samples + feedback: the same in every run
    for cell, rows in df.groupby("cell"):
        out[f"{cell}_swap_wan_MB"] = rows["wan_MB"].mean() - sampled_wan
    by = {cell: rows.sort_values("seed") for cell, rows in df.groupby("cell")}
    for a, b in PAIRS:
        x, y = by[a], by[b]
        assert list(x["seed"]) == list(y["seed"]), (a, b)
        q = paired_comparison(x["fid_second_half"], [True] * len(x), y["fid_second_half"], [True] * len(y),
                              names=(CELLS[a], CELLS[b]))
        t = paired_comparison(x["iterations_to_target"].fillna(0), x["reached"],
                              y["iterations_to_target"].fillna(0), y["reached"])
        key = f"{a}_vs_{b}"
        out |= {f"{key}_fid_ratio": q.ratio, f"{key}_fid_low": q.low, f"{key}_fid_high": q.high,
                f"{key}_fid_p": q.p_value, f"{key}_fid_worse_seeds": int((x["fid_second_half"].to_numpy()
                                                                            > y["fid_second_half"].to_numpy()).sum()),
                f"{key}_it_ratio": t.ratio, f"{key}_it_p": t.p_value}
        out[f"{key}_verdict"] = q.verdict.replace(" faster", ": lower FID")  # a lower FID, not a time; text
    return pd.DataFrame({"quantity": list(out), "value": list(out.values())})


def figure(metrics: pd.DataFrame, target: float, out_dir: Path) -> None:
    fig = new_figure(12, 4.6)
    left, right = fig.subplots(1, 2, sharey=True)
    for ax, cells in ((left, ("noswap", "E1-reset", "E1-carry")), (right, ("noswap", "E4-reset", "E4-carry"))):
        for cell in cells:
            fid = metrics[metrics["cell"] == cell].pivot_table(index="iteration", columns="seed", values="fid")
            for seed in fid:
                ax.plot(fid.index, fid[seed], color=COLOURS[cell], lw=0.5, alpha=0.35)
            ax.plot(fid.index, fid.median(axis=1), color=COLOURS[cell], lw=2,
                    label=f"{CELLS[cell]}: median of {fid.shape[1]} seeds (thin: each seed)")
        ax.axhline(target, color="grey", ls="--", lw=1, label=f"target FID {target:.0f} (fixed in advance)")
        ax.set(xlabel="iteration (G updates)", yscale="log", title="MD-GAN on wan-3dc, digits by_datacenter (non-IID)")
        ax.set_yticks([150, 200, 300, 400, 600, 1000])
        ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    left.set_ylabel("classifier-FID (n = 359, lower is better)")
    save(fig, out_dir, "mdgan-swap")


def markdown(df: pd.DataFrame, st: pd.Series) -> str:
    out = (f"| setting | seed | mean FID, it. {SECOND_HALF}-{MAIN_ITERATIONS} | best FID (iteration) | final FID "
           "| it. to target | virtual s | WAN MB | wall s |\n|---|---|---|---|---|---|---|---|---|\n")
    for cell, rows in df.groupby("cell", sort=False):
        for r in rows.itertuples():
            it = f"{r.iterations_to_target:.0f}" if r.reached else "not reached"
            out += (f"| {CELLS[cell]} | {r.seed} | {r.fid_second_half:.0f} | {r.best_fid:.0f} ({r.best_at}) | "
                    f"{r.final_fid:.0f} | {it} | {r.virtual_s:.1f} | {r.wan_MB:.1f} | {r.wall_s:.0f} |\n")
        med = st[f"{cell}_it_median"]
        med_text = "never" if math.isinf(med) else f"{med:.0f}"
        reached = f"{st[f'{cell}_reached']:.0f}/{len(rows)}, median {med_text}"
        out += (f"| **{CELLS[cell]}, {len(rows)} seeds** | | **{st[f'{cell}_fid_mean']:.0f} ± "
                f"{st[f'{cell}_fid_std']:.0f}** | | | {reached} | | | |\n")
    return out


def main(root: str, tune_root: str, out: str) -> None:
    out_dir = Path(out)
    tune, target, chosen = tuning(Path(tune_root))
    tune.to_csv(out_dir / "mdgan-swap-tune.csv", index=False, float_format="%.6g")
    df, metrics = per_run(Path(root), target)
    st = stats(df, tune, target, chosen)
    st.to_csv(out_dir / "mdgan-swap-stats.csv", index=False, float_format="%.6g")
    values = st.set_index("quantity")["value"]
    figure(metrics, target, out_dir)
    write_study_table(df, markdown(df, values), out_dir, "mdgan-swap")
    page = out_dir / "mdgan-swap.md"
    if page.exists():
        text = tune_markdown(tune, chosen) + "\n" + headline(values) + "\n" + markdown(df, values)
        replace_generated(page, "mdgan-swap-stats.csv mdgan-swap.csv mdgan-swap-tune.csv", text)


def lr_text(lr: float) -> str:
    """2e-05 -> 2e-5."""
    return f"{lr:.0e}".replace("e-0", "e-")


def tune_markdown(tune: pd.DataFrame, chosen: dict[str, float]) -> str:
    """The tuning grid: second-half mean FID per lr and arm (seed 1000), and the choice."""
    arms = {"noswap": "no swap", "swap": "swap every epoch, Adam reset"}
    lrs = sorted(tune.loc[tune["cell"] != "reference", "lr"].unique())
    out = (f"| lr_g = lr_d | {arms['noswap']}: it. {TUNE_SECOND_HALF}-400 (criterion) | {arms['swap']}: "
           f"it. {TUNE_SECOND_HALF}-400 (criterion) | no swap: it. {SECOND_HALF}-{MAIN_ITERATIONS} | "
           f"swap: it. {SECOND_HALF}-{MAIN_ITERATIONS} |\n|---|---|---|---|---|\n")
    for lr in lrs:
        cells = [tune.loc[(tune["cell"].str.startswith(arm + "-")) & (tune["lr"] == lr), column]
                 for column in ("fid_second_half", "fid_main_second_half") for arm in arms]
        out += f"| {lr_text(lr)} | " + " | ".join(f"{c.iloc[0]:.0f}" if len(c) else "--" for c in cells) + " |\n"
    ref = tune[tune["cell"] == "reference"].iloc[0]
    out += (f"\nChosen: no swap {lr_text(chosen['noswap'])}, swap {lr_text(chosen['swap'])} "
            f"(mean FID over iterations {TUNE_SECOND_HALF}-400 on seed 1000). The reference (`centralized`, "
            f"lr {lr_text(ref['lr'])}) had {ref['fid_second_half']:.0f} "
            f"over iterations {TUNE_SECOND_HALF}-400 and FID {ref['fid_at_first_rule']:.0f} at iteration 100.\n")
    return out


def headline(v: pd.Series) -> str:
    """The page's results paragraph, every number from the stats csv."""
    def f(key: str, fmt: str = ".0f") -> str:
        x = float(v[key])
        return "never" if math.isinf(x) else format(x, fmt)

    def pair(a: str, b: str) -> str:
        k = f"{a}_vs_{b}"
        return (f"{f(k + '_fid_ratio', '.2f')} [{f(k + '_fid_low', '.2f')}, {f(k + '_fid_high', '.2f')}], "
                f"p = {f(k + '_fid_p', '.3f')}, worse in {f(k + '_fid_worse_seeds')} of {f('seeds')} seeds: "
                f"{v[k + '_verdict']}")

    def median(c: str) -> str:
        x = float(v[c + "_it_median"])
        return "median: not reached, half or fewer seeds held it" if math.isinf(x) else f"median iteration {x:.0f}"

    lines = [f"- **{CELLS[c]}**: second-half FID {f(c + '_fid_mean')} ± {f(c + '_fid_std')}; target reached "
             f"and held in {f(c + '_reached')} of {f('seeds')} seeds ({median(c)}); "
             f"WAN {f(c + '_wan_MB', '.1f')} MB" for c in CELLS]
    lines += [f"- FID ratio {CELLS[a]} / {CELLS[b]}: {pair(a, b)}" for a, b in PAIRS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main(*positional(__doc__, "results", "tune_results", "out_dir"))
