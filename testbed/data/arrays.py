"""``.npz`` and ``.npy`` arrays as data sets: shapes, labels and value ranges made explicit.

Why a module of its own: an array can mean many things -- grey images (N, H, W), colour images
channels-first (N, C, H, W) or channels-last (N, H, W, C), plain vectors (N, d) -- stored as bytes
0..255 or as floats in [0, 1] or [-1, 1].  The rules below say once how each becomes the testbed's
convention (images (N, C, H, W) float32 in [-1, 1]; vectors as stored, like the 2-D mixtures), and
every ambiguous case is a one-line error asking for the missing word (``range: [lo, hi]``) rather
than a guess.  Arrays are read whole when the experiment is parsed (numpy's own reader,
``allow_pickle=False``), so a bad value fails before anything runs; the probe hands the converted
samples on, and the files module caches them per process.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from testbed.data.files import FileFormat, FileRef, Probe, existing_path, fail, labels_from, register_format

IMAGE_CHANNELS = (1, 3)


def _array_shape(shape: tuple[int, ...], key: str) -> tuple[tuple[int, ...], str, bool]:
    """(sample shape, kind, channels-last?) of an array of ``shape`` (rows first)."""
    if len(shape) == 2 and shape[1] >= 1:
        return (shape[1],), "vector", False
    if len(shape) == 3:
        return (1, shape[1], shape[2]), "image", False
    if len(shape) == 4 and shape[1] in IMAGE_CHANNELS:
        return tuple(shape[1:]), "image", False
    if len(shape) == 4 and shape[3] in IMAGE_CHANNELS:
        return (shape[3], shape[1], shape[2]), "image", True
    raise fail(key, f"an array of shape {shape} is neither vectors (N, d), grey images (N, H, W) nor colour "
                    "images (N, C, H, W) / (N, H, W, C) with C = 1 or 3", "store the samples in one of those shapes")


def _range(value: Any, base_dir: Path) -> str:
    ok = isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in value)
    if not ok or value[0] >= value[1]:
        raise fail("range", f"expected [low, high] with low < high, got {value!r}",
                   "write the range the stored values span, e.g. range: [0, 255]")
    return f"{float(value[0])!r},{float(value[1])!r}"


def _name(value: Any, base_dir: Path, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise fail(key, f"expected the name of an array, got {value!r}", f"write {key}: x")
    return value


def _scaled(x: np.ndarray, kind: str, declared: str | None, key: str) -> tuple[np.ndarray, str]:
    """Samples in the model's range: images mapped from their stored range to [-1, 1], vectors as stored."""
    if x.dtype.kind not in "iuf":
        raise fail(key, f"the samples are {x.dtype}, not numbers", "store them as uint8 or float arrays")
    if not np.all(np.isfinite(x)):
        raise fail(key, "the samples contain NaN or infinity", "clean the array before training on it")
    if kind == "vector":
        if declared is not None:
            raise fail("range", "applies to images; vectors are used as stored", "drop range")
        return x.astype(np.float32), "vectors used as stored"
    lo, hi = float(x.min()), float(x.max())
    if declared is not None:
        low, high = (float(v) for v in declared.split(","))
    elif x.dtype == np.uint8:
        low, high = 0.0, 255.0
    elif x.dtype.kind == "f" and -1.0 <= lo and hi <= 1.0:
        low, high = (0.0, 1.0) if lo >= 0.0 else (-1.0, 1.0)
    else:
        raise fail("range", f"{x.dtype} images with values in [{lo:g}, {hi:g}]: the stored range is not "
                            "uint8 [0, 255], float [0, 1] or float [-1, 1]", "say it: range: [low, high]")
    if lo < low or hi > high:
        raise fail("range", f"values span [{lo:g}, {hi:g}], outside the range [{low:g}, {high:g}]",
                   "give the range the stored values span")
    scaled = (x.astype(np.float64) - low) / (high - low) * 2.0 - 1.0
    return scaled.astype(np.float32), f"images scaled from [{low:g}, {high:g}] to [-1, 1]"


def _as_probe(x: np.ndarray, key: str, labels: np.ndarray | None, labels_key: str, declared: str | None,
              files: tuple[Path, ...]) -> Probe:
    if x.ndim == 0 or x.shape[0] == 0:
        raise fail(key, f"the array holds no samples (shape {x.shape})", "store one sample per row")
    shape, kind, channels_last = _array_shape(tuple(x.shape), key)
    if channels_last:
        x = np.moveaxis(x, 3, 1)
    elif x.ndim == 3:
        x = x[:, None]
    x, scaling = _scaled(x, kind, declared, key)
    codes, classes = None, ()
    if labels is not None:
        if len(labels) != len(x):
            raise fail(labels_key, f"{len(labels)} labels for {len(x)} samples", "give one label per sample")
        codes, classes = labels_from(labels, labels_key)
    return Probe(len(x), shape, kind, codes, classes, scaling, files, samples=x)


def _load_npz(path: Path) -> Any:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise fail("path", f"{path} is not a readable .npz archive ({type(err).__name__}: {err})",
                   "write it with numpy.savez / savez_compressed") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise fail("path", f"{path} holds a single array, not an .npz archive", "use name: npy for .npy files")
    return archive


def _npz_array(archive: Any, path: Path, name: str, key: str) -> np.ndarray:
    if name not in archive.files:
        raise fail(key, f"{name!r} is not in {path.name} (it holds {', '.join(archive.files) or 'nothing'})",
                   f"use one of {', '.join(archive.files)}")
    try:
        return archive[name]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise fail(key, f"array {name!r} of {path} cannot be read ({type(err).__name__}: {err})",
                   "write the file again with numpy.savez") from None


def _npz_probe(fref: FileRef) -> Probe:
    path = Path(fref.path)
    with _load_npz(path) as archive:
        key = fref.option("key")
        if key is None:
            if len(archive.files) != 1:
                raise fail("key", f"missing, and {path.name} holds {len(archive.files)} arrays "
                                  f"({', '.join(archive.files)})",
                           f"say which holds the samples: key: {archive.files[0]}")
            key = archive.files[0]
        x = _npz_array(archive, path, key, "key")
        labels_name = fref.option("labels")
        labels = None if labels_name is None else _npz_array(archive, path, labels_name, "labels")
    return _as_probe(x, "key", labels, "labels", fref.option("range"), (path,))


def _load_npy(path: Path, key: str) -> np.ndarray:
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise fail(key, f"{path} is not a readable .npy file ({type(err).__name__}: {err})",
                   "write it with numpy.save") from None
    if not isinstance(value, np.ndarray):
        raise fail(key, f"{path} is an .npz archive, not an .npy file", "use name: npz")
    return value


def _npy_probe(fref: FileRef) -> Probe:
    path = Path(fref.path)
    x = _load_npy(path, "path")
    labels_path = fref.option("labels")
    labels = None if labels_path is None else _load_npy(Path(labels_path), "labels")
    files = (path,) if labels_path is None else (path, Path(labels_path))
    return _as_probe(x, "path", labels, "labels", fref.option("range"), files)


register_format(FileFormat(
    name="npz", location="path",
    options={"key": lambda v, d: _name(v, d, "key"), "labels": lambda v, d: _name(v, d, "labels"), "range": _range},
    probe=_npz_probe, read=None, example="dataset: {name: npz, path: data.npz, key: x, labels: y}"))
register_format(FileFormat(
    name="npy", location="path",
    options={"labels": lambda v, d: existing_path(v, d, "labels", want_dir=False), "range": _range},
    probe=_npy_probe, read=None, example="dataset: {name: npy, path: x.npy, labels: y.npy}", path_options=("labels",)))
