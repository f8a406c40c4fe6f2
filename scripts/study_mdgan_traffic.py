"""Figure and table of the MD-GAN vs FL-GAN traffic study (docs/studies/mdgan-vs-flgan-traffic.md).

Usage: python scripts/study_mdgan_traffic.py RESULTS/mdgan-vs-flgan-traffic OUT_DIR

Unit of progress: one *epoch* -- every worker's discriminator has seen its m = n/N local images once.
MD-GAN needs m/b iterations for it and swaps each D once (period P = ceil(m/b)); FL-GAN (FedAvg of G
and D, E = 1) needs one round.  Per epoch, with N workers (all of them remote from the server):

    MD-GAN  N * 3*b*d*4 * m/b  +  N * 4|D| * (m/b)/P   ~=  12 n d + 4 |D| N     (b cancels)
    FL-GAN  N * 2 * 4(|G| + |D|)                        =  8 (|G| + |D|) N

so FL-GAN's cost grows with N and MD-GAN's barely does: they cross at N* = 12 n d / (8|G| + 4|D|).
Measured: the runs' payload bytes (bytes_by_kind; headers left out, as in the formula), every
worker's traffic (the edge's over the WAN, the hub worker's over its LAN -- what all N would send
if each sat in its own region); MD-GAN's samples + feedback per iteration scaled to m/b
iterations, plus its swap_d bytes per swap round scaled to (m/b)/P rounds (the formula's 4|D|N where
no swap fell inside the short run); FL-GAN's one round as run.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd
import yaml
from matplotlib.ticker import NullFormatter, ScalarFormatter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis import load_results
from analysis.runfiles import read_summary
from analysis.script_args import positional
from analysis.study_files import write_study_table
from analysis.style import method_colors, new_figure, save

D_FLOATS = 784  # MNIST, 28 x 28


def table(root: Path) -> pd.DataFrame:
    runs = load_results(root).complete
    rows = []
    for _, r in runs.iterrows():
        summary = read_summary(Path(r["run_dir"]) / "summary.json") or {}
        kinds = summary["bytes_by_kind"]
        n_workers = int(r["topology.datacenters.edge.workers"]) + 1
        dataset = yaml.safe_load((Path(r["run_dir"]) / "config.yaml").read_text())["dataset"]
        n_data = int(dataset.get("n") or 60000)  # None: all of MNIST's training split
        b = int(r["training.batch_size"])
        g, d = summary["generator_params"], summary["discriminator_params"]
        m = n_data / n_workers
        method = "MD-GAN" if r["algorithm.name"] == "mdgan" else "FL-GAN"
        if method == "MD-GAN":
            period = max(1, math.ceil(m / b))
            swaps_per_epoch = (m / b) / period
            per_it = (kinds.get("samples", 0) + kinds.get("feedback", 0)) / summary["iterations"]
            rounds = summary["iterations"] // period
            swap_round = kinds.get("swap_d", 0) / rounds if rounds else None
            swap_part = swap_round if swap_round is not None else n_workers * 4 * d  # formula when no swap ran
            measured = per_it * m / b + swap_part * swaps_per_epoch
            formula = n_workers * 3 * b * D_FLOATS * 4 * m / b + n_workers * 4 * d * swaps_per_epoch
        else:
            measured = sum(kinds.values()) / summary["iterations"]
            formula = n_workers * 8 * (g + d)
        rows.append({"method": method, "N": n_workers, "b": b, "n": n_data, "G": g, "D": d,
                     "measured_MB_per_epoch": measured / 1e6, "formula_MB_per_epoch": formula / 1e6,
                     "swap_measured": swap_round is not None if method == "MD-GAN" else None})
    return pd.DataFrame(rows).sort_values(["method", "b", "N"]).reset_index(drop=True)


def crossover(df: pd.DataFrame) -> float:
    r = df.iloc[0]
    return 12 * r["n"] * D_FLOATS / (8 * r["G"] + 4 * r["D"])


def figure(df: pd.DataFrame, out_dir: Path, name: str) -> None:
    fig = new_figure(12, 4.6)
    left, right = fig.subplots(1, 2)
    colors = dict(zip(("FL-GAN", "MD-GAN"), method_colors(["fedavg", "mdgan"]).values(), strict=True))
    markers = {10: "o", 50: "s"}
    n_star = crossover(df)
    for (method, b), rows in df.groupby(["method", "b"]):
        left.plot(rows["N"], rows["formula_MB_per_epoch"], "-", color=colors[method], alpha=0.6,
                  label=f"{method}, b = {b}: formula")
        left.plot(rows["N"], rows["measured_MB_per_epoch"], markers[b], mfc="none", ms=9, color=colors[method],
                  label=f"{method}, b = {b}: measured")
    left.axvline(n_star, color="k", ls="--", lw=1)
    left.text(n_star * 1.05, 0.03, f"crossover N* = 12nd / (8|G| + 4|D|) = {n_star:.1f}",
              transform=left.get_xaxis_transform(), fontsize=8)
    left.set(xscale="log", yscale="log", xlabel="workers N", ylabel="MB per epoch (all workers)",
             title=f"Bytes per epoch, MNIST n = {int(df['n'].iloc[0]):,}, d = 784")
    left.legend(fontsize=7, ncol=2)
    md = df[df["method"] == "MD-GAN"].set_index(["N", "b"])
    fl = df[df["method"] == "FL-GAN"].set_index(["N", "b"])
    ratio = (md["measured_MB_per_epoch"] / fl["measured_MB_per_epoch"]).rename("ratio").reset_index()
    for b, rows in ratio.groupby("b"):
        right.plot(rows["N"], rows["ratio"], "-" + markers[b], color="C3", mfc="none", ms=8,
                   label=f"b = {b} (measured)")
    right.axhline(1, color="gray", lw=1)
    right.axvline(n_star, color="k", ls="--", lw=1, label=f"N* = {n_star:.1f} (formula)")
    right.set(xscale="log", yscale="log", xlabel="workers N", ylabel="MD-GAN bytes / FL-GAN bytes, per epoch",
              title="Above 1: FL-GAN is cheaper; below: MD-GAN")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
        ax.set_xticks(sorted(df["N"].unique()))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    left.set_yticks([30, 50, 100, 200, 300, 500])
    right.set_yticks([0.5, 0.7, 1, 1.5, 2, 3])
    save(fig, out_dir, name)


def markdown(df: pd.DataFrame) -> str:
    out = "| method | N | b | measured MB/epoch | formula MB/epoch | swap bytes measured |\n|---|---|---|---|---|---|\n"
    for r in df.itertuples():
        swap = "" if r.method == "FL-GAN" else ("yes" if r.swap_measured else "no (formula)")
        out += (f"| {r.method} | {r.N} | {r.b} | {r.measured_MB_per_epoch:,.1f} | "
                f"{r.formula_MB_per_epoch:,.1f} | {swap} |\n")
    return out


def main(root: str, out: str) -> None:
    out_dir, name = Path(out), Path(root).name
    df = table(Path(root))
    figure(df, out_dir, name)
    write_study_table(df, markdown(df), out_dir, name)
    print(f"crossover N* = {crossover(df):.2f}")


if __name__ == "__main__":
    main(*positional(__doc__, "results", "out_dir"))
