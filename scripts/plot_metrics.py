"""Plot a train-local run's headline metric over iterations (used for docs/train-local-*.png).

Usage: python scripts/plot_metrics.py RUN_DIR/metrics.csv DATASET OUT.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from analysis.script_args import positional
from testbed.quality import headline_metric


def main(csv_path: str, dataset: str, out_path: str) -> None:
    metrics = pd.read_csv(csv_path)
    name, higher_is_better = headline_metric(dataset)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(metrics["iteration"], metrics[name], marker="o")
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"{name} ({'higher' if higher_is_better else 'lower'} is better)")
    if not higher_is_better:
        ax.set_yscale("log")
    ax.set_title(f"train-local on {dataset}: {name}")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)


if __name__ == "__main__":
    main(*positional(__doc__, "metrics_csv", "dataset", "out_png"))
