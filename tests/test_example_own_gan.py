"""The worked example ``examples/own-gan/`` works as the README walks through it.

Its files are copied into a temporary tree with the same layout (the example reads its topology
as ``../../topologies/...``), its own script writes a small image folder there, and then: the
suite parses into one-region and three-region cells for FedAvg and the parameter server, every
path resolved relative to the file that wrote it, and one cell trains for a round in process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from testbed.experiment.launch import run_experiment
from testbed.experiment.spec import parse_experiment
from testbed.suite import load_suite

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "own-gan"
FILES = ("experiment.yaml", "suite.yaml", "mygan.py", "one-region.yaml", "make_shapes.py")


def test_the_example_suite_parses_and_a_cell_runs(tmp_path: Path) -> None:
    example = tmp_path / "examples" / "own-gan"
    example.mkdir(parents=True)
    for name in FILES:
        shutil.copy(EXAMPLE / name, example / name)
    (tmp_path / "topologies").mkdir()
    shutil.copy(EXAMPLE.parent.parent / "topologies" / "wan-3dc-lite.yaml", tmp_path / "topologies")
    made = subprocess.run([sys.executable, str(example / "make_shapes.py"), "--n", "60"], capture_output=True,
                          text=True, check=True)
    assert "wrote 60 images of 32x32" in made.stdout
    assert len((EXAMPLE / "mygan.py").read_text().splitlines()) <= 45  # "a 40-line G and D"
    cells = {cell.id: cell for cell in load_suite(example / "suite.yaml").cells}
    assert sorted(cells) == ["fedavg-one-region", "fedavg-three-regions", "ps-one-region", "ps-three-regions"]
    assert {c.spec.topology.name for c in cells.values()} == {"one-region", "wan-3dc-lite"}
    assert {c.spec.algorithm for c in cells.values()} == {"fedavg", "ps"}
    for cell in cells.values():
        assert cell.experiment["dataset"]["dir"] == str(example / "data" / "shapes")
        assert cell.experiment["model"]["import_dir"] == str(example)
    quick = {**cells["fedavg-three-regions"].experiment, "max_iterations": 1, "eval_samples": 12}
    quick["model"] = {**quick["model"], "kwargs": {"width": 4}}
    run_dir = run_experiment(parse_experiment(quick, "quick", tmp_path), tmp_path / "run", progress=False)
    summary = (run_dir / "summary.json").read_text()
    assert '"status": "complete"' in summary and '"random-conv-v1"' in summary
