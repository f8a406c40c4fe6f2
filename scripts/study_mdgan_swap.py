"""Figure and table of the MD-GAN swap study (docs/studies/mdgan-swap.md).

Usage: python scripts/study_mdgan_swap.py RESULTS/mdgan-swap OUT_DIR

Per run: mean classifier-FID over the second half of training (iterations >= half of the last), the
best FID and when, virtual time, WAN bytes and egress; per setting: mean ± sample std over seeds.
Figure: FID vs iteration, each seed thin, the seed mean bold, band = min-max over seeds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.ticker
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis import load_results
from analysis.study_files import write_study_table
from analysis.style import new_figure, save

LABELS = {1.0: "swap every epoch (E = 1)", 0.0: "no swap (E = 0)"}


def per_run(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    results = load_results(root)
    runs = results.complete.set_index("run")
    metrics = results.metrics.copy()
    metrics["E"] = metrics["run"].map(runs["algorithm.swap_every_epochs"]).astype(float)
    half = metrics["iteration"].max() / 2
    rows = []
    for run, m in metrics.groupby("run"):
        best = m.loc[m["fid"].idxmin()]
        r = runs.loc[run]
        rows.append({"run": run, "E": float(r["algorithm.swap_every_epochs"]), "seed": int(r["seed"]),
                     "fid_second_half": m.loc[m["iteration"] >= half, "fid"].mean(),
                     "best_fid": best["fid"], "best_at": int(best["iteration"]), "final_fid": m["fid"].iloc[-1],
                     "virtual_s": r["virtual_time_s"], "wan_MB": r["wan_bytes"] / 1e6, "egress_usd": r["egress_usd"],
                     "wall_s": r["wall_time_s"]})
    return pd.DataFrame(rows).sort_values(["E", "seed"], ascending=[False, True]), metrics


def figure(metrics: pd.DataFrame, out_dir: Path) -> None:
    fig = new_figure(7.5, 4.6)
    ax = fig.subplots()
    for colour, (e, label) in zip(("C0", "C1"), LABELS.items(), strict=True):
        fid = metrics[metrics["E"] == e].pivot_table(index="iteration", columns="seed", values="fid")
        for seed in fid:
            ax.plot(fid.index, fid[seed], color=colour, lw=0.6, alpha=0.35)
        ax.fill_between(fid.index, fid.min(axis=1), fid.max(axis=1), color=colour, alpha=0.15, lw=0)
        ax.plot(fid.index, fid.mean(axis=1), color=colour, marker="o", ms=3,
                label=f"{label}: mean of {fid.shape[1]} seeds (band: min-max)")
    ax.set(xlabel="iteration (G updates)", ylabel="classifier-FID (n = 359, lower is better)", yscale="log",
           title="MD-GAN on wan-3dc, digits by_datacenter (non-IID)")
    ax.set_yticks([250, 300, 400, 500, 700, 1000])
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    save(fig, out_dir, "mdgan-swap")


def markdown(df: pd.DataFrame) -> str:
    out = ("| setting | seed | mean FID, 2nd half | best FID (iteration) | final FID | virtual s | WAN MB | egress $ "
           "| wall s |\n|---|---|---|---|---|---|---|---|---|\n")
    for e, rows in df.groupby("E", sort=False):
        for r in rows.itertuples():
            out += (f"| {LABELS[e]} | {r.seed} | {r.fid_second_half:.0f} | {r.best_fid:.0f} ({r.best_at}) | "
                    f"{r.final_fid:.0f} | {r.virtual_s:.1f} | {r.wan_MB:.1f} | {r.egress_usd:.4f} | {r.wall_s:.0f} |\n")
        f = rows["fid_second_half"]
        out += f"| **{LABELS[e]}, {len(rows)} seeds** | | **{f.mean():.0f} ± {f.std():.0f}** | | | | | | |\n"
    return out


def main(root: str, out: str) -> None:
    out_dir = Path(out)
    df, metrics = per_run(Path(root))
    figure(metrics, out_dir)
    write_study_table(df, markdown(df), out_dir, "mdgan-swap")


if __name__ == "__main__":
    main(*sys.argv[1:3])
