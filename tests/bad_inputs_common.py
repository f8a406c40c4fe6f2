"""Shared pieces of the bad-input tables: good base files, the one-line check, the working directory.

``tests/test_bad_inputs.py`` (broken YAML) and ``tests/test_bad_inputs_cli.py`` (broken command lines and
results directories) both assert the rule a new user relies on: exit code != 0, exactly one line of
output, no traceback, the field (or flag, or file) named in it, and no file created or changed -- the
working directory holds an existing results directory (:data:`RESULTS`, two finished suites), and every
file's checksum and mtime are compared before and after.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed.cli import main

TOPOLOGY: dict[str, Any] = {
    "name": "t", "lan": {"bandwidth": "10Gbps", "latency": "0.1ms"},
    "datacenters": {"a": {"workers": 2}, "b": {"workers": 2}},
    "links": [{"between": ["a", "b"], "bandwidth": "100Mbps", "latency": "20ms"}],
}
EXPERIMENT: dict[str, Any] = {
    "name": "e", "topology": "topo.yaml", "dataset": {"name": "ring8", "n": 400}, "partition": "iid",
    "model": {"name": "mlp2d", "hidden": 16, "depth": 2}, "algorithm": {"name": "ps"},
    "training": {"batch_size": 16}, "max_iterations": 3, "eval_every": 10, "eval_samples": 100,
    "compute": {"model": "fixed", "costs": {"train_step": "1ms"}, "default": "1ms"},
}
SUITE: dict[str, Any] = {"name": "s", "base": "exp.yaml", "grid": {"seed": [0, 1]}}
DELETE = object()


def _changed(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with the dotted ``path`` (``links.0.latency``) set (or deleted)."""
    out = copy.deepcopy(data)
    parts = path.split(".")
    node: Any = out
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last: Any = int(parts[-1]) if isinstance(node, list) else parts[-1]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return out


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False)


RESULTS = "existing-results"
"""An existing results directory in the working directory: suite ``s`` (the good suite's name) with a complete
cell ``seed=0`` and suite ``other`` beside it -- what a bad input must never touch (``--out results``)."""


def _existing_results(root: Path) -> None:
    for suite, cell in (("s", "seed=0"), ("other", "x")):
        run = root / RESULTS / suite / cell
        (run / "samples").mkdir(parents=True)
        (run / "summary.json").write_text(json.dumps({"run_id": cell, "status": "complete"}))
        (run / "config.yaml").write_text(_dump(EXPERIMENT))
        (run / "samples" / "iter_000000.png").write_bytes(b"\x89PNG not really")
        (root / RESULTS / suite / "index.csv").write_text(f"cell,run_dir,status\n{cell},{cell},complete\n")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a good topology, experiment and suite and an existing results directory, as the cwd."""
    (tmp_path / "topo.yaml").write_text(_dump(TOPOLOGY))
    (tmp_path / "exp.yaml").write_text(_dump(EXPERIMENT))
    (tmp_path / "suite.yaml").write_text(_dump(SUITE))
    _existing_results(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root`` (sha256 of its bytes, mtime) and every directory (that it exists: probing
    whether ``--out`` is writable touches a directory's mtime, not its contents)."""
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            if p.is_file() else ("dir", 0) for p in root.rglob("*")}


def _check_one_line(argv: list[str], expected: str, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    before = _snapshot(root)
    code = main(argv)
    captured = capsys.readouterr()
    output = captured.out + captured.err
    lines = output.splitlines()
    assert code != 0, output
    assert len(lines) == 1, output
    assert "Traceback" not in output
    assert expected in lines[0], lines[0]
    assert _snapshot(root) == before, "a bad input must not create or change any file"


# -- the argv of one case: write the broken file under ``tmp`` (shared by the bad-input tables) --------------
def _topology_case(tmp: Path, change: Any) -> list[str]:
    path = tmp / "bad-topo.yaml"
    if isinstance(change, bytes):
        path.write_bytes(change)
    elif isinstance(change, str):
        path.write_text(change)
    else:
        data = TOPOLOGY
        for key, value in change.items():
            if key == "links.1":
                data = copy.deepcopy(data)
                data["links"].append(value)
            else:
                data = _changed(data, key, value)
        path.write_text(_dump(data))
    return ["topo", "check", str(path)]


def _experiment_case(tmp: Path, change: dict[str, Any]) -> list[str]:
    data = EXPERIMENT
    for key, value in change.items():
        data = _changed(data, key, value)
    path = tmp / "bad-exp.yaml"
    path.write_text(_dump(data))
    return ["run", str(path), "--out", str(tmp / "out")]


def _suite_case(tmp: Path, change: Any) -> list[str]:
    path = tmp / "bad-suite.yaml"
    if isinstance(change, str):
        path.write_text(change)
    else:
        data = {**SUITE, **change}
        if change.get("grid", {}) and "topology.datacenters.a.workers" in change["grid"]:
            data["base"] = {**EXPERIMENT, "topology": copy.deepcopy(TOPOLOGY)}
        path.write_text(_dump(data))
    return ["run", str(path), "--backend", "inprocess", "--out", str(tmp / "out")]
