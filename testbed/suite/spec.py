"""The suite YAML -> a list of validated cells (one experiment dict each).

A suite is a ``base:`` experiment plus a ``grid:`` of dotted keys, each with a list of
values (or a mapping ``label: value`` to name them); every combination is a *cell*.
Named ``cells:`` add hand-written combinations, and ``repeat: n`` runs each one with
n seeds.  Every cell is parsed with :mod:`testbed.experiment.spec` here, before anything
runs, so a typo in the last cell fails in a second, not after an hour.  Cells carry
their topology inline (suite transforms such as ``bandwidth_scale`` applied), so a
cell is a self-contained dict that any process on any machine can run.  The suite's name and every
cell id are single directory names (not ``.``/``..``, no separator: testbed.core.fields), and the
cell count -- grid and named cells, times ``repeat`` -- is bounded before any cell is expanded.  Paths
to the researcher's own data and model code are made absolute (relative to the file that wrote them).

Example::

    name: sweep                     # results/<name>/ (default: the file's stem)
    base: {topology: topologies/wan-3dc.yaml, dataset: ring8, algorithm: ps, max_iterations: 100}
    grid:
      algorithm: [local, {name: ps, consistency: eventual}, fedavg]
      bandwidth_scale: [0.1, 1, 10]          # suite transform: every WAN link x scale
      training.batch_size: [64, 256]
    cells: {ps-ssp: {algorithm: {name: ps, consistency: bounded_delay, tau: 2}}}
    repeat: 2                                 # seeds base.seed, base.seed + 1
    replay: true                              # train each training configuration once, replay the rest
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed.core.errors import ConfigError
from testbed.core.fields import checked_number, checked_path_component, without_nulls
from testbed.experiment.spec import EXPERIMENT_KEYS, ExperimentSpec, parse_experiment
from testbed.experiment.transforms import TRANSFORMS
from testbed.experiment.workload import anchored
from testbed.topology.file_refs import with_absolute_paths
from testbed.topology.schema import load_topology, read_yaml

SUITE_KEYS = {"name", "description", "base", "grid", "cells", "repeat", "replay"} | set(TRANSFORMS)
NAMED_FIELDS = ("algorithm", "dataset", "model")
"""Experiment fields written either as a name or as ``{name: .., ...}``; grid columns use ``<field>.name``."""
MAX_CELLS = 10_000
"""Cells per suite: a grid of ten 10-value axes would otherwise expand for ever before any message."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]+")


@dataclass(frozen=True)
class Cell:
    """One run of a suite: its id (= run directory name), experiment dict and axis values."""

    id: str
    experiment: dict[str, Any]
    axes: dict[str, Any]
    spec: ExperimentSpec


@dataclass(frozen=True)
class Suite:
    """An expanded, validated suite."""

    name: str
    source: str
    columns: tuple[str, ...]
    cells: tuple[Cell, ...]
    replay: bool = False
    """Train each distinct training configuration once and replay the cells that differ only in network and
    compute (``replay: true``; testbed.suite.replay_plan)."""


def is_suite(data: dict[str, Any]) -> bool:
    """A YAML mapping is a suite (not a single experiment) when it has ``grid:`` or ``base:``."""
    return "grid" in data or "base" in data


def load_suite(path: str | Path) -> Suite:
    """Read, expand and validate a suite file."""
    return parse_suite(read_yaml(path), str(path), Path(path).parent)


def parse_suite(data: dict[str, Any], src: str, base_dir: Path) -> Suite:
    """Expand a parsed suite mapping into cells, parsing every one (ConfigError on the first bad one)."""
    data = without_nulls(data)  # an explicit null is the default
    for key in data:
        if key not in SUITE_KEYS:
            raise ConfigError(src, str(key), "unknown suite key", f"use one of {sorted(SUITE_KEYS)}")
    base = _base(data.get("base", {}), src, base_dir)
    axes = _grid(data.get("grid") or {}, src, "grid")
    if "grid" in data and not axes and not data.get("cells"):
        raise ConfigError(src, "grid", "empty grid", "give at least one axis, e.g. grid: {seed: [0, 1]}")
    named = _cells(data.get("cells") or {}, src)
    size = ((math.prod(len(values) for _, values in axes) if axes else 0) + len(named) or 1) * _repeat(data, src)
    if size > MAX_CELLS:
        raise ConfigError(src, "grid", f"{size:,} cells (grid and named cells, times repeat)",
                          f"a suite may have at most {MAX_CELLS:,}: split it")
    variants = [dict(zip([k for k, _ in axes], combo, strict=True))
                for combo in itertools.product(*[values for _, values in axes])] if axes else []
    variants = [_labelled(v) for v in variants]
    for name, overrides in named:
        variants.append(([name], overrides))
    if not variants:
        variants = [([], {})]
    repeat = _repeat(data, src)
    if repeat > 1:
        if any("seed" in overrides for _, overrides in variants):
            raise ConfigError(src, "repeat", "the grid already sweeps seed", "drop repeat or the seed axis")
        first = checked_number(base.get("seed") if base.get("seed") is not None else 0, src, "base.seed", int, 0,
                               2**32 - repeat)
        variants = [([*labels, f"seed={first + i}"], {**overrides, "seed": (f"seed={first + i}", first + i)})
                    for labels, overrides in variants for i in range(repeat)]
    columns = _columns(axes, variants)
    suite_transforms = {k: data[k] for k in TRANSFORMS if k in data}
    cells, seen = [], set()
    topology_cache: dict[str, dict[str, Any]] = {}
    for labels, overrides in variants:
        cell_id = checked_path_component(_safe("_".join(labels)) or "base", src, "grid")
        if cell_id in seen:
            raise ConfigError(src, "grid", f"two cells are both named {cell_id!r}",
                              "name the values: write the axis as {label: value, ...}")
        seen.add(cell_id)
        cells.append(_cell(cell_id, base, overrides, suite_transforms, columns, src, base_dir, topology_cache))
    _check_distinct(cells, src)
    name = checked_path_component(data["name"] if "name" in data else Path(src).stem, src, "name")
    if _safe(name) != name:
        raise ConfigError(src, "name", f"{name!r} is not a usable directory name", "use letters, digits, - _ .")
    replay = data.get("replay", False)
    if not isinstance(replay, bool):
        raise ConfigError(src, "replay", f"expected true or false, got {replay!r}",
                          "write replay: true to re-cost network and compute axes without training them")
    return Suite(name=name, source=src, columns=tuple(columns), cells=tuple(cells), replay=replay)


def _repeat(data: dict[str, Any], src: str) -> int:
    repeat = data.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 1000:
        raise ConfigError(src, "repeat", f"expected an integer in [1, 1000], got {repeat!r}", "write repeat: 3")
    return repeat


def _check_distinct(cells: list[Cell], src: str) -> None:
    """Two cells that resolve to the same experiment (``ps`` and ``{name: ps, consistency: sequential}``,
    ``0.001`` and ``1e-3``) would run the same thing twice under two names: refuse."""
    seen: dict[str, str] = {}
    for cell in cells:
        resolved = {k: v for k, v in cell.spec.resolved().items() if k != "name"}
        key = json.dumps(resolved, sort_keys=True, default=str)
        if key in seen:
            raise ConfigError(src, f"cells {seen[key]} and {cell.id}", "are the same experiment after defaults",
                              "drop one of the values, or make them differ")
        seen[key] = cell.id


def _base(value: Any, src: str, base_dir: Path) -> dict[str, Any]:
    if isinstance(value, str):
        for candidate in (base_dir / value, Path(value)):
            if candidate.is_file():
                base = read_yaml(candidate)
                if is_suite(base):
                    raise ConfigError(src, "base", f"{value} is a suite (it has grid: or base:), not an experiment",
                                      "point base: at an experiment YAML, or give the experiment inline")
                ref = base.get("topology")
                if isinstance(ref, str):  # relative to the base experiment's file, as when it runs alone
                    for near in (candidate.parent / ref, candidate.parent.parent / ref):
                        if near.is_file():
                            base["topology"] = str(near)
                            break
                return anchored(base, candidate.parent)  # its data and model paths, relative to it too
        raise ConfigError(src, "base", f"experiment file {value!r} not found", "give a path relative to the suite")
    if not isinstance(value, dict):
        raise ConfigError(src, "base", "expected an experiment mapping or a file path", "write base: {dataset: ..}")
    return copy.deepcopy(value)


def _check_key(key: Any, src: str, where: str) -> str:
    key = str(key)
    head = key.split(".")[0]
    if key in TRANSFORMS or (head in EXPERIMENT_KEYS and head not in ("name", "description")):
        return key
    raise ConfigError(src, f"{where}.{key}", "unknown key",
                      f"use a dotted experiment key (e.g. algorithm.name, training.batch_size, seed) "
                      f"or one of {sorted(TRANSFORMS)}")


def _grid(grid: Any, src: str, where: str) -> list[tuple[str, list[tuple[str, Any]]]]:
    """``[(dotted key, [(label, value), ...]), ...]`` in file order."""
    if not isinstance(grid, dict):
        raise ConfigError(src, where, "expected a mapping of key: [values]", "write grid: {seed: [0, 1]}")
    axes = []
    for key, values in grid.items():
        key = _check_key(key, src, where)
        if isinstance(values, dict):
            pairs = [(checked_path_component(label, src, f"{where}.{key}"), _normalise(key, v))
                     for label, v in values.items()]
        elif isinstance(values, list):
            pairs = [(None, _normalise(key, v)) for v in values]
        else:
            raise ConfigError(src, f"{where}.{key}", f"expected a list of values, got {values!r}",
                              f"write {key}: [a, b]")
        if not pairs:
            raise ConfigError(src, f"{where}.{key}", "empty axis", "give at least one value or remove the axis")
        axes.append((key, _label_values(key, pairs, src, where)))
    return axes


def _normalise(key: str, value: Any) -> Any:
    return {"name": value} if key in NAMED_FIELDS and isinstance(value, str) else value


def _label_values(key: str, pairs: list[tuple[str | None, Any]], src: str, where: str) -> list[tuple[str, Any]]:
    labels = [label if label is not None else _label(key, v, verbose=False) for label, v in pairs]
    if len(set(labels)) < len(labels):
        labels = [label if label is not None else _label(key, v, verbose=True) for label, v in pairs]
    if len(set(labels)) < len(labels):
        raise ConfigError(src, f"{where}.{key}", "two values get the same label",
                          f"name them: write {key}: {{label1: value1, label2: value2}}")
    return list(zip(labels, [v for _, v in pairs], strict=True))


def _label(key: str, value: Any, verbose: bool) -> str:
    if isinstance(value, dict):
        flat = _flatten(value)
        head = str(flat.pop("name", key.split(".")[-1]))
        extra = "-".join(f"{k}={v}" for k, v in flat.items()) if verbose else ""
        return _safe(f"{head}-{extra}" if extra else head)
    if isinstance(value, str):
        return _safe(Path(value).stem if value.endswith((".yaml", ".yml")) else value)
    return _safe(f"{key.split('.')[-1]}={value}")


def _labelled(combo: dict[str, tuple[str, Any]]) -> tuple[list[str], dict[str, tuple[str, Any]]]:
    return [label for label, _ in combo.values()], combo


def _cells(cells: Any, src: str) -> list[tuple[str, dict[str, tuple[str, Any]]]]:
    if not isinstance(cells, dict):
        raise ConfigError(src, "cells", "expected a mapping of name: {key: value}", "write cells: {a: {seed: 1}}")
    out = []
    for name, overrides in cells.items():
        name = checked_path_component(name, src, "cells")
        if not isinstance(overrides, dict):
            raise ConfigError(src, f"cells.{name}", "expected a mapping of key: value", "write {seed: 1}")
        out.append((str(name), {_check_key(k, src, f"cells.{name}"): (str(name), _normalise(str(k), v))
                                for k, v in overrides.items()}))
    return out


def _columns(axes: list[tuple[str, list[tuple[str, Any]]]], variants: list[Any]) -> list[str]:
    """Index columns: one per axis (a mapping-valued axis gives one per leaf: ``algorithm.name``, ...)."""
    columns: list[str] = []
    keys = [key for key, _ in axes] + [k for _, overrides in variants for k in overrides]
    for key in dict.fromkeys(keys):
        values = [overrides[key][1] for _, overrides in variants if key in overrides]
        if any(isinstance(v, dict) for v in values):
            leaves = dict.fromkeys(leaf for v in values if isinstance(v, dict) for leaf in _flatten(v))
            ordered = sorted(leaves, key=lambda leaf: (leaf != "name", list(leaves).index(leaf)))
            columns.extend(f"{key}.{leaf}" for leaf in ordered)
        else:
            columns.append(key)
    return columns


def _cell(cell_id: str, base: dict[str, Any], overrides: dict[str, tuple[str, Any]],
          suite_transforms: dict[str, Any], columns: list[str], src: str, base_dir: Path,
          topology_cache: dict[str, dict[str, Any]]) -> Cell:
    where = f"{src} [cell {cell_id}]"
    experiment = copy.deepcopy(base)
    transforms = dict(suite_transforms)
    for key in sorted(overrides, key=lambda k: k.count(".")):
        value = copy.deepcopy(overrides[key][1])
        if key in TRANSFORMS:
            transforms[key] = value
        else:
            _set(experiment, key, value, where)
    axes = {column: _lookup(experiment, transforms, column) for column in columns}
    experiment["name"] = cell_id
    if "topology" not in experiment:
        raise ConfigError(where, "topology", "missing", "set topology in base: or in the grid")
    experiment["topology"] = _inline_topology(experiment["topology"], where, base_dir, topology_cache)
    experiment = anchored(experiment, base_dir)
    for key, value in transforms.items():
        experiment = TRANSFORMS[key](experiment, value, where)
    spec = parse_experiment(experiment, where, base_dir)
    return Cell(id=cell_id, experiment=experiment, axes=axes, spec=spec)


def _set(target: dict[str, Any], key: str, value: Any, where: str) -> None:
    parts = key.split(".")
    node = target
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = {}
        elif isinstance(child, str) and depth == 0 and part in NAMED_FIELDS:
            child = {"name": child}
        elif not isinstance(child, dict):
            raise ConfigError(where, ".".join(parts[:depth + 1]), f"is {child!r}, not a mapping",
                              f"cannot set {key} inside it")
        node[part] = child
        node = child
    node[parts[-1]] = value


def _lookup(experiment: dict[str, Any], transforms: dict[str, Any], column: str) -> Any:
    if column in TRANSFORMS:
        return transforms.get(column, "")
    node: Any = experiment
    for depth, part in enumerate(column.split(".")):
        if isinstance(node, str) and depth == 1 and part == "name":
            return node
        if not isinstance(node, dict) or part not in node:
            return ""
        node = node[part]
    return node if not isinstance(node, (dict, list)) else str(node)


def _inline_topology(ref: Any, where: str, base_dir: Path, cache: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if isinstance(ref, dict):
        return ref
    if not isinstance(ref, str):
        raise ConfigError(where, "topology", "expected a file path or an inline mapping",
                          "write topology: topologies/wan-3dc.yaml")
    for candidate in (base_dir / ref, Path(ref), base_dir.parent / ref):
        if candidate.is_file():
            key = str(candidate.resolve())
            if key not in cache:
                load_topology(candidate)  # errors name the topology file itself
                cache[key] = with_absolute_paths(read_yaml(candidate), candidate.parent)
            return copy.deepcopy(cache[key])
    raise ConfigError(where, "topology", f"topology file {ref!r} not found",
                      "give a path relative to the suite file or the working directory")


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in value.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _safe(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-")
