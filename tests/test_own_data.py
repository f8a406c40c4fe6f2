"""A researcher's own data: each format read, scaled, split, fingerprinted and partitioned as documented.

Formats: ``.npz`` (uint8 channels-last colour, float grey, vectors), ``.npy`` (+ a labels file), a
folder of PNGs (flat, by class, mixed sizes resized).  The bad inputs -- a corrupt file, a wrong
key, mixed image sizes, an empty folder and the rest -- are rows of ``test_bad_inputs.py``.  Also:
``config.yaml`` names the files by SHA-256 and runs again; a suite's base file resolves its data
and model paths relative to itself; ``data status FILE`` and ``--dry-run`` describe the data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import tiny_topology
from own_files import custom_model, write_folder, write_model, write_npz

from analysis import load_results
from testbed.cli import main
from testbed.data import dataset_spec, load_dataset, parse_file_dataset, partition
from testbed.data.dataset import split_indices
from testbed.experiment.spec import load_experiment
from testbed.suite import load_suite


def test_npz_colour_images_are_scaled_split_and_labelled(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "shapes.npz", n=100)
    ref, n = parse_file_dataset({"name": "npz", "path": "shapes.npz", "key": "x", "labels": "y"}, tmp_path)
    spec = dataset_spec(ref)
    assert n is None and spec.kind == "image" and spec.sample_shape == (3, 8, 8)
    assert spec.labelled and spec.num_classes == 2
    assert spec.file.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert spec.file.nbytes == path.stat().st_size
    raw = np.load(path)
    rows = split_indices(100, "train")
    train, test = load_dataset(ref, "train"), load_dataset(ref, "test")
    assert (len(train), len(test)) == (80, 20)
    expected = np.moveaxis(raw["x"][rows], 3, 1).astype(np.float32) / 127.5 - 1.0
    np.testing.assert_allclose(train.x, expected, atol=1e-6)  # channels-last uint8 -> (N, C, H, W) in [-1, 1]
    assert np.array_equal(train.y, raw["y"][rows]) and train.y.dtype == np.int64
    parts = partition(train.y, 4, "dirichlet(0.5)", seed=0)
    assert sorted(np.concatenate(parts).tolist()) == list(range(80))
    assert np.array_equal(load_dataset(ref, "train", seed=3, n=10).x, load_dataset(ref, "train", seed=3, n=10).x)


def test_npz_float_grey_and_text_labels(tmp_path: Path) -> None:
    x = np.linspace(0.0, 1.0, 60 * 36).reshape(60, 6, 6)
    np.savez(tmp_path / "grey.npz", images=x, kind=np.array(["cat", "dog", "owl"] * 20))
    ref, _ = parse_file_dataset({"name": "npz", "path": "grey.npz", "key": "images", "labels": "kind"}, tmp_path)
    spec, data = dataset_spec(ref), load_dataset(ref, "test")
    assert spec.sample_shape == (1, 6, 6) and spec.num_classes == 3 and "[0, 1] to [-1, 1]" in spec.description
    assert data.x.min() >= -1.0 and data.x.max() <= 1.0 and set(data.y.tolist()) <= {0, 1, 2}
    ranged, _ = parse_file_dataset({"name": "npz", "path": "grey.npz", "key": "images", "range": [0, 2]}, tmp_path)
    assert load_dataset(ranged, "train").x.max() <= 0.0  # [0, 2] -> [-1, 1]: the data's [0, 1] is [-1, 0]


def test_npy_vectors_with_a_labels_file_are_used_as_stored(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(70, 3)).astype(np.float32) * 5
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(70) % 2)
    ref, _ = parse_file_dataset({"name": "npy", "path": "x.npy", "labels": "y.npy"}, tmp_path)
    spec = dataset_spec(ref)
    assert spec.kind == "vector" and spec.sample_shape == (3,) and spec.file.files == 2
    assert np.array_equal(load_dataset(ref, "train").x, x[split_indices(70, "train")])


def test_image_folders_flat_by_class_and_resized(tmp_path: Path) -> None:
    write_folder(tmp_path / "flat", n=60)
    ref, _ = parse_file_dataset({"name": "images", "dir": "flat", "channels": 1}, tmp_path)
    spec, data = dataset_spec(ref), load_dataset(ref, "train")
    assert spec.sample_shape == (1, 8, 8) and not spec.labelled and spec.file.files == 60
    assert data.y.shape == (48, 0) and data.y.nbytes == 0  # unlabelled: no label bytes to ship
    write_folder(tmp_path / "classes", n=60, by_class=True)
    ref, _ = parse_file_dataset({"name": "images", "dir": "classes", "labels": "folders", "size": 4}, tmp_path)
    spec, data = dataset_spec(ref), load_dataset(ref, "train")
    assert spec.sample_shape == (3, 4, 4) and spec.labelled and spec.num_classes == 2
    assert data.x.dtype == np.float32 and -1.0 <= data.x.min() and data.x.max() <= 1.0
    parts = partition(data.y, 2, "by_datacenter", seed=0, groups=[0, 1])
    assert {frozenset(data.y[p].tolist()) for p in parts} == {frozenset({0}), frozenset({1})}
    write_folder(tmp_path / "mixed", n=55, size=8)
    write_folder(tmp_path / "mixed", n=5, size=12, seed=1)
    ref, _ = parse_file_dataset({"name": "images", "dir": "mixed", "size": 8}, tmp_path)
    assert load_dataset(ref, "train").x.shape[1:] == (3, 8, 8)


def _experiment(tmp_path: Path, **overrides: object) -> Path:
    write_npz(tmp_path / "shapes.npz", n=60, labels=False)
    exp = {"name": "own", "topology": tiny_topology((1, 1)), "dataset": {"name": "npz", "path": "shapes.npz"},
           "model": custom_model(write_model(tmp_path, "owndatagan"), Path(".")), "algorithm": "ps",
           "training": {"batch_size": 8}, "max_iterations": 2, "eval_every": 100, "eval_samples": 20,
           "compute": {"model": "fixed", "default": "1ms"}, **overrides}
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(exp))
    return path


def test_config_yaml_names_the_data_by_sha256_and_runs_again(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    exp = _experiment(tmp_path)
    assert main(["run", str(exp), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    data = tmp_path / "shapes.npz"
    assert config["dataset"] == {"name": "npz", "path": str(data), "nbytes": data.stat().st_size,
                                 "sha256": hashlib.sha256(data.read_bytes()).hexdigest()}
    assert config["model"]["import_dir"] == str(tmp_path) and config["model"]["kwargs"] == {"width": 8}
    assert load_experiment(tmp_path / "run" / "config.yaml").dataset == load_experiment(exp).dataset
    data.rename(tmp_path / "elsewhere.npz")
    results = load_results(tmp_path / "run")  # plots need the runs' records, not the data
    assert results.key_metrics(results.complete["dataset"].iloc[0]) == ("fid", "coverage", "density")
    data.with_name("elsewhere.npz").rename(data)
    write_npz(data, n=60, seed=1, labels=False)  # the data changes: the old config refuses it
    capsys.readouterr()
    assert main(["run", str(tmp_path / "run" / "config.yaml"), "--out", str(tmp_path / "again")]) == 2
    assert "dataset.sha256" in capsys.readouterr().err


def test_a_suite_base_file_reads_its_data_and_model_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "exp").mkdir()
    _experiment(tmp_path / "exp")
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"name": "s", "base": "exp/exp.yaml", "grid": {"algorithm": ["ps", "fedavg"]}}))
    cells = load_suite(suite).cells
    for cell in cells:
        assert cell.experiment["dataset"]["path"] == str(tmp_path / "exp" / "shapes.npz")
        assert cell.experiment["model"]["import_dir"] == str(tmp_path / "exp")
        assert cell.spec.dataset == load_experiment(tmp_path / "exp" / "exp.yaml").dataset


def test_data_status_and_dry_run_describe_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exp = _experiment(tmp_path)
    capsys.readouterr()
    assert main(["data", "status", str(exp)]) == 0
    status = capsys.readouterr().out
    assert "60 samples of shape (3, 8, 8)" in status and "unlabelled" in status and "sha256" in status
    assert main(["run", str(exp), "--dry-run"]) == 0
    assert "60 samples of shape (3, 8, 8)" in capsys.readouterr().out
    assert not (tmp_path / ".testbed").exists() and not (tmp_path / "results").exists()


def test_a_node_refuses_data_that_changed_after_parsing(tmp_path: Path) -> None:
    from testbed.core.errors import ConfigError
    from testbed.exec.executor import InProcessExecutor
    from testbed.experiment.run import Run

    spec = load_experiment(_experiment(tmp_path))
    write_npz(tmp_path / "shapes.npz", n=60, seed=5, labels=False)  # e.g. another machine's copy differs
    with pytest.raises(ConfigError, match=r"dataset\.sha256"):
        Run(spec, InProcessExecutor(), progress=False).execute()
