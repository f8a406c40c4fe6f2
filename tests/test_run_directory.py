"""``run_experiment`` writes the whole run directory; the CLI runs an experiment file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from testbed.experiment.launch import run_experiment
from testbed.experiment.spec import load_experiment

SUMMARY_FIELDS = {"run_id", "algorithm", "topology", "dataset", "partition", "seed", "iterations",
                  "virtual_time_s", "wall_time_s", "total_bytes", "wan_bytes", "lan_bytes", "egress_usd",
                  "bytes_by_kind", "generator_params", "discriminator_params", "final_quality", "status"}


def test_run_directory_layout(tmp_path: Path, experiment) -> None:
    spec = load_experiment(experiment({"name": "fedavg"}, max_iterations=4, eval_every=2))
    run_dir = run_experiment(spec, tmp_path / "run", progress=False)
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.yaml", "traffic.parquet", "traffic.csv", "links.csv", "metrics.csv", "nodes.csv",
            "compute_costs.json", "summary.json", "samples"} <= names
    assert not any(name.endswith(".tmp") for name in names)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert SUMMARY_FIELDS <= set(summary)
    assert summary["status"] == "complete" and summary["iterations"] == 4
    assert summary["total_bytes"] == summary["wan_bytes"] + summary["lan_bytes"]
    assert summary["bytes_by_kind"]["params_g"] > 0 and summary["egress_usd"] > 0
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert list(metrics.iteration) == [0, 2, 4]
    assert {"modes_covered", "high_quality_fraction", "virtual_time_s", "wan_bytes"} <= set(metrics.columns)
    assert metrics.wan_bytes.is_monotonic_increasing
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == [
        "iter_000000.png", "iter_000002.png", "iter_000004.png"]
    traffic = pd.read_parquet(run_dir / "traffic.parquet")
    assert traffic.payload_nbytes.sum() == sum(summary["bytes_by_kind"].values())
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["algorithm"]["name"] == "fedavg" and config["compute"]["model"] == "fixed"
    costs = json.loads((run_dir / "compute_costs.json").read_text())
    assert costs["costs_s"]["train_step"] == 0.01


def test_calibrated_compute_times_every_task_kind(tmp_path: Path, experiment) -> None:
    spec = load_experiment(experiment({"name": "ps"}, max_iterations=2, compute={"model": "calibrated"}))
    run_dir = run_experiment(spec, tmp_path / "run", progress=False)
    costs = json.loads((run_dir / "compute_costs.json").read_text())
    assert costs["model"] == "calibrated"
    assert set(costs["costs_s"]) == {"grad_step", "server_update"}
    assert all(0 < v < 5 for v in costs["costs_s"].values())


def test_cli_run(tmp_path: Path, experiment) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(experiment("local", max_iterations=2)))
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "testbed", "run", str(path), "--out", str(out), "--quiet"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "results in" in result.stdout
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"
