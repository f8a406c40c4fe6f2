"""Figure and table of the MD-GAN vs FL-GAN quality study (docs/studies/mdgan-vs-flgan-traffic.md, "Quality").

Usage: python scripts/study_mdgan_quality.py RESULTS/mdgan-vs-flgan-quality OUT_DIR [--target FID]

The traffic half counts bytes per epoch; this half asks what quality those bytes buy.  A series is a
method at a worker count N (the hub's worker + the edge's).  Per series, mean ± sample std over
seeds: final classifier-FID (after the same number of epochs for both methods), the run's WAN bytes
and virtual time, the FID at *equal WAN bytes* -- the last evaluation within the smaller of the two
methods' WAN totals at that N (analysis/at_budget.py) -- and the WAN bytes to a FID target
(analysis/to_target.py via scripts/study_target.py).  Figure: scripts/study_target.py's, FID vs
virtual time and vs WAN bytes, mean ± std band over seeds.
Writes OUT_DIR/mdgan-vs-flgan-quality.png, -table.md and .csv.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis import load_results
from analysis.at_budget import metric_at_budget
from analysis.study_files import write_study_table
from scripts.study_target import _ms, figure, per_run

NAME = "mdgan-vs-flgan-quality"
TRAINING_TASKS = ("tasks_mdgan_d_step", "tasks_train_step")  # what only a worker runs
METHODS = {"mdgan": "MD-GAN", "fedavg": "FL-GAN"}


def label_series(results) -> None:
    """Series = method and N (nodes that ran a training task), e.g. ``MD-GAN · N = 17``, on runs and metrics."""
    runs, nodes = results.runs, results.nodes
    present = [c for c in TRAINING_TASKS if c in nodes]
    workers = nodes[nodes[present].fillna(0).sum(axis=1) > 0].groupby("run").size()
    runs["N"] = runs["run"].map(workers).astype(int)
    names = runs["algorithm.name"].map(lambda m: METHODS.get(m, m))
    runs["series"] = [f"{m} · N = {n:2d}" for m, n in zip(names, runs["N"], strict=True)]
    results.metrics["series"] = results.metrics["run"].map(runs.set_index("run")["series"])
    results.metrics["N"] = results.metrics["run"].map(runs.set_index("run")["N"])


def equal_bytes(results) -> pd.DataFrame:
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


def markdown(df: pd.DataFrame, target: float) -> str:
    out = ("| series | seeds | final FID | run WAN MB | run virtual s | equal-bytes budget MB | FID at budget "
           f"| seeds reaching FID {target:g} | WAN MB to FID {target:g} | virtual s to FID {target:g} |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n")
    for series, g in df.groupby("series", sort=True):
        reached = g[g["reached"]]
        out += (f"| {series} | {len(g)} | {_ms(g['final'], '.0f')} | {_ms(g['run_wan_bytes'] / 1e6, '.0f')} | "
                f"{_ms(g['run_virtual_time_s'], '.1f')} | {g['budget_wan_bytes'].iloc[0] / 1e6:.0f} | "
                f"{_ms(g['fid_at_budget'], '.0f')} | {len(reached)} of {len(g)} | "
                f"{_ms(reached['wan_bytes'] / 1e6, '.0f')} | {_ms(reached['virtual_time_s'], '.1f')} |\n")
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results")
    p.add_argument("out")
    p.add_argument("--target", type=float, default=150.0, help="FID target (lower is better)")
    args = p.parse_args(argv)
    results = load_results(args.results)
    label_series(results)
    hits = per_run(results, "fid", args.target, staleness=False)
    df = hits.merge(equal_bytes(results), on="run").sort_values(["series", "seed"])
    out_dir = Path(args.out)
    figure(results, "fid", args.target, "virtual_time_s", out_dir, NAME)
    write_study_table(df, markdown(df, args.target), out_dir, NAME)


if __name__ == "__main__":
    main()
