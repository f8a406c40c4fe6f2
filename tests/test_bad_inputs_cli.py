"""Every bad command line and every broken results directory is one line: non-zero exit, no traceback,
the flag or file named, nothing written (the YAML half of the table is ``test_bad_inputs.py``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from bad_inputs_common import EXPERIMENT, _check_one_line, _dump, workdir
from test_bad_inputs import EXPERIMENT_CASES, RAW_TOPOLOGIES, SUITE_CASES, TOPOLOGY_CASES

__all__ = ["workdir"]  # the fixture, shared

# -- command lines (good files in place): (case id, argv builder, text the line must hold) ----------------
def _file(tmp: Path) -> Path:
    path = tmp / "a-file"
    path.write_text("not a directory\n")
    return path


CLI_CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("unknown-command", lambda t: ["frobnicate"], "frobnicate"),
    ("run-without-file", lambda t: ["run"], "file"),
    ("max-parallel-zero", lambda t: ["run", "suite.yaml", "--max-parallel", "0"], "--max-parallel"),
    ("max-parallel-word", lambda t: ["run", "suite.yaml", "--max-parallel", "x"], "--max-parallel"),
    ("resume-and-overwrite", lambda t: ["run", "suite.yaml", "--resume", "--overwrite"], "--resume"),
    ("cpus-per-run-negative", lambda t: ["run", "suite.yaml", "--cpus-per-run", "-1"], "--cpus-per-run"),
    ("cpus-per-run-zero", lambda t: ["run", "suite.yaml", "--cpus-per-run", "0"], "--cpus-per-run"),
    ("gpus-per-run-negative", lambda t: ["run", "suite.yaml", "--gpus-per-run", "-1"], "--gpus-per-run"),
    ("retries-negative", lambda t: ["run", "suite.yaml", "--retries", "-1"], "--retries"),
    ("retries-hundred", lambda t: ["run", "suite.yaml", "--retries", "100"], "--retries"),
    ("backend-gpu", lambda t: ["run", "suite.yaml", "--backend", "gpu"], "--backend"),
    ("address-empty", lambda t: ["run", "suite.yaml", "--address", ""], "--address"),
    ("address-with-inprocess", lambda t: ["run", "suite.yaml", "--backend", "inprocess", "--address", "auto"],
     "--address"),
    ("address-not-host-port", lambda t: ["run", "suite.yaml", "--address", "nowhere"], "--address"),
    ("out-under-a-file", lambda t: ["run", "suite.yaml", "--out", str(_file(t) / "results")], "--out"),
    ("out-is-a-file", lambda t: ["run", "suite.yaml", "--out", str(_file(t))], "--out"),
    ("out-read-only-fs", lambda t: ["run", "exp.yaml", "--out", "/proc/testbed-results"], "--out"),
    ("data-dir-missing", lambda t: ["run", "suite.yaml", "--data-dir", str(t / "nowhere")], "--data-dir"),
    ("experiment-with-resume", lambda t: ["run", "exp.yaml", "--resume"], "--resume"),
    ("experiment-with-max-parallel", lambda t: ["run", "exp.yaml", "--max-parallel", "2"], "--max-parallel"),
    ("experiment-with-retries", lambda t: ["run", "exp.yaml", "--retries", "1"], "--retries"),
    ("run-unknown-flag", lambda t: ["run", "suite.yaml", "--bogus-flag"], "--bogus-flag"),
    ("run-missing-file", lambda t: ["run", "missing.yaml"], "missing.yaml"),
    ("run-a-directory", lambda t: ["run", str(t)], "file"),
    ("report-missing-dir", lambda t: ["report", str(t / "nowhere")], "nowhere"),
    ("report-not-results", lambda t: ["report", str(t)], "holds no run directory"),
    ("report-results-is-a-file", lambda t: ["report", str(_file(t))], "is a file"),
    ("report-out-under-file", lambda t: ["report", str(t), "--out", str(_file(t) / "pages")], "a-file"),
    ("report-out-read-only-fs", lambda t: ["report", str(t), "--out", "/proc/testbed-report"], "/proc"),
    ("report-without-dir", lambda t: ["report"], "results_dir"),
    ("topo-show-out-under-file", lambda t: ["topo", "show", "topo.yaml", "--out", str(_file(t) / "map.png")],
     "--out"),
    ("topo-show-out-txt", lambda t: ["topo", "show", "topo.yaml", "--out", "map.txt"], "--out"),
    ("topo-show-out-dir", lambda t: ["topo", "show", "topo.yaml", "--out", str(t)], "--out"),
    ("topo-check-missing", lambda t: ["topo", "check", "missing.yaml"], "missing.yaml"),
    ("topo-without-subcommand", lambda t: ["topo"], "topo"),
    ("topo-unknown-subcommand", lambda t: ["topo", "draw"], "draw"),
    ("plot-missing-dir", lambda t: ["plot", str(t / "nowhere")], "RESULTS_DIR"),
    ("plot-only-unknown", lambda t: ["plot", str(t), "--only", "nonsense"], "--only"),
    ("plot-out-under-file", lambda t: ["plot", str(t), "--out", str(_file(t) / "plots")], "--out"),
    ("train-local-iterations-zero", lambda t: ["train-local", "--iterations", "0"], "--iterations"),
    ("train-local-dataset-unknown", lambda t: ["train-local", "--dataset", "imagenet"], "--dataset"),
    ("train-local-threads-zero", lambda t: ["train-local", "--threads", "0"], "--threads"),
    ("train-local-batch-negative", lambda t: ["train-local", "--batch-size", "-1"], "--batch-size"),
    ("train-local-lr-zero", lambda t: ["train-local", "--lr-g", "0"], "--lr-g"),
    ("train-local-out-under-file", lambda t: ["train-local", "--out", str(_file(t) / "x")], "--out"),
    ("data-status-unknown-flag", lambda t: ["data", "status", "--bogus"], "--bogus"),
]


# -- results directories that are broken: (case id, builder of the directory, text the line must hold) -----
def _complete_run(root: Path, name: str = "run1") -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"run_id": name, "status": "complete", "algorithm": "ps"}))
    (run / "config.yaml").write_text(_dump(EXPERIMENT))
    (run / "metrics.csv").write_text("iteration,virtual_time_s\n0,0.0\n")
    (run / "nodes.csv").write_text("node,compute_s\na/w0,1.0\n")
    (run / "links.csv").write_text("a,b\n")
    (run / "traffic.csv").write_text("kind,scope,src_dc,dst_dc,nbytes,payload_nbytes,egress_usd\n")
    return run


def _corrupt_parquet(t: Path) -> Path:
    run = _complete_run(t / "results")
    (run / "traffic.parquet").write_bytes(b"PAR1 this is not a parquet file, it was cut short")
    return t / "results"


def _truncated_parquet(t: Path) -> Path:
    import pandas as pd

    run = _complete_run(t / "results")
    pd.DataFrame({"kind": ["x"], "nbytes": [1]}).to_parquet(run / "traffic.parquet")
    data = (run / "traffic.parquet").read_bytes()
    (run / "traffic.parquet").write_bytes(data[: len(data) // 2])
    return t / "results"


def _bad_summary(t: Path) -> Path:
    run = _complete_run(t / "results")
    (run / "summary.json").write_text('{"status": "complete", ')
    return t / "results"


def _bad_config(t: Path) -> Path:
    run = _complete_run(t / "results")
    (run / "config.yaml").write_text("name: [unclosed\n")
    return t / "results"


def _empty_metrics(t: Path) -> Path:
    run = _complete_run(t / "results")
    (run / "metrics.csv").write_text("")
    return t / "results"


def _missing_metrics(t: Path) -> Path:
    run = _complete_run(t / "results")
    (run / "metrics.csv").unlink()
    return t / "results"


def _bad_index(t: Path) -> Path:
    root = t / "results" / "suite"
    root.mkdir(parents=True)
    (root / "index.csv").write_text("")
    return root


def _index_without_status(t: Path) -> Path:
    root = t / "results" / "suite"
    root.mkdir(parents=True)
    (root / "index.csv").write_text("cell,run_dir\nx,x\n")
    return root


def _empty_dir(t: Path) -> Path:
    (t / "results").mkdir()
    return t / "results"


def _only_failed(t: Path) -> Path:
    run = t / "results" / "run1"
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"run_id": "run1", "status": "failed", "error": "boom"}))
    return t / "results"


RESULTS_CASES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("corrupt-traffic-parquet", _corrupt_parquet, "traffic.parquet"),
    ("truncated-traffic-parquet", _truncated_parquet, "traffic.parquet"),
    ("torn-summary", _bad_summary, "summary.json"),
    ("bad-config-yaml", _bad_config, "config.yaml"),
    ("empty-metrics", _empty_metrics, "metrics.csv"),
    ("missing-metrics", _missing_metrics, "metrics.csv"),
    ("empty-index", _bad_index, "index.csv"),
    ("index-without-status", _index_without_status, "status"),
    ("no-runs", _empty_dir, "RESULTS_DIR"),
    ("only-failed-runs", _only_failed, "RESULTS_DIR"),
    ("results-is-a-file", _file, "RESULTS_DIR"),
]


def _suite_results_exist(t: Path) -> list[str]:
    (t / "out" / "s" / "seed=0").mkdir(parents=True)
    (t / "out" / "s" / "seed=0" / "summary.json").write_text('{"status": "complete"}')
    return ["run", "suite.yaml", "--backend", "inprocess", "--out", str(t / "out")]


def _suite_locked(t: Path) -> list[str]:
    import socket

    (t / "out" / "s").mkdir(parents=True)
    holder = {"pid": os.getppid(), "host": socket.gethostname(), "since": "2026-01-01 00:00:00"}
    (t / "out" / "s" / ".lock").write_text(json.dumps(holder))
    return ["run", "suite.yaml", "--backend", "inprocess", "--out", str(t / "out")]


RESULTS_CLI_CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("suite-results-exist", _suite_results_exist, "--resume"),
    ("suite-results-locked", _suite_locked, f"pid {os.getppid()}"),
]



@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_bad_command_line(workdir: Path, build: Callable[[Path], list[str]], expected: str,
                          capsys: pytest.CaptureFixture[str]) -> None:
    argv = build(workdir)
    _check_one_line(argv, expected, workdir, capsys)


@pytest.mark.parametrize("command", ["plot", "report"])
@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in RESULTS_CASES], ids=[c[0] for c in RESULTS_CASES])
def test_bad_results_directory(workdir: Path, build: Callable[[Path], Path], expected: str, command: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    root = build(workdir)
    _check_one_line([command, str(root), "--out", str(workdir / "out")], expected, workdir, capsys)


@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in RESULTS_CLI_CASES],
                         ids=[c[0] for c in RESULTS_CLI_CASES])
def test_suite_refuses_its_results_directory(workdir: Path, build: Callable[[Path], list[str]], expected: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _check_one_line(build(workdir), expected, workdir, capsys)


def test_there_are_at_least_a_hundred_cases() -> None:
    total = (len(TOPOLOGY_CASES) + len(RAW_TOPOLOGIES) + len(EXPERIMENT_CASES) + len(SUITE_CASES)
             + len(CLI_CASES) + 2 * len(RESULTS_CASES) + len(RESULTS_CLI_CASES))
    assert total >= 100, total


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: chmod cannot make a directory read-only")
def test_read_only_out_is_one_line(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = workdir / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        _check_one_line(["run", "suite.yaml", "--out", str(locked)], "--out", workdir, capsys)
    finally:
        locked.chmod(0o755)
