"""MNIST and Fashion-MNIST as ``scripts/install-data.sh`` installs them: offline, both splits, the array convention.

Fast (a few seconds: one decode per split); run wherever the data is installed.  Without it each test
skips in one line naming the install script -- and fails under ``CI=true``, so CI cannot pass by
silently skipping (``require_datasets`` in conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_datasets

from testbed.data import dataset_status, load_dataset

SOURCES = {"mnist": ("pickle:", "idx:"), "fashion_mnist": ("idx:",)}


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_28x28_set_loads_offline_in_the_testbed_convention(name: str) -> None:
    require_datasets(name)
    train, test = load_dataset(name, "train"), load_dataset(name, "test")
    assert (len(train), len(test)) == (60_000, 10_000)
    assert train.x.shape[1:] == (1, 28, 28) and train.x.dtype == np.float32 and train.sample_shape == (1, 28, 28)
    assert train.x.min() == -1.0 and 0.99 <= train.x.max() <= 1.0  # the pickle stores pixels as k/256
    assert sorted(np.unique(train.y)) == list(range(10)) and train.num_classes == 10
    assert np.bincount(test.y).min() > 800, "every class is in the test split"
    assert train.source.startswith(SOURCES[name]), train.source
    sub = load_dataset(name, "train", seed=2, n=500)
    assert len(sub) == 500 and np.array_equal(sub.x, load_dataset(name, "train", seed=2, n=500).x)


def test_data_status_lists_both_as_available() -> None:
    require_datasets("mnist", "fashion_mnist")
    rows = {row.name: row for row in dataset_status()}
    assert rows["mnist"].available and rows["fashion_mnist"].available
