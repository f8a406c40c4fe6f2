"""Figures of docs/beyond-anchors.md that the registered plots do not draw: churn from the trace, cross-traffic.

Usage: python scripts/plot_beyond_anchors.py RESULTS/beyond-anchors OUT_DIR

* ``beyond-anchors-fleet.png``: the fedbuff-fleet run -- per worker, when it was down (the trace's
  intervals as the run's NodeClock maps them, from its config.yaml and seed) and when the server handed
  it work (its ``params_g`` messages): work goes only to workers that are up.
* ``beyond-anchors-background.png``: the cross-traffic run -- per directed WAN link with background
  traffic, the run's and the background's carried bits per second (``wan_rate.csv``,
  ``background_rate.csv``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.script_args import positional  # noqa: E402
from testbed.sim.node_clock import NodeClock  # noqa: E402
from testbed.topology.schema import load_topology  # noqa: E402


def fleet(run_dir: Path, out: Path) -> None:
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    topology = load_topology(config["topology"]) if isinstance(config["topology"], dict) else load_topology(
        ROOT / config["topology"])
    clock = NodeClock(topology, int(config["seed"]))
    traffic = pd.read_parquet(run_dir / "traffic.parquet")
    work = traffic[traffic["kind"] == "params_g"]
    end_s = float(traffic["t_send_s"].max())
    workers = list(topology.nodes)
    fig, ax = plt.subplots(figsize=(11, 0.35 * len(workers) + 1.4), layout="constrained")
    for row, worker in enumerate(workers):
        t = 0.0
        while t < end_s:
            change = min(clock.next_change_s(worker, t), end_s)
            if not clock.available(worker, t):
                ax.barh(row, change - t, left=t, height=0.7, color="0.8")
            t = change
        sent = work[work["dst"] == worker]["t_send_s"]
        ax.scatter(sent, [row] * len(sent), marker="|", s=60, color="tab:blue")
    ax.set_yticks(range(len(workers)), [f"{w} (client {clock.trace_owner(w)})" for w in workers], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, end_s)
    ax.set_xlabel("virtual time (s)")
    ax.set_title("fedbuff-fleet: grey = down (trace fleet-48.csv), blue = the server hands the worker a model")
    fig.savefig(out, dpi=110)
    plt.close(fig)


def background(run_dir: Path, out: Path) -> None:
    bg = pd.read_csv(run_dir / "background_rate.csv")
    own = pd.read_csv(run_dir / "wan_rate.csv")
    links = sorted(bg["link"].unique())
    fig, axes = plt.subplots(len(links), 1, figsize=(11, 2.2 * len(links) + 0.8), sharex=True, squeeze=False,
                             layout="constrained")
    for ax, link in zip(axes[:, 0], links, strict=True):
        for frame, label, color in ((bg, "background (not the run's bytes)", "0.6"), (own, "the run", "tab:blue")):
            rows = frame[frame["link"] == link].sort_values("t_s")
            ax.step(rows["t_s"], rows["bps"] / 1e6, where="post", label=label, color=color, linewidth=1)
        ax.set_title(link, fontsize=9, loc="left")
        ax.set_ylabel("Mbit/s")
        ax.grid(True, alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    axes[-1, 0].set_xlabel("virtual time (s)")
    fig.suptitle("Cross-traffic: carried bits per second on the WAN links with background traffic")
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    results, out_dir = (Path(p) for p in positional(__doc__, "results", "out_dir"))
    fleet(results / "fedbuff-fleet", out_dir / "beyond-anchors-fleet.png")
    if (results / "cross-traffic" / "background_rate.csv").is_file():
        background(results / "cross-traffic", out_dir / "beyond-anchors-background.png")


if __name__ == "__main__":
    main()
