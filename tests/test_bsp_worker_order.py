"""A BSP parameter server's values do not depend on the network: it averages pushes in worker order.

Why: averaging the N pushed gradients in the order they arrive makes the float sum -- and so the
trained generator -- depend on link latencies and jitter.  One seed on a 10 ms WAN and on an
80 ms +- 5 ms WAN must save the identical ``generator.pt``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import tiny_experiment, tiny_topology

from testbed.experiment.generator_file import load_generator_file
from testbed.experiment.launch import run_experiment
from testbed.experiment.spec import load_experiment


def _generators(tmp_path: Path, algorithm: dict, latency: str, jitter: str | None) -> dict:
    topology = tiny_topology((2, 1, 3), latency=latency)
    if jitter:
        for link in topology["links"]:
            link["jitter"] = jitter
    spec = tiny_experiment(algorithm, topology=topology, max_iterations=6)
    out = run_experiment(load_experiment(spec), tmp_path / f"{latency}-{jitter}", progress=False)
    return load_generator_file(out)["generators"]


@pytest.mark.parametrize("algorithm", [{"name": "ps", "server_at": "a"},
                                       {"name": "ps", "servers": 2, "server_at": ["a", "c"]},
                                       {"name": "centralized", "server_at": "b"}],
                         ids=["ps", "ps-2shards", "centralized"])
def test_bsp_generator_is_the_same_on_any_wan(tmp_path: Path, algorithm: dict) -> None:
    near = _generators(tmp_path, algorithm, "10ms", None)
    far = _generators(tmp_path, algorithm, "80ms", "5ms")
    assert near.keys() == far.keys()
    for label, state in near.items():
        for key, tensor in state.items():
            assert torch.equal(tensor, far[label][key]), f"{label}.{key} depends on the network"
