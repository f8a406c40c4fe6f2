"""Read the IDX format that MNIST and Fashion-MNIST are distributed in (optionally gzipped).

Both data sets use the same four files (``train-images-idx3-ubyte`` ...), so one
reader and one file-name table serve every source that holds idx files: a user
``--data-dir``, ``$TESTBED_DATA``, the Debian package, a download cache.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """The array stored in one idx file (``.gz`` is decompressed transparently)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise ValueError(f"{path} is not an idx file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=_DTYPES[data[2]], offset=4 + 4 * ndim).reshape(shape)


def find_idx_file(directory: Path, stem: str) -> Path | None:
    """``stem`` or ``stem.gz`` in ``directory`` (also the ``stem.idx3-ubyte`` spelling)."""
    for name in (stem, f"{stem}.gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def has_idx_split(directory: Path, split: str) -> bool:
    """Whether ``directory`` holds both files (images, labels) of ``split``."""
    return all(find_idx_file(directory, stem) is not None for stem in IDX_FILES[split])


def read_idx_split(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, H, W), labels (N,)) of ``split`` from an idx directory."""
    images_stem, labels_stem = IDX_FILES[split]
    images = read_idx(find_idx_file(directory, images_stem))  # type: ignore[arg-type]
    labels = read_idx(find_idx_file(directory, labels_stem))  # type: ignore[arg-type]
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{directory}: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels
