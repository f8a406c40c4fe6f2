"""MNIST and Fashion-MNIST (28x28 grey images, 10 classes), read from whatever offline source exists.

The search order and install hints live in :mod:`testbed.data.sources`; this
module only registers the two data sets and caches decoded arrays per process
(decoding 60k gzipped images costs about a second).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from testbed.data import sources
from testbed.data.dataset import DatasetSpec, register, subsample


@lru_cache(maxsize=8)
def _decoded(found: sources.Found, split: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = sources.read(found, split)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def _make_loader(name: str):
    def load(split: str, data_dir: str | None, seed: int, n: int | None):
        found = sources.locate(name, data_dir)
        x, y = _decoded(found, split)
        x, y = subsample(x, y, n, seed)
        return np.array(x), np.array(y), found.describe()
    return load


def _make_locator(name: str):
    return lambda data_dir: sources.locate(name, data_dir).describe()


for _name, _desc in (("mnist", "MNIST handwritten digits 28x28"),
                     ("fashion_mnist", "Fashion-MNIST clothing 28x28")):
    register(DatasetSpec(name=_name, kind="image", num_classes=10, sample_shape=(1, 28, 28),
                         loader=_make_loader(_name), locate=_make_locator(_name), description=_desc,
                         reads_files=True))
