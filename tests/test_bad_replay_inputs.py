"""Every replay of a broken or unsuitable run is one line: non-zero exit, no traceback, the file or flag named,
nothing written -- a missing, truncated or foreign op trace, a topology lacking a node, churn or measured
compute without --approximate, an incomplete run, bad scales (the rest of the command-line table is
``test_bad_inputs_cli.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from bad_inputs_common import EXPERIMENT, TOPOLOGY, _check_one_line, _dump, workdir

__all__ = ["REPLAY_CASES", "workdir"]  # the fixture, shared; the table, counted by test_bad_inputs_cli.py


# -- replays of broken or unsuitable runs: (case id, argv builder given the workdir and a good run, text) ------
def _replay_of(run: Path, *flags: str) -> list[str]:
    return ["replay", str(run), "--out", str(run.parent / "replayed"), *flags]


def _without_ops(t: Path, run: Path) -> list[str]:
    (run / "ops.parquet").unlink()
    return _replay_of(run)


def _truncated_ops(t: Path, run: Path) -> list[str]:
    data = (run / "ops.parquet").read_bytes()
    (run / "ops.parquet").write_bytes(data[: len(data) // 2])
    return _replay_of(run)


def _foreign_ops(t: Path, run: Path) -> list[str]:
    (run / "config.yaml").write_text((run / "config.yaml").read_text().replace("seed: 0", "seed: 1"))
    return _replay_of(run)


def _traffic_as_ops(t: Path, run: Path) -> list[str]:
    (run / "ops.parquet").write_bytes((run / "traffic.parquet").read_bytes())
    return _replay_of(run)


def _topology_file(t: Path, topology: dict) -> str:
    (t / "other.yaml").write_text(_dump(topology))
    return str(t / "other.yaml")


def _topology_lacks_a_node(t: Path, run: Path) -> list[str]:
    smaller = {**TOPOLOGY, "datacenters": {"a": {"workers": 2}, "b": {"workers": 1}}}
    return _replay_of(run, "--topology", _topology_file(t, smaller))


def _topology_with_churn(t: Path, run: Path) -> list[str]:
    churn = {**TOPOLOGY, "datacenters": {"a": {"workers": 2}, "b": {"workers": 2,
                                                                    "availability": {"down": [["1s", "2s"]]}}}}
    return _replay_of(run, "--topology", _topology_file(t, churn))


def _incomplete_run(t: Path, run: Path) -> list[str]:
    (run / "summary.json").write_text(json.dumps({"run_id": "r", "status": "failed", "error": "boom"}))
    return _replay_of(run)


def _bad_compute_file(t: Path, run: Path) -> list[str]:
    (t / "compute.yaml").write_text(_dump({"compute": {"model": "fixed", "costs": {"grad_step": "fast"}}}))
    return _replay_of(run, "--compute", str(t / "compute.yaml"))


def _measured_compute_file(t: Path, run: Path) -> list[str]:
    (t / "compute.yaml").write_text(_dump({"model": "measured"}))
    return _replay_of(run, "--compute", str(t / "compute.yaml"))


REPLAY_CASES: list[tuple[str, Callable[[Path, Path], list[str]], str]] = [
    ("replay-without-ops", _without_ops, "ops.parquet"),
    ("replay-truncated-ops", _truncated_ops, "ops.parquet"),
    ("replay-foreign-ops", _foreign_ops, "another run"),
    ("replay-traffic-as-ops", _traffic_as_ops, "not an op trace"),
    ("replay-topology-lacks-node", _topology_lacks_a_node, "lacks node b/w1"),
    ("replay-churn-without-approximate", _topology_with_churn, "--approximate"),
    ("replay-incomplete-run", _incomplete_run, "summary.json"),
    ("replay-bad-compute-file", _bad_compute_file, "compute.costs.grad_step"),
    ("replay-measured-compute", _measured_compute_file, "--approximate"),
    ("replay-bandwidth-scale-zero", lambda t, run: _replay_of(run, "--bandwidth-scale", "0"), "--bandwidth-scale"),
    ("replay-latency-scale-negative", lambda t, run: _replay_of(run, "--latency-scale", "-2"), "--latency-scale"),
    ("replay-compute-scale-nan", lambda t, run: _replay_of(run, "--compute-scale", "nan"), "--compute-scale"),
    ("replay-out-is-the-run", lambda t, run: ["replay", str(run), "--out", str(run)], "--out"),
    ("replay-topology-missing", lambda t, run: _replay_of(run, "--topology", str(t / "nowhere.yaml")), "--topology"),
    ("replay-not-a-run", lambda t, run: _replay_of(t / "nowhere"), "nowhere"),
    ("replay-without-run-dir", lambda t, run: ["replay"], "RUN_DIR"),
]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One complete tiny run (with its op trace), copied into each replay case."""
    from testbed.experiment.launch import run_experiment
    from testbed.experiment.spec import parse_experiment

    root = tmp_path_factory.mktemp("trained")
    (root / "topo.yaml").write_text(_dump(TOPOLOGY))
    return run_experiment(parse_experiment({**EXPERIMENT, "topology": TOPOLOGY}, "test", root), root / "run",
                          progress=False)


@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in REPLAY_CASES], ids=[c[0] for c in REPLAY_CASES])
def test_bad_replay(workdir: Path, trained_run: Path, build: Callable[[Path, Path], list[str]], expected: str,
                    capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    run = Path(shutil.copytree(trained_run, workdir / "run"))
    _check_one_line(build(workdir, run), expected, workdir, capsys)
