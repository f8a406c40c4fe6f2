"""Every method's recorded payload bytes equal its docs/design.md §4 formula, exactly.

Sizes come from the accountant (the arrays that really travelled); the formulas
are computed here from the model's parameter counts and the partition, independently.
"""

from __future__ import annotations

import numpy as np
import pytest

from testbed.data import load_dataset
from testbed.data.partition import partition
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.models import build_models, model_config


def run_spec(spec_dict: dict) -> Run:
    run = Run(load_experiment(spec_dict), InProcessExecutor(), progress=False)
    run.execute()
    return run


def model_sizes() -> tuple[int, int]:
    g, d = build_models(model_config("mlp2d", hidden=16, depth=2), (2,), seed=0)
    return sum(p.numel() for p in g.parameters()), sum(p.numel() for p in d.parameters())


def test_local_sends_nothing(experiment) -> None:
    run = run_spec(experiment("local", max_iterations=4))
    assert len(run.engine.accountant) == 0
    assert run.iteration == 4
    assert all(s.tasks == {"train_step": 4} for n, s in run.engine.stats.items() if "/w" in n)
    assert run.virtual_time_s == pytest.approx(0.04)


def test_ps_sequential_bytes(experiment) -> None:
    n_g, n_d = model_sizes()
    steps, workers = 3, 4
    run = run_spec(experiment({"name": "ps", "servers": 2, "server_at": ["a", "b"]}, max_iterations=steps))
    acc = run.engine.accountant
    # Per step per worker: pull 4(|G|+|D|) B, push 4(|G|+|D|) B -- over both shards together.
    assert acc.bytes_by_kind() == {"grads_d": steps * workers * 4 * n_d, "grads_g": steps * workers * 4 * n_g,
                                   "params_d": steps * workers * 4 * n_d, "params_g": steps * workers * 4 * n_g,
                                   "pull": 0}
    assert run.iteration == steps


@pytest.mark.parametrize("consistency", ["eventual", "bounded_delay"])
def test_ps_async_bytes_per_message_and_per_update(experiment, consistency: str) -> None:
    n_g, n_d = model_sizes()
    run = run_spec(experiment({"name": "ps", "consistency": consistency, "tau": 1}, max_iterations=6))
    frame = run.engine.accountant.frame()
    sizes = frame.groupby("kind")["payload_nbytes"].unique().to_dict()
    assert [list(sizes[k]) for k in ("params_g", "params_d", "grads_g", "grads_d")] == [
        [4 * n_g], [4 * n_d], [4 * n_g], [4 * n_d]]
    # One shard: every update applied one push, so pushes delivered >= updates.
    delivered = frame[frame.kind == "grads_g"]["t_arrive_s"].notna().sum()
    assert delivered >= run.iteration == 6


def test_fedavg_bytes(experiment) -> None:
    n_g, n_d = model_sizes()
    rounds = 3
    run = run_spec(experiment({"name": "fedavg", "client_fraction": 0.5, "local_epochs": 1}, max_iterations=rounds))
    frame = run.engine.accountant.frame()
    m = 2  # max(floor(0.5 * 4), 1)
    # Each round each chosen client downloads and uploads 4(|G|+|D|) B.
    assert run.engine.accountant.bytes_by_kind() == {"params_d": rounds * m * 2 * 4 * n_d,
                                                     "params_g": rounds * m * 2 * 4 * n_g}
    down = frame[frame.src == "a/server"]
    up = frame[frame.dst == "a/server"]
    assert down.groupby("dst")["payload_nbytes"].sum().isin([k * 4 * (n_g + n_d) for k in range(1, 4)]).all()
    assert down.payload_nbytes.sum() == up.payload_nbytes.sum() == rounds * m * 4 * (n_g + n_d)


def test_fedsgd_bytes(experiment) -> None:
    n_g, n_d = model_sizes()
    rounds, m = 3, 2  # max(floor(0.5 * 4), 1)
    run = run_spec(experiment({"name": "fedsgd", "client_fraction": 0.5}, max_iterations=rounds))
    # Per chosen client per round: G and D down (4|G| + 4|D|), their gradients up (the same sizes).
    assert run.engine.accountant.bytes_by_kind() == {kind: rounds * m * 4 * n for kind, n in (
        ("params_g", n_g), ("params_d", n_d), ("grads_g", n_g), ("grads_d", n_d))}
    assert all(s.tasks == {"grad_step": s.tasks["grad_step"]} for n, s in run.engine.stats.items() if "/w" in n)
    assert sum(s.tasks.get("grad_step", 0) for s in run.engine.stats.values()) == rounds * m  # one gradient each


def test_fedsgd_bytes_with_batchnorm(experiment) -> None:
    config = model_config("dcgan", channels=8, latent_dim=16)
    g, d = build_models(config, (1, 8, 8), seed=0)
    n_g, n_d = (sum(p.numel() for p in net.parameters()) for net in (g, d))
    n_bn = sum(b.numel() for b in g.buffers() if b.is_floating_point())
    assert n_bn > 0
    run = run_spec(experiment({"name": "fedsgd"}, dataset={"name": "digits", "n": 200},
                              model={"name": "dcgan", "channels": 8, "latent_dim": 16}, max_iterations=1))
    # G's snapshot goes down with its BatchNorm statistics, which come back as g_buffers: 4|G_bn| each way.
    assert run.engine.accountant.bytes_by_kind() == {"params_g": 4 * 4 * (n_g + n_bn), "params_d": 4 * 4 * n_d,
                                                     "grads_g": 4 * 4 * n_g, "grads_d": 4 * 4 * n_d,
                                                     "g_buffers": 4 * 4 * n_bn}


def test_centralized_ships_exactly_the_remote_partitions(experiment) -> None:
    n_g, n_d = model_sizes()
    steps = 2
    run = run_spec(experiment({"name": "centralized", "server_at": "a"}, max_iterations=steps))
    data = load_dataset("ring8", n=400)
    parts = partition(data.y, 4, "iid", 0, groups=[0, 0, 1, 1])
    remote = np.concatenate(parts[2:])  # workers b/w0, b/w1
    expected_raw = data.x[remote].nbytes  # features only: the unconditional GAN never reads labels
    kinds = run.engine.accountant.bytes_by_kind()
    assert kinds["raw_data"] == expected_raw
    assert run.engine.accountant.bytes_by_kind(scope="wan") == {"raw_data": expected_raw}
    # Then data-parallel in DC a over the LAN: 2 central workers, per step 4(|G|+|D|) each way.
    assert (kinds["params_g"], kinds["grads_d"]) == (steps * 2 * 4 * n_g, steps * 2 * 4 * n_d)
