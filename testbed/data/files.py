"""Data sets from the researcher's own files: ``.npz`` / ``.npy`` arrays and folders of images.

Why: "how would *my* GAN fare across three regions?" needs *my* data.  A file data set is named
by a reference string -- ``npz:/abs/data.npz?key=x&labels=y``, ``images:/abs/shapes?size=32`` --
that any process (a Ray actor, the evaluator, ``testbed sample``) resolves to the same
:class:`~testbed.data.dataset.DatasetSpec`, so the rest of the testbed keeps handing a data set
around as one name.  The experiment YAML writes it as a mapping (``{name: npz, path: data.npz,
key: x}``; paths relative to the YAML file); :func:`parse_file_dataset` turns that into the
reference, and the formats (:mod:`testbed.data.arrays`, :mod:`testbed.data.images`) register
here.  Samples are brought into the testbed's convention once per process (images in [-1, 1],
float32) and cached; the train/test split is the fixed 80/20 cut of ``digits``.  The spec carries
the files' size and SHA-256, which ``config.yaml`` records (and checks, when it is run again).
"""

from __future__ import annotations

import functools
import hashlib
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from testbed.core.errors import ConfigError
from testbed.core.registry import Registry
from testbed.data.dataset import SCHEMES, DatasetSpec, FileFingerprint, split_indices, subsample

MIN_SAMPLES = 50
"""Fewer rows leave a test split (a fifth) too small for the k-NN quality metrics (k = 5)."""
CACHE_FOLDER = ".testbed"
"""Beside the data: artefacts derived from it (its quality classifier), keyed by its hash."""
COMMON_KEYS = ("name", "n", "nbytes", "sha256")


@dataclass(frozen=True)
class FileRef:
    """A file data set as the testbed names it: format, absolute path, options (text, sorted)."""

    format: str
    path: str
    options: tuple[tuple[str, str], ...] = ()

    @property
    def ref(self) -> str:
        """The data set's name everywhere else: ``format:path?key=value&...``."""
        query = urllib.parse.urlencode(self.options)
        return f"{self.format}:{urllib.parse.quote(self.path, safe='/')}" + (f"?{query}" if query else "")

    def option(self, key: str) -> str | None:
        """The option ``key`` as text, or None when not given."""
        return dict(self.options).get(key)


def dataset_label(name: str) -> str:
    """A data set's name for people: ``shapes (images)`` for ``images:/data/shapes?size=32``, a registered
    name as it is (figure titles and tables; the reference stays the identity everywhere else)."""
    fref = parse_ref(name)
    return f"{Path(fref.path).name} ({fref.format})" if fref.format in FORMATS else name


def parse_ref(ref: str) -> FileRef:
    """The inverse of :attr:`FileRef.ref`."""
    scheme, _, rest = ref.partition(":")
    path, _, query = rest.partition("?")
    return FileRef(scheme, urllib.parse.unquote(path), tuple(sorted(urllib.parse.parse_qsl(query))))


@dataclass(frozen=True)
class Probe:
    """What a format learns about its files before (or while) reading them."""

    count: int
    sample_shape: tuple[int, ...]
    kind: str  # "image" or "vector"
    labels: np.ndarray | None  # int64 in 0..K-1, or None when unlabelled
    classes: tuple[str, ...]
    scaling: str  # how stored values become the model's range, in words
    files: tuple[Path, ...]
    samples: np.ndarray | None = None  # already in the testbed's convention, when probing had to read them


Option = Callable[[Any, Path], str]
"""Checks one YAML option (value, the experiment's directory) and returns it as text for the reference."""


@dataclass(frozen=True)
class FileFormat:
    """A file format: where its data lives (``path`` or ``dir``), its options, how to probe and read it."""

    name: str
    location: str
    options: dict[str, Option]
    probe: Callable[[FileRef], Probe]
    read: Callable[[FileRef, Probe], np.ndarray] | None  # None: the probe returns the samples
    example: str
    path_options: tuple[str, ...] = ()  # options that name further files (read, hashed, watched)


FORMATS: Registry[FileFormat] = Registry("data file format")


def register_format(fmt: FileFormat) -> FileFormat:
    """Add a format: its name becomes both a ``dataset: {name: ..}`` and a reference scheme."""
    FORMATS.add(fmt.name, fmt)
    SCHEMES.add(fmt.name, file_spec)
    return fmt


def fail(key: str, problem: str, fix: str) -> ConfigError:
    """A ConfigError on ``dataset.<key>`` (the experiment parser names the file)."""
    return ConfigError(None, f"dataset.{key}", problem, fix)


def existing_path(value: Any, base_dir: Path, key: str, want_dir: bool) -> str:
    """``value`` as an absolute path (relative ones are read from ``base_dir``) that exists."""
    if not isinstance(value, str) or not value.strip():
        raise fail(key, f"expected a path, got {value!r}", f"write {key}: a {'folder' if want_dir else 'file'} "
                                                           "path, relative to the experiment file")
    path = (base_dir / value).resolve()
    what = "folder" if want_dir else "file"
    if not (path.is_dir() if want_dir else path.is_file()):
        problem = f"{path} is a {'file' if want_dir else 'folder'}, not a {what}" if path.exists() else \
            f"{what} {path} not found"
        raise fail(key, problem, f"give an existing {what}; relative paths are read from the experiment's "
                                 f"directory ({base_dir})")
    return str(path)


def parse_file_dataset(value: dict[str, Any], base_dir: Path) -> tuple[str, int | None]:
    """(reference, n) for a ``dataset: {name: npz|npy|images, ...}`` mapping; checks the files at once
    (and ``sha256`` / ``nbytes`` when given, as in a run's ``config.yaml``)."""
    fmt = FORMATS[value["name"]]
    allowed = (*COMMON_KEYS, fmt.location, *fmt.options)
    for key in value:
        if key not in allowed:
            raise fail(str(key), "unknown key", f"{fmt.name} takes {', '.join(allowed)}")
    if fmt.location not in value:
        raise fail(fmt.location, "missing", f"write e.g. {fmt.example}")
    path = existing_path(value[fmt.location], base_dir, fmt.location, fmt.location == "dir")
    options = tuple(sorted((key, parse(value[key], base_dir)) for key, parse in fmt.options.items() if key in value))
    ref = FileRef(fmt.name, path, options).ref
    spec = file_spec(ref)
    _check_fingerprint(spec.file, value)  # type: ignore[arg-type]
    n = value.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10_000_000):
        raise fail("n", f"expected an integer in [1, 10,000,000], got {n!r}", "give a whole number of samples")
    return ref, n


def _check_fingerprint(found: FileFingerprint, value: dict[str, Any]) -> None:
    for key, have in (("sha256", found.sha256), ("nbytes", found.nbytes)):
        if key in value and value[key] != have:
            raise fail(key, f"the data's {key} is now {have}, not {value[key]!r}: the files changed since this "
                            "config was written", f"restore the data, or drop {key} to accept the new files")


def file_spec(ref: str) -> DatasetSpec:
    """The spec of a file data set (cached per process while its files are unchanged)."""
    return _spec(ref, _signature(parse_ref(ref)))


def yaml_form(name: str, n: int | None, found: FileFingerprint | None) -> dict[str, Any] | None:
    """The ``dataset:`` mapping that names the file data set ``name`` again, with its fingerprint
    ``found`` (what ``config.yaml`` holds); None for a registered data set."""
    fref = parse_ref(name)
    if fref.format not in FORMATS or found is None:
        return None
    options = {key: _option_value(key, text) for key, text in fref.options}
    return {"name": fref.format, FORMATS[fref.format].location: fref.path, **options, **({"n": n} if n else {}),
            "nbytes": found.nbytes, "sha256": found.sha256}


def _option_value(key: str, text: str) -> Any:
    """An option's text in the reference back to its YAML value."""
    if key == "range":
        return [float(part) for part in text.split(",")]
    return int(text) if key in ("size", "channels") else text


def check_fingerprint(name: str, sha256: str) -> None:
    """ConfigError unless the file data set ``name`` still has the SHA-256 it was parsed with: a node
    (a Ray actor on another machine, say) must train on the bytes the run recorded."""
    found = file_spec(name).file
    if found is not None and found.sha256 != sha256:
        raise fail("sha256", f"{parse_ref(name).path} changed since the experiment was parsed (sha256 "
                             f"{found.sha256[:16]}…, not {sha256[:16]}…)",
                   "keep the data unchanged while a run reads it (and the same on every machine)")


def _files_under(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in
                                                                         p.relative_to(path).parts))


def _signature(fref: FileRef) -> tuple[Any, ...]:
    extra = FORMATS[fref.format].path_options
    paths = [Path(fref.path)] + [Path(text) for key, text in fref.options if key in extra]
    try:
        return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for root in paths for p in _files_under(root))
    except OSError as err:
        raise fail("path", f"{fref.path} cannot be read ({err.strerror})",
                   "check the path and its permissions") from None


def fingerprint(files: tuple[Path, ...], root: Path) -> FileFingerprint:
    """Bytes and SHA-256 of ``files``: of the file itself when there is one, else of the sorted list of
    (path relative to ``root``, SHA-256) pairs."""
    digests, nbytes = [], 0
    for path in files:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(block)
        nbytes += path.stat().st_size
        rel = str(path.relative_to(root)) if root.is_dir() else path.name
        digests.append((rel, h.hexdigest()))
    if len(digests) == 1:
        return FileFingerprint(nbytes, digests[0][1], 1)
    manifest = "".join(f"{rel}\0{digest}\n" for rel, digest in sorted(digests))
    return FileFingerprint(nbytes, hashlib.sha256(manifest.encode()).hexdigest(), len(digests))


@functools.lru_cache(maxsize=32)
def _spec(ref: str, signature: tuple[Any, ...]) -> DatasetSpec:
    fref = parse_ref(ref)
    fmt = FORMATS.require(fref.format, None, "dataset.name")
    probe = _probe(fref, signature)
    if probe.count < MIN_SAMPLES:
        raise fail(fmt.location, f"{fref.path} holds {probe.count} samples",
                   f"give at least {MIN_SAMPLES} (a fifth is held out for the quality metrics)")
    root = Path(fref.path)
    found = fingerprint(probe.files, root)
    labelled = probe.labels is not None
    sample_nbytes = 4 * int(np.prod(probe.sample_shape))
    classes = f"{len(probe.classes)} classes" if labelled else "unlabelled"
    description = (f"{probe.count:,} samples of shape {probe.sample_shape} ({probe.kind}, {classes}), "
                   f"{probe.count * sample_nbytes:,} B as float32; {probe.scaling}; read from {found.files:,} "
                   f"file(s), {found.nbytes:,} B, sha256 {found.sha256[:16]}…")

    def load(split: str, data_dir: str | None, seed: int, n: int | None) -> tuple[np.ndarray, np.ndarray, str]:
        x, y = _decoded(ref, signature)
        rows = split_indices(len(x), split)
        xs, ys = subsample(x[rows], y[rows], n, seed)
        return xs.copy(), ys.copy(), f"{fref.format}:{fref.path} (sha256 {found.sha256[:16]})"

    return DatasetSpec(
        name=ref, kind=probe.kind, num_classes=max(1, len(probe.classes)), sample_shape=probe.sample_shape,
        loader=load, locate=lambda data_dir: f"{fref.format}:{fref.path}", description=description,
        labelled=labelled, cache_dir=str(root.parent / CACHE_FOLDER), file=found)


@functools.lru_cache(maxsize=4)
def _probe(fref: FileRef, signature: tuple[Any, ...]) -> Probe:
    return FORMATS[fref.format].probe(fref)


@functools.lru_cache(maxsize=4)
def _decoded(ref: str, signature: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Every sample in the testbed's convention and the labels ((N, 0) when unlabelled), read once."""
    fref = parse_ref(ref)
    probe = _probe(fref, signature)
    read = FORMATS[fref.format].read
    x = np.ascontiguousarray(probe.samples if read is None else read(fref, probe), dtype=np.float32)
    y = probe.labels if probe.labels is not None else np.zeros((len(x), 0), np.int64)
    x.flags.writeable = False
    return x, y


def labels_from(values: np.ndarray, key: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer, boolean or text labels -> (int64 codes 0..K-1 in sorted order, the K class names)."""
    values = np.asarray(values)
    if values.ndim != 1 or values.dtype.kind not in "iubU":
        raise fail(key, f"labels must be a 1-D array of integers or text, got {values.dtype} of shape "
                        f"{values.shape}", "store one integer class label per sample")
    classes, codes = np.unique(values, return_inverse=True)
    if len(classes) < 2:
        raise fail(key, f"only one class ({classes[0]!r})", "give at least two classes, or leave labels out")
    return codes.astype(np.int64), tuple(str(c) for c in classes)


def cache_file(spec: DatasetSpec, stem: str, fallback: Path) -> Path:
    """Where an artefact named ``stem`` derived from ``spec`` is kept: beside the data when that folder
    can be written, else under ``fallback``."""
    if spec.cache_dir is not None:
        folder = Path(spec.cache_dir)
        try:
            folder.mkdir(exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder / stem
        except OSError:
            pass
    return fallback / stem
