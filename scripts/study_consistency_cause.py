"""The consistency study's cause factorial: virtual seconds per gradient by straggler kind x consistency.

Why: consistency.md found bounded delay (SSP) no faster than waiting for everyone, and a reviewer
asked whether its "slow" datacenter was slow at all -- its 4x slow-down is small beside its WAN
round trip.  With pinned costs the time side is exact and seed-free, so one short run per cell
(experiments/studies/consistency-cause.yaml) measures it: per cell the run's virtual seconds per
gradient (BSP computes one per worker per iteration, the others one per iteration), the pushes each
worker made, and push staleness (analysis/staleness.py).  Writes OUT/consistency-cause.csv, a figure,
and the page section between consistency.md's ``begin numbers: consistency-cause.csv`` marks.

    python scripts/study_consistency_cause.py results/studies/consistency-cause docs/studies
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis import load_results
from analysis.page_numbers import replace_generated
from analysis.runfiles import read_traffic_log
from analysis.staleness import push_staleness
from analysis.style import method_colors, new_figure, save

NAME = "consistency-cause"
CONDITIONS = {"slow-far": "slow far (the study: ap-southeast 4x slower, 4 ms a gradient)",
              "far-only": "far only (no slow-down)", "slow-near": "slow near (eu-west 4x slower)",
              "slow-far-c50": "slow far, 200 ms a gradient",
              "transient-c50": "transient stragglers (p 0.1, 10x), 200 ms a gradient"}
MODELS = ("bsp", "ssp-2", "ssp-8", "eventual")


def table(results_dir: Path) -> pd.DataFrame:
    """One row per cell: condition, model, seconds per gradient, pushes per worker, staleness."""
    runs = load_results(results_dir).runs.set_index("run")
    rows = []
    for run, r in runs.iterrows():
        condition, model = str(run).rsplit("_", 1)
        traffic = read_traffic_log(Path(r["run_dir"]))
        workers = sorted(traffic[traffic["kind"] == "grads_g"]["src"].dropna().unique())
        gradients = int(r["iterations"]) * (len(workers) if model == "bsp" else 1)
        pushes = traffic[(traffic["kind"] == "grads_g") & traffic["t_arrive_s"].notna()]["src"].value_counts()
        stale = push_staleness(traffic, str(r["algorithm.consistency"]))["staleness"]
        rows.append({"cell": run, "condition": condition, "model": model, "gradients": gradients,
                     "virtual_s": round(float(r["virtual_time_s"]), 1),
                     "ms_per_gradient": round(1000 * float(r["virtual_time_s"]) / gradients, 1),
                     "pushes_min": int(pushes.min()), "pushes_max": int(pushes.max()),
                     "staleness_mean": round(float(stale.mean()), 2), "staleness_max": int(stale.max())})
    df = pd.DataFrame(rows)
    bsp = df[df["model"] == "bsp"].set_index("condition")["ms_per_gradient"]
    df["bsp_over_this"] = [round(float(bsp[c] / t), 2) for c, t in zip(df["condition"], df["ms_per_gradient"],
                                                                         strict=True)]
    order = {c: i for i, c in enumerate(CONDITIONS)}
    return df.sort_values(["condition", "model"], key=lambda s: s.map(order) if s.name == "condition"
                          else s.map({m: i for i, m in enumerate(MODELS)})).reset_index(drop=True)


def figure(df: pd.DataFrame, out: Path) -> None:
    fig = new_figure(11, 4.2)
    ax = fig.subplots()
    colors = method_colors(MODELS)
    x = np.arange(len(CONDITIONS))
    width = 0.2
    for i, model in enumerate(MODELS):
        values = [float(df[(df["condition"] == c) & (df["model"] == model)]["ms_per_gradient"].iloc[0])
                  for c in CONDITIONS]
        bars = ax.bar(x + (i - 1.5) * width, values, width, label=model, color=colors[model])
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(x, [CONDITIONS[c].replace(" (", "\n(").replace(", 2", ",\n2") for c in CONDITIONS], fontsize=8)
    ax.set(ylabel="virtual ms per gradient (lower is faster)",
           title="Where relaxed consistency pays: virtual time per gradient, three regions, one seed (exact)")
    ax.legend(title="consistency")
    ax.grid(alpha=0.3, axis="y")
    save(fig, out, NAME)


def section(df: pd.DataFrame) -> str:
    out = ("| straggler setting | consistency | ms per gradient | BSP / this | pushes per worker | "
           "staleness mean (max) |\n|---|---|---|---|---|---|\n")
    for r in df.itertuples():
        out += (f"| `{r.condition}` | `{r.model}` | {r.ms_per_gradient} | {r.bsp_over_this}x | "
                f"{r.pushes_min}-{r.pushes_max} | {r.staleness_mean} ({r.staleness_max}) |\n")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    df = table(args.results)
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / f"{NAME}.csv", index=False)
    figure(df, args.out)
    page = args.out / "consistency.md"
    if page.exists():
        replace_generated(page, f"{NAME}.csv", section(df))
    print(section(df))


if __name__ == "__main__":
    main()
