"""Bad experiment YAML is one clear line and exit 2; good YAML resolves every default."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from testbed.core.errors import ConfigError
from testbed.experiment.spec import load_experiment


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"algorithm": "no-such-method"}, "algorithm.name", "unknown algorithm 'no-such-method'"),
        ({"algorithm": {"name": "ps", "staleness": 3}}, "algorithm.staleness", "unknown parameter for ps"),
        ({"algorithm": {"name": "ps", "server_at": "mars"}}, "algorithm.server_at", "not a datacenter"),
        ({"algorithm": {"name": "fedavg", "server_at": "mars"}}, "algorithm.server_at", "not a datacenter"),
        ({"algorithm": {"name": "ps", "consistency": "strong"}}, "algorithm.consistency", "unknown consistency"),
        ({"algorithm": {"name": "fedavg", "client_fraction": "half"}}, "algorithm.client_fraction", "number"),
        ({"colour": "blue"}, "colour", "unknown key"),
        ({"topology": "nowhere.yaml"}, "topology", "not found"),
        ({"dataset": "cifar1000"}, "dataset", "unknown data set"),
        ({"partition": "zipf(2)"}, "partition", "unknown partition"),
        ({"training": {"lr": 0.1}}, "training.lr", "unknown key"),
        ({"compute": {"model": "guess"}}, "compute.model", "unknown compute model"),
        ({"max_iterations": None}, "max_iterations", "no stop condition"),
        ({"max_virtual_time": "10 fortnights"}, "max_virtual_time", "unknown unit"),
        ({"executors": {"placement": "everywhere"}}, "executors.placement", "unknown placement"),
        ({"executors": {"threads": 2}}, "executors.threads", "unknown key"),
    ],
)
def test_bad_experiment_names_the_field(experiment, change: dict, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_experiment({**experiment("ps"), **change})
    assert err.value.field == field
    assert words in str(err.value)


def test_resolved_config_round_trips(experiment) -> None:
    spec = load_experiment(experiment({"name": "fedavg", "client_fraction": 0.5}))
    resolved = spec.resolved()
    assert resolved["algorithm"] == {"name": "fedavg", "client_fraction": 0.5, "local_epochs": 1.0,
                                     "batch_size": 0, "server_at": None, "round_deadline": None,
                                     "over_select": 0.0, "offline": "drop", "server_optimizer": "fedavg",
                                     "server_lr": None, "server_momentum": None, "server_beta1": None,
                                     "server_beta2": None, "server_tau": None, "server_lr_schedule": None,
                                     "client_state": "reset"}
    assert resolved["network"]["compression"] == {}
    again = load_experiment(yaml.safe_load(yaml.safe_dump(resolved)))
    assert again.resolved() == resolved


@pytest.mark.parametrize(("executors", "kind"), [(None, "per_datacenter"), ("in_task", "in_task"),
                                               ({"num_gpus": 0.5, "pool": 3}, "pool"),
                                               ({"placement": "per_worker", "torch_threads": 2}, "per_worker")])
def test_compute_and_executors_parse_to_frozen_specs_that_dump_as_written(experiment, executors, kind) -> None:
    from testbed.exec.spec import ExecutorsSpec
    from testbed.sim.compute import ComputeSpec, CostTable

    spec = load_experiment(experiment("local", executors=executors,
                                      compute={"model": "fixed", "costs": {"train_step": "10ms"}, "default": "0.5s"}))
    assert spec.compute == ComputeSpec("fixed", (("train_step", 0.01),), 0.5, 3)
    assert spec.compute.to_dict() == {"model": "fixed", "costs": {"train_step": "0.01s"}, "default": "0.5s",
                                      "repeats": 3}
    model = spec.compute.build()
    assert isinstance(model, CostTable) and model.costs_s == {"train_step": 0.01} and model.default_s == 0.5
    assert isinstance(spec.executors, ExecutorsSpec)
    assert spec.executors.to_dict() == ({"placement": executors} if isinstance(executors, str) else executors)
    assert spec.executors.kind == kind
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.executors.pool_size = 4  # type: ignore[misc]


def test_cli_bad_experiment_is_one_line(tmp_path: Path, experiment) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(experiment({"name": "ps", "server_at": "mars"})))
    result = subprocess.run([sys.executable, "-m", "testbed", "run", str(path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "algorithm.server_at" in result.stderr and str(path) in result.stderr
