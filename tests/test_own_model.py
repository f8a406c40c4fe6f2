"""A researcher's own G and D (``model: {name: custom, ...}``) through every method, and back from generator.pt.

Why: the byte formulas count |G|, |D| and G's BatchNorm buffers from whatever modules are built,
so a custom pair must be sized exactly like a preset, and every registered method (the registry
is iterated, so a new method is covered without editing this file) must train it.  Each run is a
tiny G/D (one hidden layer of 8, BatchNorm in G) on 8x8 colour shapes from an ``.npz`` written
here, 2 iterations, fixed compute costs; the in-process executor checks every declared message
size against the real payload.  Then ``python -m testbed sample`` rebuilds the custom generator
from ``generator.pt`` (import path + kwargs) and reproduces the run's final FID.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_topology
from own_files import custom_model, write_model, write_npz

from testbed.cli import main
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.generator_file import load_generator_file
from testbed.experiment.launch import run_experiment
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.methods import algorithm_names
from testbed.methods.common.sizes import wire_sizes
from testbed.models import build_models, model_config
from testbed.quality import evaluate_samples

T = 2
G_PARAMS = (4 * 8 + 8) + 2 * 8 + (8 * 192 + 192)  # Linear(4, 8), BatchNorm1d(8), Linear(8, 3*8*8)
G_BUFFERS = 2 * 8  # BatchNorm running mean and variance (num_batches_tracked is an integer: not sent)
D_PARAMS = (192 * 8 + 8) + (8 + 1)


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("own")
    write_npz(folder / "shapes.npz", n=120, labels=False)
    write_model(folder, "owngan")
    return folder


def own_experiment(folder: Path, algorithm: dict | str, **overrides: object) -> dict:
    return {"name": "own", "topology": tiny_topology((2, 1)),
            "dataset": {"name": "npz", "path": str(folder / "shapes.npz")},
            "model": custom_model("owngan", folder), "algorithm": algorithm, "training": {"batch_size": 8},
            "max_iterations": T, "eval_every": 100, "eval_samples": 20, "seed": 0,
            "compute": {"model": "fixed", "default": "1ms"}, **overrides}


@pytest.mark.parametrize("name", algorithm_names())
def test_every_method_trains_a_custom_model_with_exact_sizes(own: Path, name: str) -> None:
    spec = load_experiment(own_experiment(own, {"name": name}))
    run = Run(spec, InProcessExecutor(), progress=False)
    run.execute()
    sizes = wire_sizes(run.setup)
    assert (sizes.g_params, sizes.g_buffers, sizes.d_params, sizes.sample_numel) == (G_PARAMS, G_BUFFERS,
                                                                                      D_PARAMS, 192)
    assert run.iteration >= 1 and run.metrics and np.isfinite(run.metrics[-1]["fid"])
    kinds = run.engine.accountant.bytes_by_kind()
    workers = len(run.workers)
    if name == "ps":  # BSP: every worker pulls and pushes both nets every iteration
        assert kinds["params_g"] == kinds["grads_g"] == 4 * G_PARAMS * workers * T
        assert kinds["params_d"] == kinds["grads_d"] == 4 * D_PARAMS * workers * T
    if name == "centralized":  # unlabelled: exactly the samples travel, no label bytes
        data, remote = run.setup.data(), [i for i, w in enumerate(run.workers) if not w.startswith("a/")]
        assert kinds["raw_data"] == sum(data.x[run.setup.shard(i)].nbytes for i in remote)


def test_fedavg_ships_the_custom_generators_batchnorm_statistics(own: Path) -> None:
    algorithm = {"name": "fedavg", "client_fraction": 1.0, "local_epochs": 1}
    run = Run(load_experiment(own_experiment(own, algorithm)), InProcessExecutor(), progress=False)
    run.execute()
    rounds, clients = run.iteration, len(run.workers)
    assert run.engine.accountant.bytes_by_kind() == {"params_g": 2 * clients * rounds * 4 * (G_PARAMS + G_BUFFERS),
                                                     "params_d": 2 * clients * rounds * 4 * D_PARAMS}


def test_sample_rebuilds_the_custom_generator_and_its_fid(own: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = run_experiment(load_experiment(own_experiment(own, "ps")), tmp_path / "run", progress=False)
    payload = load_generator_file(run_dir)
    overrides = payload["model_overrides"]
    assert overrides["generator"] == "owngan:Gen" and overrides["import_dir"] == str(own)
    assert overrides["kwargs"] == '{"width": 8}' and overrides["latent_dim"] == 4
    sys.modules.pop("owngan", None)  # as in a fresh process: sample must import it again
    out = tmp_path / "samples.npy"
    assert main(["sample", str(run_dir), "--n", "20", "--out", str(out), "--png", str(tmp_path / "s.png")]) == 0
    samples = np.load(out)
    assert samples.shape == (20, 3, 8, 8)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert evaluate_samples(samples, summary["dataset"], 20)["fid"] == summary["final_quality"]["fid"]
    assert summary["quality_features"]["features"] == "random-conv-v1"


def test_pythonpath_and_a_same_named_module_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        folder.mkdir()
        write_model(folder, "samegan")
    (second / "samegan.py").write_text((second / "samegan.py").read_text().replace("nn.Tanh()", "nn.Sigmoid()"))
    build = {"generator": "samegan:Gen", "discriminator": "samegan:Disc", "latent_dim": 4, "kwargs": "{}"}
    g_first, _ = build_models(model_config("custom", **build, import_dir=str(first)), (1, 4, 4), 0)
    g_second, _ = build_models(model_config("custom", **build, import_dir=str(second)), (1, 4, 4), 0)
    assert type(g_first.net[-1]).__name__ == "Tanh" and type(g_second.net[-1]).__name__ == "Sigmoid"
    sys.modules.pop("samegan", None)
    monkeypatch.syspath_prepend(str(first))  # no import_dir: the module comes from PYTHONPATH
    g_path, _ = build_models(model_config("custom", **build), (1, 4, 4), 0)
    assert type(g_path.net[-1]).__name__ == "Tanh"
    assert not (first / "__pycache__").exists(), "importing the researcher's module writes nothing beside it"
