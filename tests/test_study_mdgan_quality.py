"""The MD-GAN vs FL-GAN quality suites compare both methods on the same number of epochs.

Why: the study's budget unit is the epoch (docs/studies/mdgan-vs-flgan-quality.md), MD-GAN needing
ceil(m/b) iterations for one (m = n/N images per worker) and FL-GAN one round; a suite edited to
other N, n or b must keep the two equal, and every cell must still parse.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from testbed.experiment.spec import parse_experiment
from testbed.suite.spec import load_suite

ROOT = Path(__file__).resolve().parents[1]
SUITES = ["mdgan-vs-flgan-quality.yaml", "mdgan-vs-flgan-quality-full.yaml"]
MNIST_TRAIN = 60_000


@pytest.mark.parametrize("name", SUITES)
def test_equal_epochs_for_both_methods_at_every_n_and_seed(name: str) -> None:
    suite = load_suite(ROOT / "experiments" / "studies" / name)
    epochs: dict[tuple[int, int], dict[str, float]] = {}
    for cell in suite.cells:
        parse_experiment(cell.experiment, cell.id, ROOT)
        e = cell.experiment
        n_workers = sum(dc["workers"] for dc in e["topology"]["datacenters"].values())
        dataset = e["dataset"]
        n = dataset["n"] if isinstance(dataset, dict) else MNIST_TRAIN
        method = e.get("algorithm", {}).get("name")
        per_epoch = math.ceil(n / n_workers / e["training"]["batch_size"]) if method == "mdgan" else 1
        epochs.setdefault((n_workers, e["seed"]), {})[method] = e["max_iterations"] / per_epoch
    assert len({n for n, _ in epochs}) >= 2  # one N each side of the crossover
    for key, by_method in epochs.items():
        assert set(by_method) == {"mdgan", "fedavg"}, key
        assert by_method["mdgan"] == by_method["fedavg"], key
