"""Data sets load in the testbed's array convention, seeded, with disjoint digits splits."""

import numpy as np
import pytest

from testbed.core.errors import ConfigError
from testbed.data import MIXTURES, load_dataset


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_mixture_shapes_seeds_and_modes(name: str) -> None:
    train = load_dataset(name, "train", seed=3)
    test = load_dataset(name, "test", seed=3)
    assert train.x.shape == (20_000, 2) and test.x.shape == (5_000, 2)
    assert train.x.dtype == np.float32 and train.y.dtype == np.int64
    assert np.array_equal(train.x, load_dataset(name, "train", seed=3).x)
    assert not np.array_equal(train.x[:100], test.x[:100])
    spec = MIXTURES[name]
    assert train.num_classes == spec.num_modes
    dist = np.linalg.norm(train.x - spec.centers[train.y], axis=1)
    assert dist.max() < 6 * spec.std


def test_ring_and_grid_geometry() -> None:
    assert np.allclose(np.linalg.norm(MIXTURES["ring8"].centers, axis=1), 2.0)
    assert MIXTURES["ring8"].std == 0.02 and MIXTURES["grid25"].std == 0.05
    assert set(MIXTURES["grid25"].centers[:, 0]) == {-4.0, -2.0, 0.0, 2.0, 4.0}


def test_digits_images_and_split() -> None:
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert train.x.shape[1:] == (1, 8, 8) and train.sample_shape == (1, 8, 8)
    assert len(train) + len(test) == 1797 and len(train) == 1438
    assert train.x.min() >= -1.0 and train.x.max() <= 1.0
    rows = {r.tobytes() for r in train.x.reshape(len(train), -1)}
    overlap = sum(r.tobytes() in rows for r in test.x.reshape(len(test), -1))
    assert overlap < 5  # the raw data has a few exact duplicate images, no shared rows otherwise
    sub = load_dataset("digits", "train", seed=1, n=100)
    assert len(sub) == 100 and np.array_equal(sub.x, load_dataset("digits", "train", seed=1, n=100).x)


def test_unknown_dataset_and_split_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="dataset"):
        load_dataset("cifar100")
    with pytest.raises(ConfigError, match="split"):
        load_dataset("ring8", "validation")
