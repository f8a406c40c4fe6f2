"""FedAvg's ``client_state``: a client continues its own Adam across rounds (keep) or starts fresh (reset).

Why: the shared scratch model pair means no client keeps a live optimiser, so ``keep`` stores Adam's
moments compactly (testbed.gan.moments) and loads them into the next round's fresh Adam.  That must
continue Adam to the bit: one FedAvg client that keeps its state over R rounds of s steps is exactly
one worker training R x s steps with one Adam (the same seeded weights, the same per-round streams);
with ``reset`` it is not.
"""

from __future__ import annotations

import numpy as np
import torch
from conftest import tiny_experiment
from fake_session import fake_method

from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.gan import generator_snapshot, get_params
from testbed.gan.moments import load_moments, save_moments
from testbed.methods.common.worker import GanWorker
from testbed.methods.fedavg.state import FedAvgClient, local_steps

ROUNDS, EPOCHS, BATCH = 3, 0.4, 16  # 80 samples a client / batch 16 = 5 batches an epoch: 2 steps a round


def _client_rounds(client_state: str) -> dict[str, np.ndarray]:
    """One client's G after ROUNDS rounds, each starting from its own last result (a lone client's average)."""
    _, session = fake_method({"name": "fedavg"})
    client = FedAvgClient(session.setup, 0, client_state=client_state)
    state = session.setup.gan_state("cpu")
    g, d = generator_snapshot(state.G), get_params(state.D)
    for round_id in range(ROUNDS):
        g, d = client.fedavg_round(g, d, EPOCHS, BATCH, 1.0, round_id)
    return g["params"]


def test_keep_continues_one_adam_across_rounds_to_the_bit() -> None:
    """A keep client's rounds equal one worker training on with one Adam, reseeded per round as FedAvg's
    client streams are (testbed.methods.fedavg.state.FedAvgClient.seed_round); a reset client's do not."""
    _, session = fake_method({"name": "fedavg"})
    worker = GanWorker(session.setup, 0)
    steps = local_steps(worker.num_samples(), EPOCHS, BATCH)
    for round_id in range(ROUNDS):
        FedAvgClient.seed_round(worker, round_id)  # type: ignore[arg-type]  (the same streams)
        worker.train_steps(steps, lr_factor=1.0)
    continuous, kept, reset = get_params(worker.state.G), _client_rounds("keep"), _client_rounds("reset")
    assert steps == 2 and continuous.keys() == kept.keys()
    assert all(np.array_equal(continuous[k], kept[k]) for k in continuous)  # bit for bit
    assert any(not np.array_equal(continuous[k], reset[k]) for k in continuous)  # a fresh Adam is another run


def test_a_keep_run_records_it_in_its_footing() -> None:
    spec = tiny_experiment({"name": "fedavg", "client_state": "keep", "client_fraction": 0.5}, max_iterations=3)
    run = Run(load_experiment(spec), InProcessExecutor(), progress=False)
    run.execute()
    assert run.iteration == 3 and run.algorithm.footing()["client_state"] == "keep"
    kept = [run.executor.state(w).moments for w in run.workers]
    assert any(m[0] is not None for m in kept)  # the chosen clients hold their moments between rounds


def test_saved_moments_continue_a_fresh_adam_to_the_bit() -> None:
    torch.manual_seed(0)
    net = torch.nn.Linear(5, 3)
    twin = torch.nn.Linear(5, 3)
    twin.load_state_dict(net.state_dict())
    live = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.5, 0.999))
    assert save_moments(live) is None  # nothing to keep before the first step
    kept = None
    for step in range(4):
        x = torch.randn(8, 5)
        for module in (net, twin):
            module.zero_grad()
            module(x).square().sum().backward()
        live.step()
        fresh = torch.optim.Adam(twin.parameters(), lr=1e-2, betas=(0.5, 0.999))  # what a round builds
        if kept is not None:
            load_moments(fresh, kept)
        fresh.step()
        kept = save_moments(fresh)
        assert kept.step == step + 1 and kept.nbytes == 2 * 4 * (5 * 3 + 3)
    for a, b in zip(net.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)
