"""The experiment's ``dataset:``, ``model:`` and ``partition:`` -- parsed and checked together.

Why one module: each check needs the others.  The model's shapes are checked against the data
set's sample shape (on PyTorch's ``meta`` device, before any data loads), the partition against its
classes (a label partition of unlabelled data is refused), and the researcher's own files and
classes (``{name: npz|npy|images, ...}``, ``{name: custom, ...}``) are resolved relative to the
experiment file: a data path to an absolute reference with its SHA-256, a ``custom`` model's
``import_dir`` to an absolute directory -- so ``config.yaml`` and a suite's cells run anywhere.
Every error is one ConfigError naming the file and ``dataset.*`` / ``model.*`` / ``partition``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from testbed.core.errors import ConfigError
from testbed.core.fields import checked_name, checked_number, without_nulls
from testbed.data.dataset import FileFingerprint
from testbed.topology.model import Topology

MODEL_RANGES: dict[str, tuple[type, float, float, str]] = {
    "latent_dim": (int, 1, 4096, "[]"), "hidden": (int, 1, 65536, "[]"), "depth": (int, 1, 64, "[]"),
    "channels": (int, 1, 4096, "[]"), "leaky_slope": (float, 0, 1, "[)"),
}
"""Numeric model overrides and their ranges (``hidden: 0`` used to crash inside torch)."""
DEFAULT_MODEL = {"mixture": "mlp2d", "vector": "mlp2d", "image": "dcgan"}
"""The model an experiment without ``model:`` gets, by the data set's kind."""


def _named_in(src: str, err: ConfigError, prefix: str) -> ConfigError:
    field = err.field if err.field.startswith(("dataset", "model", "partition")) else f"{prefix}.{err.field}"
    return ConfigError(src, field, err.problem, err.fix)


def parse_dataset(value: Any, src: str, base_dir: Path) -> tuple[str, int | None]:
    """(data set name or file reference, n) of ``dataset:``."""
    from testbed.data import FORMATS, canonical_dataset_name, parse_file_dataset

    value = without_nulls(value)  # ``labels: null`` is the default (none), as everywhere
    name = value.get("name") if isinstance(value, dict) else value
    if isinstance(name, str) and name in FORMATS:
        if not isinstance(value, dict):
            raise ConfigError(src, "dataset", f"{name} needs its file", f"write {FORMATS[name].example}")
        try:
            return parse_file_dataset(value, base_dir)
        except ConfigError as err:
            raise _named_in(src, err, "dataset") from None
    if isinstance(value, str):
        return canonical_dataset_name(value), None
    if isinstance(value, dict) and isinstance(name, str) and set(value) <= {"name", "n"}:
        n = value.get("n")
        return canonical_dataset_name(name), None if n is None else checked_number(n, src, "dataset.n", int, 1,
                                                                                   100_000_000)
    raise ConfigError(src, "dataset", f"expected a name or {{name: .., n: ..}}, got {value!r}",
                      f"write dataset: ring8, or a file: dataset: {{name: npz, path: data.npz}} "
                      f"(formats: {', '.join(FORMATS.names())})")


def dataset_fingerprint(dataset: str) -> FileFingerprint | None:
    """A file data set's size and SHA-256 now (None for a built-in one)."""
    from testbed.data import dataset_spec

    return dataset_spec(dataset).file


def dataset_yaml(dataset: str, n: int | None, found: FileFingerprint | None) -> Any:
    """What ``config.yaml`` says for the data set: the name, ``{name, n}``, or a file's mapping with the
    size and SHA-256 it had when the experiment was parsed (``found``)."""
    from testbed.data import yaml_form

    return yaml_form(dataset, n, found) or ({"name": dataset, "n": n} if n else dataset)


def parse_model(value: Any, dataset: str, src: str, base_dir: Path) -> tuple[str, dict[str, Any]]:
    """(model name, overrides) of ``model:``, its shapes checked against ``dataset`` on the meta device."""
    from testbed.data import dataset_spec
    from testbed.models import check_shapes, model_config
    from testbed.models.config import CUSTOM_BUILDER, PRESETS
    from testbed.models.custom import kwargs_text

    try:
        spec = dataset_spec(dataset)
    except ConfigError as err:
        raise ConfigError(src, "dataset", err.problem, err.fix) from None
    if value is None:
        value = DEFAULT_MODEL[spec.kind]
    if isinstance(value, dict) and "name" in value:
        overrides = without_nulls(value)
        name = checked_name(overrides.pop("name", None), src, "model.name")
    elif isinstance(value, (dict, list)):
        raise ConfigError(src, "model", f"expected a name or {{name: .., ...}}, got {value!r}",
                          "write model: {name: dcgan}")
    else:
        name, overrides = checked_name(value, src, "model"), {}
    for key, raw in overrides.items():
        if key in MODEL_RANGES:
            overrides[key] = checked_number(raw, src, f"model.{key}", *MODEL_RANGES[key])
    try:
        if name in PRESETS and PRESETS[name].builder == CUSTOM_BUILDER:
            overrides = _custom(overrides, base_dir, kwargs_text)
        check_shapes(model_config(name, **overrides), spec.sample_shape)
    except ConfigError as err:
        raise _named_in(src, err, "model") from None
    return name, overrides


def _custom(overrides: dict[str, Any], base_dir: Path, kwargs_text: Any) -> dict[str, Any]:
    """A ``custom`` model's settings resolved: kwargs as canonical JSON, ``import_dir`` absolute."""
    out = dict(overrides)
    out["kwargs"] = kwargs_text(overrides.get("kwargs", {}))
    where = overrides.get("import_dir", ".")
    if not isinstance(where, str):
        raise ConfigError(None, "model.import_dir", f"expected a folder, got {where!r}",
                          "write the folder holding the model's module, relative to the experiment file")
    folder = (base_dir / where).resolve()
    if not folder.is_dir():
        raise ConfigError(None, "model.import_dir", f"{folder} is not a folder",
                          "give the folder holding the model's module, relative to the experiment file")
    out["import_dir"] = str(folder)
    return out


def model_yaml(name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """What ``config.yaml`` says for the model (a custom model's kwargs as a mapping again)."""
    out = {"name": name, **overrides}
    if isinstance(out.get("kwargs"), str):
        out["kwargs"] = json.loads(out["kwargs"])
    return out


def anchored(experiment: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """A copy of an experiment mapping whose paths to the researcher's own files -- a file data set's
    file or folder (and labels file), a ``custom`` model's ``import_dir`` (default: ``base_dir``) --
    are absolute, read from ``base_dir``: what a suite does to a base file's and its own paths, so a
    cell runs from any directory."""
    from testbed.data import FORMATS
    from testbed.models.config import CUSTOM_BUILDER, PRESETS

    out = dict(experiment)
    dataset, model = out.get("dataset"), out.get("model")
    if isinstance(dataset, dict) and dataset.get("name") in FORMATS:
        fmt = FORMATS[dataset["name"]]
        out["dataset"] = {k: str((base_dir / v).resolve()) if k in (fmt.location, *fmt.path_options)
                          and isinstance(v, str) else v for k, v in dataset.items()}
    name = model.get("name") if isinstance(model, dict) else model
    if isinstance(name, str) and name in PRESETS and PRESETS[name].builder == CUSTOM_BUILDER:
        model = dict(model) if isinstance(model, dict) else {"name": name}
        where = model.get("import_dir", ".")
        model["import_dir"] = str((base_dir / where).resolve()) if isinstance(where, str) else where
        out["model"] = model
    return out


def check_partition(topology: Topology, partition_spec: str, dataset: str, seed: int, src: str) -> None:
    """Partition name, argument and fit (k classes per worker, classes per DC, labels at all), before any
    data loads."""
    import numpy as np

    from testbed.data import dataset_spec
    from testbed.data.partition import needs_labels, partition

    spec = dataset_spec(dataset)
    if not spec.labelled and needs_labels(partition_spec):
        raise ConfigError(src, "partition", f"{partition_spec} splits by label, and the data set has no labels",
                          "use iid, or give the data set labels (dataset.labels)")
    if partition_spec.strip() == "iid":
        return  # fits any number of workers; nothing to check (and nothing to build for a million clients)
    counts = [n for _, n in topology.worker_groups]
    groups = np.repeat([g for g, _ in topology.worker_groups], counts)
    workers = int(sum(counts))
    labels = np.arange(max(spec.num_classes, workers)) % spec.num_classes  # each class, one sample per worker
    try:
        partition(labels, workers, partition_spec, seed, groups=groups)
    except ConfigError as err:
        raise ConfigError(src, "partition", err.problem, err.fix) from None
