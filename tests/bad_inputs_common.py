"""Shared pieces of the bad-input tables: good base files, the one-line check, the working directory.

``tests/test_bad_inputs.py`` (broken YAML) and ``tests/test_bad_inputs_cli.py`` (broken command lines and
results directories) both assert the rule a new user relies on: exit code != 0, exactly one line of
output, no traceback, the field (or flag, or file) named in it, and no file created or changed.
"""

from __future__ import annotations

import copy
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


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a good topology, experiment and suite, as the cwd."""
    (tmp_path / "topo.yaml").write_text(_dump(TOPOLOGY))
    (tmp_path / "exp.yaml").write_text(_dump(EXPERIMENT))
    (tmp_path / "suite.yaml").write_text(_dump(SUITE))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


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
