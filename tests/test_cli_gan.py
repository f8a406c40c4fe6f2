"""The data and train-local commands run end to end from the command line."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd


def _run(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TESTBED_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "testbed", *args], capture_output=True, text=True, env=env)


def test_data_status(tmp_path: Path) -> None:
    result = _run("data", "status", cache=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ring8" in result.stdout and "digits" in result.stdout


def test_train_local_writes_metrics(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = _run("train-local", "--dataset", "ring8", "--iterations", "20", "--eval-every", "10",
                  "--eval-n", "200", "--quiet", "--out", str(out), cache=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["iteration"]) == [0, 10, 20]
    assert {"modes_covered", "high_quality_fraction", "mode_kl", "wall_time_s"} <= set(metrics.columns)
    assert (out / "samples.png").stat().st_size > 0


def test_train_local_bad_dataset_is_one_line(tmp_path: Path) -> None:
    result = _run("train-local", "--dataset", "nope", "--iterations", "1", cache=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
