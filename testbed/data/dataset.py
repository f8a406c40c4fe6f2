"""What a data set *is* to the rest of the testbed, and the registry of them.

Algorithms, partitions and metrics only ever see a :class:`Dataset`: arrays in
one fixed convention (float32 samples, images as (N, 1, H, W) in [-1, 1],
int64 labels) plus the string saying where the bytes came from.  Each data set
registers a :class:`DatasetSpec` here, so adding one is adding an entry, and
``data status`` can list them all without an ``if name == ...`` chain.  Importing this module
imports the package first, whose ``__init__`` imports every data set module, so the registry is
full before any lookup.  A data set read from the researcher's own files has no registered name: it
is named by a *reference* (``npz:/abs/data.npz?key=x``, :mod:`testbed.data.files`) whose scheme
(``npz``, ``npy``, ``images``) is looked up in :data:`SCHEMES`, so every process that is handed the
name -- a Ray actor, the evaluator, ``testbed sample`` -- resolves it to the same spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from testbed.core.errors import ConfigError
from testbed.core.registry import Registry

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Dataset:
    """One split of one data set, in the testbed's array convention."""

    name: str
    x: np.ndarray
    y: np.ndarray
    num_classes: int
    sample_shape: tuple[int, ...]
    source: str

    def __len__(self) -> int:
        return int(self.x.shape[0])


# loader(split, data_dir, seed, n) -> (x, y, source)
Loader = Callable[[str, "str | None", int, "int | None"], tuple[np.ndarray, np.ndarray, str]]
# locate(data_dir) -> where the data would be read from; raises ConfigError if nowhere
Locator = Callable[["str | None"], str]


@dataclass(frozen=True)
class FileFingerprint:
    """What a file data set was read from: total bytes and SHA-256 (of the file, or of the list of
    (relative path, SHA-256) pairs when it is a folder or several files), and how many files."""

    nbytes: int
    sha256: str
    files: int


@dataclass(frozen=True)
class DatasetSpec:
    """A data set: its kind (``mixture``, ``image`` or ``vector``), shape, labels and loader.

    ``reads_files``: it is read from a ``data_dir`` (mnist, fashion_mnist), so that setting means something
    to it (the others refuse one).  ``labelled``: whether ``y`` holds real class labels (an unlabelled set
    has ``y`` of shape (N, 0): no label partition, no classifier, zero label bytes).  ``cache_dir``: where
    artefacts derived from the data (its quality classifier) are kept, None for the testbed cache.
    ``file``: the fingerprint of a data set read from the researcher's own files."""

    name: str
    kind: str
    num_classes: int
    sample_shape: tuple[int, ...]
    loader: Loader
    locate: Locator
    description: str
    reads_files: bool = False
    labelled: bool = True
    cache_dir: str | None = None
    file: FileFingerprint | None = None


DATASETS: Registry[DatasetSpec] = Registry("data set")
SCHEMES: Registry[Callable[[str], DatasetSpec]] = Registry("data file format")
"""``scheme`` -> resolver of a reference ``scheme:...`` to its spec (testbed.data.files registers them)."""


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add a data set to the registry (each name once)."""
    return DATASETS.add(spec.name, spec)


def scheme_of(name: str) -> str | None:
    """``npz`` for the reference ``npz:/data/x.npz?key=x``; None for a registered name."""
    head, sep, _ = str(name).partition(":")
    return head if sep and head in SCHEMES else None


def canonical_dataset_name(name: str) -> str:
    """``fashion-mnist`` and ``Fashion_MNIST`` are ``fashion_mnist``: the registered spelling of a name."""
    if name in DATASETS or scheme_of(name):
        return name
    folded = {key.replace("-", "_").lower(): key for key in DATASETS}
    return folded.get(str(name).replace("-", "_").lower(), name)


def dataset_spec(name: str) -> DatasetSpec:
    """The spec for ``name`` (any spelling :func:`canonical_dataset_name` accepts, or a file reference)."""
    scheme = scheme_of(name)
    if scheme is not None:
        return SCHEMES[scheme](name)
    return DATASETS.require(canonical_dataset_name(name), None, "dataset")


def load_dataset(name: str, split: str = "train", data_dir: str | None = None, seed: int = 0,
                 n: int | None = None) -> Dataset:
    """Load one split of a registered data set (``n`` samples, seeded subset, if given)."""
    spec = dataset_spec(name)
    name = spec.name
    if split not in SPLITS:
        raise ConfigError(None, "split", f"unknown split {split!r}", f"use one of {', '.join(SPLITS)}")
    if n is not None and n <= 0:
        raise ConfigError(None, "n", f"sample count must be positive, got {n}", "pass n >= 1 or None")
    x, y, source = spec.loader(split, data_dir, seed, n)
    return Dataset(name=name, x=x, y=y, num_classes=spec.num_classes, sample_shape=spec.sample_shape,
                   source=source)


SPLIT_SEED = 0
TRAIN_FRACTION = 0.8


def split_indices(count: int, split: str) -> np.ndarray:
    """Rows of ``split`` for a data set of ``count`` rows that ships no test split of its own: a fixed
    seeded 80/20 cut (independent of the run's seed, so train and test never overlap)."""
    order = np.random.default_rng(SPLIT_SEED).permutation(count)
    cut = round(TRAIN_FRACTION * count)
    return order[:cut] if split == "train" else order[cut:]


def subsample(x: np.ndarray, y: np.ndarray, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded subset of ``n`` rows (all rows, in order, when ``n`` is None or too big)."""
    if n is None or n >= len(x):
        return x, y
    idx = np.sort(np.random.default_rng(seed).choice(len(x), size=n, replace=False))
    return x[idx], y[idx]
