"""A suite killed part-way (SIGKILL) resumes: every cell completes exactly once, nothing half-written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

RUN_FILES = {"config.yaml", "traffic.parquet", "links.csv", "metrics.csv", "nodes.csv", "compute_costs.json",
             "summary.json", "samples"}


def _suite_file(tmp_path: Path, experiment) -> Path:
    base = experiment("local", max_iterations=30, eval_every=10)
    data = {"name": "killme", "base": base,
            "grid": {"algorithm": ["local", "ps"], "seed": [0, 1]},
            # parses (8 classes, 4 workers), fails when the 5 samples drawn hold at most 5 classes
            "cells": {"broken": {"dataset": {"name": "ring8", "n": 5}, "partition": "shards(8)"}}}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _cli(path: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "testbed", "run", str(path), "--backend", "inprocess", "--max-parallel", "1",
            "--out", str(out), "--quiet", *extra]


def _summaries(root: Path) -> dict[str, dict]:
    out = {}
    for path in root.glob("*/summary.json"):
        out[path.parent.name] = json.loads(path.read_text())
    return out


def test_sigkill_then_resume_runs_every_cell_exactly_once(tmp_path: Path, experiment) -> None:
    path, out = _suite_file(tmp_path, experiment), tmp_path / "results"
    root = out / "killme"
    proc = subprocess.Popen(_cli(path, out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if sum(s["status"] == "complete" for s in _summaries(root).values()) >= 1:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = {cell: (s["ran_on"]["pid"], (root / cell / "summary.json").stat().st_mtime_ns)
              for cell, s in _summaries(root).items() if s["status"] == "complete"}
    assert 1 <= len(before) < 5, "the kill should land part-way through the suite"
    time.sleep(1.0)  # an orphaned worker would keep writing: there must be none (PR_SET_PDEATHSIG)
    assert {c: (s["ran_on"]["pid"], (root / c / "summary.json").stat().st_mtime_ns)
            for c, s in _summaries(root).items() if s["status"] == "complete"} == before

    result = subprocess.run(_cli(path, out, "--resume"), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr  # the broken cell failed, the rest completed
    summaries = _summaries(root)
    cells = {f"{a}_seed={s}" for a in ("local", "ps") for s in (0, 1)} | {"broken"}
    assert set(summaries) == cells
    for cell in cells - {"broken"}:
        assert summaries[cell]["status"] == "complete" and summaries[cell]["iterations"] == 30
        assert RUN_FILES <= {p.name for p in (root / cell).iterdir()}
        assert not [p for p in (root / cell).rglob("*") if p.name.endswith(".tmp")]
    for cell, (pid, mtime_ns) in before.items():  # complete cells were not run again
        assert summaries[cell]["ran_on"]["pid"] == pid
        assert (root / cell / "summary.json").stat().st_mtime_ns == mtime_ns
    assert summaries["broken"]["status"] == "failed" and "\n" not in summaries["broken"]["error"]
    assert "shards(8)" in summaries["broken"]["error"] and "<input>" not in summaries["broken"]["error"]
    index = pd.read_csv(root / "index.csv")
    assert list(index.cell) == ["local_seed=0", "local_seed=1", "ps_seed=0", "ps_seed=1", "broken"]
    assert list(index.columns[:5]) == ["cell", "run_dir", "status", "algorithm.name", "seed"]
    assert list(index.status) == ["complete"] * 4 + ["failed"]
    assert index.error.iloc[-1] == summaries["broken"]["error"]
    assert (index.iterations.iloc[:4] == 30).all() and (index.wan_bytes.iloc[:2] == 0).all()
    assert (index.wan_bytes.iloc[2:4] > 0).all() and index.headline_metric.iloc[0] == "high_quality_fraction"

    again = subprocess.run(_cli(path, out), capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "--resume" in again.stderr  # never silently overwrites results


def test_dry_run_estimates_bytes_from_a_probe(tmp_path: Path, experiment, capsys) -> None:
    from testbed.suite import parse_suite
    from testbed.suite.estimate import estimate_cell

    suite = parse_suite({"base": experiment({"name": "ps"}, max_iterations=10)}, "x.yaml", Path("."))
    estimate = estimate_cell(suite.cells[0])
    # ps on 2+2 workers, |G|+|D| floats each way per worker per step (+ headers): exactly linear in steps
    from testbed.experiment.launch import run_experiment

    run_dir = run_experiment(suite.cells[0].spec, tmp_path / "real", progress=False)
    real = json.loads((run_dir / "summary.json").read_text())
    assert estimate["iterations"] == 10 and estimate["est_bytes"] == real["total_bytes"]
    assert estimate["est_wan_bytes"] == real["wan_bytes"]
    assert abs(estimate["est_virtual_s"] - real["virtual_time_s"]) < 1e-6
