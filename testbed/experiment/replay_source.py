"""A finished run as a replay reads it, and the new setting it is replayed on.

Why a module of its own: everything a replay needs from disk is checked here, before anything runs or
is written -- the run must be complete, its ``config.yaml`` parse, its ``ops.parquet`` be an op trace of
*this* run (testbed.sim.optrace ties the two by a hash of the config), its ``metrics.csv`` and
``compute_costs.json`` be readable -- and every problem is one line naming the file and the fix.  The
new setting is the run's own resolved config with the requested edits: another topology (same
workers, same order), the setting transforms (testbed.experiment.transforms: ``bandwidth_scale``,
``latency_scale``, ``compute_scale``) and another ``compute:`` block; a calibrated run's costs become
fixed costs, so the written ``config.yaml`` re-runs to exactly what the replay computed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from testbed.core.errors import ConfigError
from testbed.core.fileio import read_json_object
from testbed.experiment.spec import ExperimentSpec, parse_experiment, topology_file
from testbed.experiment.transforms import TRANSFORMS
from testbed.sim.compute import ComputeModel, CostTable
from testbed.sim.optrace import OPS_FILE, OpTraceError, fingerprint, read_ops
from testbed.topology.file_refs import with_absolute_paths
from testbed.topology.schema import load_topology, read_yaml


@dataclass(frozen=True)
class SourceRun:
    """A complete run directory, read and checked."""

    run_dir: Path
    config: dict[str, Any]
    spec: ExperimentSpec
    summary: dict[str, Any]
    metrics: pd.DataFrame
    ops: pd.DataFrame
    costs_s: dict[str, float]
    compute_model: str


def load_source(run_dir: str | Path) -> SourceRun:
    """Read ``run_dir`` for a replay; ConfigError (file, problem, fix) if it cannot be replayed."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(run_dir, "RUN_DIR", "is not a directory", "give a run directory (it holds summary.json)")
    summary = read_json_object(run_dir / "summary.json")
    if summary is None:
        raise ConfigError(run_dir / "summary.json", "summary", "missing or unreadable", "give a finished run directory")
    if summary.get("status") != "complete":
        raise ConfigError(run_dir / "summary.json", "status", f"the run is {summary.get('status') or 'not finished'}",
                          "replay a run that completed")
    if summary.get("replay", {}).get("approximate"):
        raise ConfigError(run_dir / "summary.json", "replay", "is an approximate replay itself",
                          "replay the run it came from (replayed_from)")
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise ConfigError(config_path, "config", "missing", "give a complete run directory")
    config_text = config_path.read_text()
    config = read_yaml(config_path)
    spec = parse_experiment(copy.deepcopy(config), str(config_path), run_dir)
    try:
        ops = read_ops(run_dir / OPS_FILE, fingerprint(config_text))
    except OpTraceError as err:
        raise ConfigError(run_dir / OPS_FILE, "op trace", err.problem, err.fix) from None
    metrics = _read_metrics(run_dir / "metrics.csv")
    costs = read_json_object(run_dir / "compute_costs.json")
    if costs is None or not isinstance(costs.get("costs_s"), dict):
        raise ConfigError(run_dir / "compute_costs.json", "costs_s", "missing or unreadable",
                          "re-run the experiment (it writes the costs it charged)")
    costs_s = {str(k): float(v) for k, v in costs["costs_s"].items()}
    return SourceRun(run_dir, config, spec, summary, metrics, ops, costs_s, str(costs.get("model", spec.compute.model)))


def _read_metrics(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as err:  # pandas' EmptyDataError and ParserError are ValueErrors
        raise ConfigError(path, "metrics", f"missing or unreadable ({type(err).__name__})",
                          "give a complete run directory") from None
    if "iteration" not in frame.columns:
        raise ConfigError(path, "iteration", "column missing", "give a complete run directory")
    return frame


@dataclass(frozen=True)
class Changes:
    """What a replay changes of the recorded setting (the command line's flags)."""

    topology: str | None = None
    bandwidth_scale: float | None = None
    latency_scale: float | None = None
    compute_scale: float | None = None
    compute: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The changes as ``summary.json`` records them (unset ones left out)."""
        out = {k: v for k, v in (("topology", self.topology), ("bandwidth_scale", self.bandwidth_scale),
                                 ("latency_scale", self.latency_scale), ("compute_scale", self.compute_scale),
                                 ("compute", self.compute)) if v is not None}
        return {**out, **self.extra}


def retarget(source: SourceRun, changes: Changes) -> dict[str, Any]:
    """The new setting's experiment dict: the run's resolved config with ``changes`` applied."""
    experiment = copy.deepcopy(source.config)
    if changes.topology is not None:
        load_topology(changes.topology)  # its own errors name the topology file
        experiment["topology"] = read_yaml(changes.topology)
    if changes.compute is not None:
        block = read_yaml(changes.compute)
        experiment["compute"] = block["compute"] if set(block) == {"compute"} else block
    scales = {key: getattr(changes, key) for key in ("bandwidth_scale", "latency_scale", "compute_scale")}
    if isinstance(experiment.get("topology"), str) and any(v is not None for v in scales.values()):
        experiment["topology"] = _inlined(experiment["topology"], source.run_dir)  # the scales edit its links
    for key, value in scales.items():
        if value is not None:
            experiment = TRANSFORMS[key](experiment, value, f"--{key.replace('_', '-')}")
    return experiment


def _inlined(ref: str, run_dir: Path) -> dict[str, Any]:
    """The recorded run's topology file, read into the experiment (a run that named its topology by path), its
    own file references (a trace, a background load) made absolute from its folder, as the run read them."""
    path = topology_file(ref, run_dir)
    if path is None:
        raise ConfigError(run_dir / "config.yaml", "topology", f"topology file {ref!r} not found",
                          "run the replay from the directory the run was started in, or give --topology FILE")
    return with_absolute_paths(read_yaml(path), path.parent)


def replay_compute(target: ExperimentSpec, source: SourceRun) -> ComputeModel:
    """The new setting's compute model: its own pinned costs, the recorded run's for every other task kind
    (what calibration measured, or the run's fixed table), its default and its scale."""
    if target.compute.model == "measured":
        return target.compute.build()
    costs = {**source.costs_s, **dict(target.compute.costs_s)}
    return CostTable(costs, "fixed", target.compute.default_s, target.compute.scale)


def fixed_compute_block(model: ComputeModel, target: ExperimentSpec) -> dict[str, Any]:
    """``compute:`` of the written ``config.yaml``: the costs the replay charged, so the file re-runs to it."""
    if not isinstance(model, CostTable):
        return target.compute.to_dict()
    block: dict[str, Any] = {"model": "fixed", "costs": {kind: _seconds(cost) for kind, cost in model.costs_s.items()}}
    if model.default_s is not None:
        block["default"] = _seconds(model.default_s)
    if model.scale != 1.0:
        block["scale"] = model.scale
    return block


def _seconds(value: float) -> str:
    """A cost as the YAML wants it: with its unit, to the last digit (``0.0119s``)."""
    return f"{float(value)!r}s"


def metrics_rows(source: SourceRun, replayed: list[dict[str, Any]]) -> pd.DataFrame:
    """The replay's ``metrics.csv``: its own time, bytes and dollars at each evaluation, every other column
    (quality, learning rates, the training's wall time) from the recorded run's evaluation of the same rank
    -- the same iteration and cut in an exact replay (testbed.experiment.exactness); in an approximate one,
    the recorded row at that iteration if any, else NaN."""
    recorded = source.metrics.to_dict("records")
    by_iteration = {row["iteration"]: row for row in recorded}
    rows = []
    for i, row in enumerate(replayed):
        base = recorded[i] if i < len(recorded) and recorded[i]["iteration"] == row["iteration"] else \
            by_iteration.get(row["iteration"], dict.fromkeys(source.metrics.columns, float("nan")))
        rows.append({**base, **row})
    return pd.DataFrame(rows, columns=list(source.metrics.columns))
