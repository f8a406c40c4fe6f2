"""Figure and table of the MD-GAN vs FL-GAN quality study (docs/studies/mdgan-vs-flgan-quality.md).

Usage: python scripts/study_mdgan_quality.py RESULTS/mdgan-vs-flgan-quality OUT_DIR [--target FID] [--name STEM]
       python scripts/study_mdgan_quality.py RESULTS/mdgan-vs-flgan-quality-tune OUT_DIR --tune

The traffic half counts bytes per epoch; this half asks what quality those bytes buy.  A series is a
method at a worker count N (the hub's worker + the edge's).  Per series, mean ± sample std over
seeds: final classifier-FID (after the same number of epochs for both methods), the run's WAN bytes
and virtual time, the FID at *equal WAN bytes* -- the last evaluation within the smaller of the two
methods' WAN totals at that N (analysis/at_budget.py) -- and the WAN bytes to a FID target
(analysis/to_target.py via scripts/study_target.py).  Figure: one row per N, FID vs WAN bytes and
vs virtual time, mean ± std band over seeds, the equal-bytes budget and the target marked.
Writes OUT_DIR/STEM.png, STEM-table.md, STEM.csv and STEM-summary.csv (STEM: mdgan-vs-flgan-quality by
default), and the table into OUT_DIR/STEM.md between its ``begin numbers`` marks if that page exists.
With ``--tune`` (the learning-rate tuning suite, one or more tuning seeds and N): per method, N and lr the
final FID and the mean FID over the second half of each seed's run, the criterion fixed before the runs
(that second-half mean averaged over the tuning seeds) and per method and N the choice (the lowest; ties
to the smaller lr), written to OUT_DIR/STEM-tuning.csv and into the page's tuning marks.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis import load_results
from analysis.at_budget import metric_at_budget
from analysis.load import Results
from analysis.page_numbers import replace_generated
from analysis.study_files import write_study_table
from analysis.style import new_figure, plot_seeds, save, series_styles
from scripts.study_target import _ms, per_run

NAME = "mdgan-vs-flgan-quality"
TRAINING_TASKS = ("tasks_mdgan_d_step", "tasks_train_step")  # what only a worker runs
METHODS = {"mdgan": "MD-GAN", "fedavg": "FL-GAN"}


def label_series(results: Results) -> None:
    """Series = method and N (nodes that ran a training task), e.g. ``MD-GAN · N = 17``, on runs and metrics."""
    runs, nodes = results.runs, results.nodes
    present = [c for c in TRAINING_TASKS if c in nodes]
    workers = nodes[nodes[present].fillna(0).sum(axis=1) > 0].groupby("run").size()
    runs["N"] = runs["run"].map(workers).astype("Int64")  # <NA>: a run that did not finish has no nodes
    names = runs["algorithm.name"].map(lambda m: METHODS.get(m, m))
    runs["series"] = [f"{m} · N = {n:>2}" for m, n in zip(names, runs["N"], strict=True)]
    results.metrics["series"] = results.metrics["run"].map(runs.set_index("run")["series"])
    results.metrics["N"] = results.metrics["run"].map(runs.set_index("run")["N"])


def equal_bytes(results: Results) -> pd.DataFrame:
    """Per run: the FID at the smallest WAN total of any run with the same N (every run has spent it)."""
    runs = results.complete
    parts = []
    for n, group in runs.groupby("N"):
        budget = float(group["wan_bytes"].min())
        at = metric_at_budget(results.metrics[results.metrics["N"] == n], "fid", "wan_bytes", budget)
        at["budget_wan_bytes"] = budget
        parts.append(at)
    return pd.concat(parts).rename(columns={"fid": "fid_at_budget", "iteration": "budget_iteration",
                                            "wan_bytes": "wan_bytes_at_budget"})


def second_half(results: Results) -> pd.DataFrame:
    """Per run: mean FID over the evaluations in the second half of its epochs (one evaluation is noisy)."""
    rows = []
    for run, m in results.metrics.groupby("run"):
        late = m[m["iteration"] >= m["iteration"].max() / 2]
        rows.append({"run": run, "fid_second_half": late["fid"].mean()})
    return pd.DataFrame(rows)


def figure(results: Results, budgets: dict[int, float], target: float, out_dir: Path, name: str) -> None:
    """Rows: N; columns: FID vs WAN MB (equal-bytes budget dotted) and vs virtual time; target dashed."""
    ns = sorted(budgets)
    fig = new_figure(12, 4.2 * len(ns))
    panels = fig.subplots(len(ns), 2, squeeze=False)
    for row, n in zip(panels, ns, strict=True):
        styles = series_styles(results.complete[results.complete["N"] == n])  # per row: each method its colour
        for ax, column, scale, label in ((row[0], "wan_bytes", 1e6, "WAN bytes (MB)"),
                                         (row[1], "virtual_time_s", 1.0, "virtual time (s)")):
            rows = results.metrics[results.metrics["N"] == n]
            for series, group in rows.groupby("series", sort=True):
                curves = [(g[column].to_numpy() / scale, g["fid"].to_numpy())
                          for _, g in group.sort_values("iteration").groupby("run")]
                plot_seeds(ax, curves, styles[series], "fid", series, marker="o")
            ax.axhline(target, color="k", ls="--", lw=1)
            ax.set(xlabel=label, ylabel="classifier-FID (n = 1000, lower is better)")
            ax.grid(alpha=0.3)
        row[0].axvline(budgets[n] / 1e6, color="grey", ls=":", lw=1.5)
        row[0].set_title(f"N = {n}: FID vs WAN bytes (dotted: equal-bytes budget; dashed: FID {target:g})")
        row[1].set_title(f"N = {n}: the same against virtual time")
        row[0].legend(fontsize=7, loc="upper right")
    save(fig, out_dir, name)


def markdown(df: pd.DataFrame, target: float) -> str:
    head = ["series", "seeds", "final FID", "mean FID, 2nd half", "run WAN MB", "run virtual s",
            "equal-bytes budget MB", "FID at budget", f"seeds reaching FID {target:g}",
            f"WAN MB to FID {target:g}", f"virtual s to FID {target:g}"]
    out = "| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n"
    for series, g in df.groupby("series", sort=True):
        reached = g[g["reached"]]
        cells = [series, str(len(g)), _ms(g["final"], ".0f"), _ms(g["fid_second_half"], ".0f"),
                 _ms(g["run_wan_bytes"] / 1e6, ".0f"), _ms(g["run_virtual_time_s"], ".1f"),
                 f"{g['budget_wan_bytes'].iloc[0] / 1e6:.0f}", _ms(g["fid_at_budget"], ".0f"),
                 f"{len(reached)} of {len(g)}", _ms(reached["wan_bytes"] / 1e6, ".0f"),
                 _ms(reached["virtual_time_s"], ".1f")]
        out += "| " + " | ".join(cells) + " |\n"
    return out


def summary(df: pd.DataFrame, crossover: float) -> pd.DataFrame:
    """Per series the table's numbers as shown (mean, std rounded), and per N the paired reading at equal bytes:
    in how many seeds MD-GAN's FID at the budget is below FL-GAN's, the exact two-sided sign-flip p over the
    seeds (5 seeds: never below 2/32 = 0.0625), and the ratio of the two methods' WAN bytes per run; then a sign
    test over every (N, seed) pair, and over the pairs below and above the ``crossover`` N*."""
    rows = []
    for series, g in df.groupby("series", sort=True):
        reached = g[g["reached"]]
        row: dict[str, object] = {"series": series, "N": int(g["N"].iloc[0]), "seeds": len(g),
                                  "seeds_reaching": len(reached)}
        for name, values, digits in (("final", g["final"], 0), ("second_half", g["fid_second_half"], 0),
                                     ("run_wan_MB", g["run_wan_bytes"] / 1e6, 0),
                                     ("run_virtual_s", g["run_virtual_time_s"], 1),
                                     ("at_budget", g["fid_at_budget"], 0),
                                     ("wan_MB_to_target", reached["wan_bytes"] / 1e6, 0),
                                     ("virtual_s_to_target", reached["virtual_time_s"], 1)):
            row[f"{name}_mean"] = round(float(values.mean()), digits) if len(values) else None
            row[f"{name}_std"] = round(float(values.std(ddof=1)), digits) if len(values) > 1 else None
        row["budget_MB"] = round(float(g["budget_wan_bytes"].iloc[0]) / 1e6, 0)
        rows.append(row)
    lower = total = 0
    sides: dict[str, list[int]] = {}  # below / above the crossover: [pairs MD-GAN lower, pairs]
    for n, g in df.groupby("N", sort=True):
        md, fl = (g[g["series"].str.startswith(m)].set_index("seed") for m in ("MD-GAN", "FL-GAN"))
        diff = (md["fid_at_budget"] - fl["fid_at_budget"]).dropna().to_numpy()
        signs = np.array(list(itertools.product((1, -1), repeat=len(diff))))
        observed = abs(diff.mean())
        p = float(np.mean([abs((s * diff).mean()) >= observed - 1e-12 for s in signs]))
        ratio = float(md["run_wan_bytes"].mean() / fl["run_wan_bytes"].mean())
        rows.append({"series": f"MD-GAN - FL-GAN at N = {n}", "N": int(n), "seeds": len(diff),
                     "seeds_mdgan_lower_at_budget": int((diff < 0).sum()),
                     "at_budget_mean": round(float(diff.mean()), 0), "sign_flip_p": round(p, 3),
                     "bytes_ratio_mdgan_over_flgan": round(ratio, 2)})
        lower, total = lower + int((diff < 0).sum()), total + len(diff)
        side = sides.setdefault(f"N {'<' if n < crossover else '>'} N*", [0, 0])
        side[0], side[1] = side[0] + int((diff < 0).sum()), side[1] + len(diff)
    # Every (N, seed) pair is its own pair of runs: an exact two-sided sign test over all of them, and over
    # those on each side of the traffic formula's crossover N* (where the paper's claim changes side).
    for label, (k, m) in [("every N", (lower, total)), *sorted(sides.items())]:
        rows.append({"series": f"MD-GAN - FL-GAN, {label}", "seeds": m, "seeds_mdgan_lower_at_budget": k,
                     "sign_test_p": round(_sign_test(k, m), 4)})
    return pd.DataFrame(rows)


def _sign_test(k: int, m: int) -> float:
    """Exact two-sided sign test: k of m pairs one way, under a fair coin."""
    return min(1.0, 2 * sum(math.comb(m, i) for i in range(min(k, m - k) + 1)) / 2**m)


def tuning(results: Results) -> pd.DataFrame:
    """Per tuning run: method, N, seed, lr, final FID, mean FID over the 2nd half, and the criterion of its
    setting (method, N, lr): that 2nd-half mean averaged over the setting's tuning seeds, rounded to the
    integer as the page shows it.  Per method and N the setting with the lowest criterion is ``chosen``
    (ties -> the smaller lr); with one seed this is the single run's rounded 2nd-half mean."""
    runs = results.complete.merge(second_half(results), on="run")
    df = pd.DataFrame({"cell": runs["run"], "method": runs["series"].str.split(" · ").str[0],
                       "N": runs["N"].astype(int), "seed": runs["seed"].astype(int),
                       "lr": runs["training.lr_g"].astype(float), "final_fid": runs["final_fid"].astype(float).round(0),
                       "second_half_fid": runs["fid_second_half"].round(0)})
    setting = ["method", "N", "lr"]
    criterion = runs.assign(method=df["method"], N=df["N"], lr=df["lr"]).groupby(setting)["fid_second_half"]
    df = df.merge(criterion.mean().round(0).rename("criterion_fid").reset_index(), on=setting)
    df = df.merge(criterion.size().rename("setting_seeds").reset_index(), on=setting)
    df = df.sort_values(["method", "N", "lr", "seed"]).reset_index(drop=True)
    best = df.sort_values(["criterion_fid", "lr"]).groupby(["method", "N"]).head(1)[setting]
    df["chosen"] = df[setting].apply(tuple, axis=1).isin(set(best.apply(tuple, axis=1)))
    return df


def tuning_markdown(df: pd.DataFrame) -> str:
    """One row per setting (method, N, lr): its seeds' final and 2nd-half FIDs (in seed order) and the criterion."""
    head = ["method", "N", "lr (G and D)", "tuning seeds", "final FID", "mean FID, second half",
            "criterion: mean over seeds", "chosen"]
    out = "| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n"
    for (method, n, lr), g in df.groupby(["method", "N", "lr"], sort=True):
        cells = [method, str(n), f"{lr:g}", ", ".join(map(str, g["seed"])),
                 " / ".join(f"{v:.0f}" for v in g["final_fid"]), " / ".join(f"{v:.0f}" for v in g["second_half_fid"]),
                 f"{g['criterion_fid'].iloc[0]:.0f}", "**chosen**" if g["chosen"].iloc[0] else ""]
        out += "| " + " | ".join(cells) + " |\n"
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("out")
    p.add_argument("--target", type=float, default=250.0, help="FID target (lower is better)")
    p.add_argument("--name", default=NAME, help="output file stem (the -full suite: give it its own)")
    p.add_argument("--crossover", type=float, default=12.4,
                   help="N* of the traffic formula for this setting (a sign test each side of it)")
    p.add_argument("--tune", action="store_true", help="RESULTS is the tuning suite: write STEM-tuning.csv")
    args = p.parse_args(argv)
    results = load_results(args.results)
    label_series(results)
    if args.tune:
        tuned, page = tuning(results), Path(args.out) / f"{args.name}.md"
        tuned.to_csv(Path(args.out) / f"{args.name}-tuning.csv", index=False)
        print(table := tuning_markdown(tuned))
        if page.exists():
            replace_generated(page, f"{args.name}-tuning.csv", table)
        return
    hits = per_run(results, "fid", args.target, staleness=False)
    df = hits.merge(equal_bytes(results), on="run").merge(second_half(results), on="run")
    df["N"] = df["run"].map(results.runs.set_index("run")["N"])
    df = df.sort_values(["series", "seed"])
    out_dir = Path(args.out)
    budgets = {int(n): float(b) for n, b in df.groupby("N")["budget_wan_bytes"].first().items()}
    figure(results, budgets, args.target, out_dir, args.name)
    table = markdown(df, args.target)
    write_study_table(df, table, out_dir, args.name)
    summary(df, args.crossover).to_csv(out_dir / f"{args.name}-summary.csv", index=False)
    page = out_dir / f"{args.name}.md"
    if page.exists():
        replace_generated(page, f"{args.name}-summary.csv {args.name}.csv", table)


if __name__ == "__main__":
    main()
