"""The regime map's two figures (scripts/study_regime_map.py, docs/studies/regime-map.md).

Why a file of its own: the study script stays a readable pipeline (read, summarise, write) and the
figures' layout -- one panel per map and compute level, the winner's colour per point, hatched ties;
bytes and dollars per seed beside the time an iteration costs -- can be read on its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.patches import Patch, Rectangle

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from regime_map_runs import TRAINED  # scripts/, beside this file

from analysis.style import new_figure, save

METHODS = ("centralized", "ps", "fedsgd", "fedavg", "mdgan", "sqm", "gossip", "gaia", "ps-ssp2", "ps-eventual")
"""Every contender; the timing-dependent ones (Gaia, the relaxed ps) only where they were trained."""
COLOURS = {"centralized": "#7f7f7f", "ps": "#1f77b4", "fedsgd": "#17becf", "fedavg": "#ff7f0e",
           "mdgan": "#2ca02c", "sqm": "#9467bd", "gossip": "#8c564b", "gaia": "#d62728",
           "ps-ssp2": "#aec7e8", "ps-eventual": "#393b79"}
USD_PER_GB = 0.02
"""topologies/regime-3dc.yaml's egress price, the same on every link: dollars are WAN bytes x this."""


def figure_map(win: pd.DataFrame, out: Path, sensitive: pd.DataFrame | None = None) -> None:
    """One panel per (map, compute level): bandwidth x RTT, colour = fastest method, hatched = tie; a dotted
    frame where the answer changes with another fully-seeded setting (``sensitive``: the sensitivity table)."""
    moved = set() if sensitive is None or not len(sensitive) else {
        (r["map"], r["bandwidth_Mbps"], r["rtt_ms"], r["step_ms"], f"{r['family']} {r['alt_lr']:g}: {r['winner_alt']}")
        for _, r in sensitive.iterrows()}
    notes = {k[:4]: k[4] for k in moved}
    steps, bws, rtts = (sorted(win[c].unique()) for c in ("step_ms", "bandwidth_Mbps", "rtt_ms"))
    fig = new_figure(13, 8.2)
    maps = list(dict.fromkeys(win["map"]))
    axes = fig.subplots(len(maps), len(steps), squeeze=False)
    for row, name in enumerate(maps):
        for col, step in enumerate(steps):
            ax = axes[row][col]
            w = win[(win["map"] == name) & (win["step_ms"] == step)]
            for _, r in w.iterrows():
                x, y = bws.index(r["bandwidth_Mbps"]), rtts.index(r["rtt_ms"])
                tie = r["winner"] == "tie"
                ax.add_patch(Rectangle(
                    (x - 0.5, y - 0.5), 1, 1, facecolor=COLOURS[r["fastest"]], alpha=0.35 if tie else 0.9,
                    hatch="//" if tie else None, edgecolor="white"))
                margin = f"{r['margin']:.2f}x" if np.isfinite(r["margin"]) else "only one to reach;"
                text = (f"{r['fastest']} {margin}\ntie: {r['runner_up']}" if tie
                        else f"{r['fastest']}\n{margin} {r['runner_up']}")
                if set(TRAINED) & set(str(r["contenders"]).split("/")):
                    text += "\n(+ trained here)"
                note = notes.get((name, r["bandwidth_Mbps"], r["rtt_ms"], step))
                if note:
                    text += f"\n({note})"
                    ax.add_patch(Rectangle((x - 0.47, y - 0.47), 0.94, 0.94, fill=False, edgecolor="black",
                                           linestyle=":", linewidth=1.2))
                ax.text(x, y, text, ha="center", va="center", fontsize=6.5, color="black" if tie else "white")
            ax.set_xlim(-0.5, len(bws) - 0.5)
            ax.set_ylim(-0.5, len(rtts) - 0.5)
            ax.set_xticks(range(len(bws)), [f"{b:g}" for b in bws])
            ax.set_yticks(range(len(rtts)), [f"{r:g}" for r in rtts])
            ax.set_xlabel("WAN bandwidth per link (Mbps)")
            ax.set_ylabel("round-trip time (ms)")
            title = "every method" if name == "all" else "data stays in its region (no centralized)"
            ax.set_title(f"{title}\n{step:g} ms per step", fontsize=9)
    present = sorted(set(win["fastest"]) | set(win["runner_up"]), key=METHODS.index)
    handles = [Patch(facecolor=COLOURS[m], label=m) for m in present]
    handles.append(Patch(facecolor="white", edgecolor="grey", hatch="//", label="tie (no difference measured)"))
    if notes:
        handles.append(Patch(facecolor="white", edgecolor="black", linestyle=":",
                             label="answer depends on a tuning choice (section Sensitivity)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8)
    fig.suptitle("Fastest to the ring8 target (high-quality fraction >= 0.7 and >= 7 of 8 modes); "
                 "Nx = runner-up's median time / the fastest's", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    save(fig, out, "regime-map")


def figure_cost(runs: pd.DataFrame, tim: pd.DataFrame, out: Path) -> None:
    """Left: WAN MB to target per method and seed (the same on every network); right: seconds per iteration."""
    fig = new_figure(12, 4.4)
    left, right = fig.subplots(1, 2)
    present = [m for m in METHODS if (runs["method"] == m).any()]
    finite = runs.loc[runs["reached"] & runs["wan_MB"].gt(0), "wan_MB"]
    top = float(finite.max()) * 3 if len(finite) else 1.0
    for i, method in enumerate(present):
        r = runs[runs["method"] == method]
        got = r[r["reached"]]
        y = got["wan_MB"].clip(lower=1e-2)
        left.scatter(np.full(len(y), i) + np.linspace(-0.15, 0.15, len(y)), y, color=COLOURS[method], s=22, zorder=3)
        missed = int((~r["reached"]).sum())
        if missed:
            left.text(i, top, f"{missed} never", ha="center", va="bottom", fontsize=7, color=COLOURS[method])
        if len(got) * 2 > len(r):
            left.hlines(float(np.median(np.where(r["reached"], r["wan_MB"], np.inf))), i - 0.3, i + 0.3,
                        color="black", lw=1.5)
    left.set_yscale("log")
    left.set_ylim(1e-2 / 2, top * 4)
    left.set_xticks(range(len(present)), present, rotation=20)
    left.set_ylabel("WAN MB to target (each seed; bar = median)")
    secondary = left.secondary_yaxis("right", functions=(lambda mb: mb / 1e3 * USD_PER_GB,
                                                         lambda usd: usd * 1e3 / USD_PER_GB))
    secondary.set_ylabel("egress USD to target")
    left.set_title("bytes and dollars to target (any network: value-independent)", fontsize=9)
    base = tim[(tim["rtt_ms"] == 50) & (tim["step_ms"] == 1)]
    for method in [m for m in METHODS if (base["method"] == m).any()]:
        t = base[base["method"] == method].sort_values("bandwidth_Mbps")
        unit = "round" if method == "fedavg" else "iteration"
        right.plot(t["bandwidth_Mbps"], t["s_per_iteration"] * 1e3, marker="o", color=COLOURS[method],
                   linestyle="--" if method == "fedsgd" else "-", label=f"{method} (per {unit})")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("WAN bandwidth per link (Mbps), 50 ms RTT, 1 ms per step")
    right.set_ylabel("virtual ms per iteration (FedAvg: per round)")
    right.legend(fontsize=7)
    right.set_title("what an iteration costs in time", fontsize=9)
    fig.tight_layout()
    save(fig, out, "regime-map-cost")
