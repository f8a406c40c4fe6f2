"""scikit-learn's 8x8 digits: a real image data set that ships with sklearn, for fast tests.

1,797 images, 10 classes.  The train/test split is a fixed seeded 80/20 split
(independent of the ``seed`` argument, so train and test never overlap);
``seed`` only picks the subset when ``n`` is given.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from testbed.data.dataset import DatasetSpec, register, split_indices, subsample


@lru_cache(maxsize=1)
def _all_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0 * 2.0 - 1.0)[:, None, :, :]
    return x, bunch.target.astype(np.int64)


def _load(split: str, data_dir: str | None, seed: int, n: int | None):
    x, y = _all_digits()
    rows = split_indices(len(x), split)
    x, y = subsample(x[rows], y[rows], n, seed)
    return x.copy(), y.copy(), "sklearn.datasets.load_digits"


register(DatasetSpec(
    name="digits", kind="image", num_classes=10, sample_shape=(1, 8, 8), loader=_load,
    locate=lambda data_dir: "sklearn.datasets.load_digits", description="scikit-learn 8x8 digits",
))
