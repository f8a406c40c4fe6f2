"""``load_results(dir) -> Results``: every run under a results path as tidy pandas frames.

Why: figures and tables should be small functions of data frames, not file parsers.  This module
reads each run directory once -- ``summary.json``, ``config.yaml``, ``metrics.csv``, ``nodes.csv``,
``links.csv``, ``traffic.parquet`` -- and labels every row with the run's identity (method, sweep
values, seed, dataset), so a figure is a ``groupby``.  Failed and unfinished runs stay in ``runs``
with their status and error (tables show them); they contribute nothing else.  Unreadable,
incomplete or wrongly shaped input is one ConfigError line naming the file and the fix
(:mod:`analysis.runfiles`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.axes import identify
from analysis.discover import RunRef, discover
from analysis.runfiles import read_config, read_summary, read_table, read_traffic_log
from testbed.core.errors import ConfigError
from testbed.data import dataset_label
from testbed.quality import key_metrics

IDENTITY = ("run", "method", "series", "seed", "dataset")
RESULT_COLUMNS = ("iterations", "virtual_time_s", "wall_time_s", "total_bytes", "wan_bytes", "lan_bytes",
                  "egress_usd")


@dataclass(frozen=True)
class Results:
    """Every run under one results path.

    ``runs``: one row per run (complete, failed or incomplete): identity, ``status``, ``error``,
    the summary's totals and ``final_<metric>`` for each quality metric.  ``metrics``: one row per
    evaluation of a complete run.  ``traffic``: bytes per (run, kind, scope, src_dc, dst_dc).
    ``links`` and ``nodes``: the runs' ``links.csv`` and ``nodes.csv``.  Every frame carries the
    identity columns ``run, method, series, seed, dataset`` and the sweep-axis columns.
    """

    root: Path
    runs: pd.DataFrame
    metrics: pd.DataFrame
    traffic: pd.DataFrame
    links: pd.DataFrame
    nodes: pd.DataFrame
    method_axes: tuple[str, ...]
    sweep_axes: tuple[str, ...]

    @property
    def complete(self) -> pd.DataFrame:
        """The rows of ``runs`` that finished."""
        return self.runs[self.runs["status"] == "complete"]

    @property
    def group_columns(self) -> list[str]:
        """What one table row / one plotted series is: dataset, method and the sweep values."""
        return ["dataset", "method", *self.sweep_axes]

    def headline(self, dataset: str) -> tuple[str, bool]:
        """(metric name, higher is better) of ``dataset``, as its runs recorded it."""
        rows = self.complete[self.complete["dataset"] == dataset]
        return str(rows["headline_metric"].iloc[0]), bool(rows["higher_is_better"].iloc[0])

    def key_metrics(self, dataset: str) -> tuple[str, ...]:
        """``dataset``'s key metrics, headline first, as its runs recorded them (``summary.json``'s
        ``quality_features``) -- a data set read from files need not exist where the plots are drawn;
        runs from before that field: testbed.quality.key_metrics."""
        rows = self.complete[self.complete["dataset"] == dataset]
        recorded = [k for k in rows.get("key_metrics", pd.Series(dtype=object)) if isinstance(k, str) and k]
        return tuple(recorded[0].split(",")) if recorded else key_metrics(dataset)


def load_results(root: str | Path) -> Results:
    """Load a run directory, a directory of run directories, or a suite directory (``index.csv``)."""
    found = discover(root)
    loaded = [_load_run(ref) for ref in found.refs]
    runs = pd.DataFrame([row for row, _ in loaded])
    ident = identify(runs, found.axes)
    runs = ident.frame
    if not (runs["status"] == "complete").any():
        counts = runs["status"].value_counts().to_dict()
        raise ConfigError(found.root, "RESULTS_DIR", f"holds no complete run ({_counts_text(counts)})",
                          "wait for the runs to finish, or re-run the failed ones")
    keys = [*IDENTITY, *ident.sweep_axes]
    label = runs.set_index("run")[[k for k in keys if k != "run"]]
    frames = {}
    for name in ("metrics", "traffic", "links", "nodes"):
        parts = [frame.assign(run=row["run"]) for row, files in loaded if (frame := files.get(name)) is not None]
        joined = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"run": []})
        frames[name] = joined.join(label, on="run")[[*keys, *[c for c in joined.columns if c != "run"]]]
    return Results(root=found.root, runs=runs, method_axes=ident.method_axes, sweep_axes=ident.sweep_axes,
                   **frames)


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def _load_run(ref: RunRef) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """One run's ``runs`` row and, if complete, its frames."""
    run_dir = ref.run_dir
    summary = read_summary(run_dir / "summary.json")
    config = read_config(run_dir / "config.yaml")
    row: dict[str, Any] = {"run": ref.name, "run_dir": str(run_dir), **_config_fields(config, summary)}
    if summary is None:
        status = ref.index_status if ref.index_status not in (None, "complete") else "incomplete"
        error = ref.index_error or ("no summary.json (the run has not finished)" if run_dir.is_dir()
                                    else f"run directory {run_dir} is missing")
        return {**row, **ref.axes, "status": status, "error": error}, {}
    status = str(summary.get("status", "complete"))
    row.update(status=status, error=summary.get("error") or (ref.index_error if status != "complete" else None))
    row.update({k: summary.get(k) for k in RESULT_COLUMNS})
    row.update(headline_metric=summary.get("headline_metric"), higher_is_better=summary.get("higher_is_better"),
               key_metrics=",".join((summary.get("quality_features") or {}).get("key_metrics") or []))
    row.update({f"final_{k}": v for k, v in (summary.get("final_quality") or {}).items()})
    footing = summary.get("footing") or {}
    row.update(update_order=footing.get("update_order"),
               steps_per_iteration=_steps_text(footing) if footing else None)
    row.update(ref.axes)
    if status != "complete":
        return row, {}
    return row, {"metrics": read_table(run_dir / "metrics.csv"), "nodes": read_table(run_dir / "nodes.csv"),
                 "links": read_table(run_dir / "links.csv"), "traffic": _traffic(run_dir)}


def _config_fields(config: dict[str, Any] | None, summary: dict[str, Any] | None) -> dict[str, Any]:
    """The run's identity from config.yaml (flattened: ``algorithm.<param>``, ``training.<key>``)."""
    fields: dict[str, Any] = {}
    if config:
        algo = config.get("algorithm") or {}
        algo = {"name": algo} if isinstance(algo, str) else algo
        fields["algorithm"] = algo.get("name")
        fields.update({f"algorithm.{k}": _scalar(v) for k, v in algo.items() if k != "name"})
        dataset = config.get("dataset")
        fields["dataset"] = dataset.get("name") if isinstance(dataset, dict) else dataset
        model = config.get("model")
        fields["model"] = model.get("name") if isinstance(model, dict) else model
        topo = config.get("topology")
        fields["topology"] = topo.get("name") if isinstance(topo, dict) else (Path(str(topo)).stem if topo else None)
        fields.update(partition=config.get("partition"), seed=config.get("seed"))
        fields.update({f"training.{k}": v for k, v in (config.get("training") or {}).items()})
        fields["_topology_ref"] = topo
    for key in ("algorithm", "topology", "dataset", "partition", "model", "seed"):
        if summary and summary.get(key) is not None:
            fields[key] = summary[key]
    if isinstance(fields.get("dataset"), str):  # a file data set's reference is long: its folder or file name
        fields["dataset"] = dataset_label(fields["dataset"])
    return fields


def _steps_text(footing: dict[str, Any]) -> str:
    """``G 1 / D 3``: optimiser steps one iteration applies (summed over every copy of each net)."""
    def number(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    return f"G {number(footing.get('g_steps_per_iteration'))} / D {number(footing.get('d_steps_per_iteration'))}"


def _scalar(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else json.dumps(value)


def _traffic(run_dir: Path) -> pd.DataFrame:
    """Bytes, messages and dollars per (kind, scope, src_dc, dst_dc) from the per-message log."""
    log = read_traffic_log(run_dir, columns=["kind", "scope", "src_dc", "dst_dc", "nbytes", "payload_nbytes",
                                             "egress_usd"])
    keys = ["kind", "scope", "src_dc", "dst_dc"]
    if log.empty:
        return pd.DataFrame({**{k: pd.Series(dtype=object) for k in keys}, "nbytes": pd.Series(dtype="int64"),
                             "payload_nbytes": pd.Series(dtype="int64"), "messages": pd.Series(dtype="int64"),
                             "egress_usd": pd.Series(dtype=float)})
    grouped = log.groupby(keys, as_index=False).agg(
        nbytes=("nbytes", "sum"), payload_nbytes=("payload_nbytes", "sum"), messages=("nbytes", "size"),
        egress_usd=("egress_usd", "sum"))
    return grouped
