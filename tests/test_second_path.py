"""scripts/second_path.py: every study's "second path" -- re-scoring each run's saved generator alone.

Why: the pages quote its "largest difference 0"; a re-scorer that compared nothing, or compared a failed run's
stop-time generator with the quality of its last evaluation, would make that line meaningless.  A tiny real
run on ring8: re-scored equal; a tampered recorded metric is caught (exit 1); a run that did not complete is
left out and counted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import load_script, tiny_experiment

from testbed.exec.executor import InProcessExecutor
from testbed.experiment.launch import run_experiment
from testbed.experiment.spec import load_experiment


def test_second_path_rescored_equal_catches_a_difference_and_leaves_failed_runs_out(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = load_script("second_path")
    suite = tmp_path / "suite"
    run = run_experiment(load_experiment(tiny_experiment({"name": "ps"})), suite / "ps_seed=0",
                         executor=InProcessExecutor(), progress=False)
    assert m.main([str(suite)]) == 0
    assert "1 runs, 1 generators re-scored" in capsys.readouterr().out

    failed = suite / "ps_seed=1"
    shutil.copytree(run, failed)
    summary = json.loads((failed / "summary.json").read_text())
    label = next(iter(summary["final_quality_by_generator"]))
    metric = next(iter(summary["final_quality_by_generator"][label]))
    summary["final_quality_by_generator"][label][metric] += 1.0  # the last evaluation's, not the saved generator's
    (failed / "summary.json").write_text(json.dumps({**summary, "status": "failed", "diverged": True}))
    assert m.main([str(suite)]) == 0
    assert "1 runs (1 that did not complete left out)" in capsys.readouterr().out

    (failed / "summary.json").write_text(json.dumps({**summary, "status": "complete"}))  # now it must differ
    assert m.main([str(suite)]) == 1
    assert f"DIFFERS: ps_seed=1 [{label}] " in capsys.readouterr().out
