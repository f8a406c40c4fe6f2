"""Plot quality vs iteration for the Gaia-vs-PS runs and print their table (docs/gaia-vs-ps.md).

Usage: python scripts/plot_gaia_vs_ps.py OUT.png RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from analysis.runfiles import read_summary, read_table
from analysis.script_args import positional

METRICS = ("modes_covered", "high_quality_fraction")


def main(out_path: str, run_dirs: list[str]) -> None:
    fig, axes = plt.subplots(1, len(METRICS), figsize=(11, 4))
    print("| run | threshold | iterations | WAN MB | vs ps | virtual s | modes | high-quality |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for run_dir in run_dirs:
        summary = read_summary(Path(run_dir) / "summary.json") or {}
        config = (Path(run_dir) / "config.yaml").read_text()
        metrics = read_table(Path(run_dir) / "metrics.csv")
        label = Path(run_dir).name
        for ax, name in zip(axes, METRICS, strict=True):
            ax.plot(metrics["iteration"], metrics[name], marker="o", label=label,
                    linestyle="-" if label.startswith("gaia") else "--")
        rows.append((label, summary, config))
    ps_wan = [s["wan_bytes"] for label, s, _ in rows if label.startswith("ps")]
    for label, s, config in rows:
        threshold = next((ln.split(":")[1].strip() for ln in config.splitlines() if "threshold" in ln), "-")
        q = s["final_quality"]
        print(f"| {label} | {threshold} | {s['iterations']} | {s['wan_bytes'] / 1e6:.1f} | "
              f"{min(ps_wan) / s['wan_bytes']:.1f}x | {s['virtual_time_s']:.1f} | "
              f"{q['modes_covered']:.0f} | {q['high_quality_fraction']:.3f} |")
    for ax, name in zip(axes, METRICS, strict=True):
        ax.set_xlabel("iteration")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("ring8 on wan-3dc: gaia vs ps (sequential, server in us-east)")
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)


if __name__ == "__main__":
    main(*positional(__doc__, "out_png", "run_dir..."))
