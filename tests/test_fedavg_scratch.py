"""FedAvg clients sharing one scratch G/D per process train exactly what a freshly built pair trains.

Why: ``FedAvgClient.fedavg_round`` no longer builds G, D and two Adams per client per round
(testbed.methods.fedavg.scratch); nothing in the golden traffic hashes sees values, so this
compares rounds of several clients, in turn, with the old path kept here as the reference --
including G's BatchNorm statistics and D's buffers, which the scratch pair must reset.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from testbed.gan import generator_snapshot, get_params, make_adam, set_buffers, set_params
from testbed.methods.common.setup import NodeSetup
from testbed.methods.common.training import Training
from testbed.methods.fedavg.scratch import ScratchModels
from testbed.methods.fedavg.state import FedAvgClient, local_steps


def setup_for(model: str) -> NodeSetup:
    dataset, overrides = {"mlp2d": ("ring8", (("depth", 2), ("hidden", 16))),
                          "dcgan": ("digits", (("channels", 8), ("latent_dim", 8)))}[model]
    return NodeSetup(dataset=dataset, partition="iid", num_workers=3, groups=(0, 0, 1), model=model,
                     model_overrides=overrides, training=Training(batch_size=16, lr_final_fraction=0.5),
                     seed=5, dataset_n=150, max_iterations=4)


def reference_round(client: FedAvgClient, g: dict, d: dict, epochs: float, batch_size: int,
                    lr_factor: float, round_id: int) -> tuple[dict, dict]:
    """``FedAvgClient.fedavg_round`` as it was before the scratch pair (commit 897b693), with the round's
    streams seeded as clients now seed them (from the run seed, the client and the round)."""
    client.seed_round(round_id)
    state = client._state = client.setup.gan_state()  # what the old code's ``self.state`` built afresh
    for module, values in ((state.G, g["params"]), (state.D, d)):
        set_params(module, values)
    set_buffers(state.G, g["buffers"])
    t = client.setup.training
    state.opt_g, state.opt_d = (make_adam(module, lr, (t.beta1, t.beta2))
                                for module, lr in ((state.G, t.lr_g), (state.D, t.lr_d)))
    client.train_steps(local_steps(client.num_samples(), epochs, batch_size), lr_factor=lr_factor)
    result = client.generator_snapshot(), client.get_d()
    client.last_lrs = {"lr_g": state.opt_g.param_groups[0]["lr"], "lr_d": state.opt_d.param_groups[0]["lr"]}
    client._state = None
    return result


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("model", ["mlp2d", "dcgan"])
def test_clients_sharing_the_scratch_pair_match_fresh_builds_to_the_bit(model: str) -> None:
    setup = setup_for(model)
    new = [FedAvgClient(setup, i) for i in range(3)]
    old = [copy.deepcopy(c) for c in new]  # same shards and RNG states
    initial = setup.gan_state()
    g, d = generator_snapshot(initial.G), get_params(initial.D)
    for round_ in range(2):
        outputs = []
        for new_c, old_c in zip(new, old, strict=True):  # clients in turn on the one scratch pair
            lr_factor = setup.lr_scale(round_)
            got = new_c.fedavg_round(g, d, 1.0, 16, lr_factor, round_)
            want = reference_round(old_c, g, d, 1.0, 16, lr_factor, round_)
            assert same(got[0]["params"], want[0]["params"]) and same(got[0]["buffers"], want[0]["buffers"])
            assert same(got[1], want[1])
            assert new_c.current_lrs() == old_c.last_lrs and new_c._state is None
            outputs.append(got)
        g, d = outputs[0]  # next round from one client's result (the average is not what is tested)
    if model == "dcgan":  # G's BatchNorm statistics did move, so the reset and the loading were exercised
        assert not same(g["buffers"], generator_snapshot(initial.G)["buffers"])


def test_reset_buffers_restores_every_buffer_of_a_fresh_build() -> None:
    setup = setup_for("dcgan")
    scratch = ScratchModels.of(setup, "cpu")
    assert ScratchModels.of(setup, "cpu") is scratch
    fresh = setup.gan_state()
    with torch.no_grad():
        for module in (scratch.state.G, scratch.state.D):
            for b in module.buffers():
                b.add_(3)  # includes BatchNorm's integer num_batches_tracked
    scratch.reset_buffers()
    for mine, theirs in ((scratch.state.G, fresh.G), (scratch.state.D, fresh.D)):
        pairs = list(zip(mine.buffers(), theirs.buffers(), strict=True))
        assert all(torch.equal(a, b) for a, b in pairs)
    assert len(list(scratch.state.G.buffers())) == 6  # dcgan's G: two BatchNorms' mean, var, count


def test_another_setup_gets_its_own_pair() -> None:
    first = ScratchModels.of(setup_for("mlp2d"), "cpu")
    second = ScratchModels.of(setup_for("dcgan"), "cpu")
    assert second is not first and ScratchModels.of(setup_for("dcgan"), "cpu") is second
