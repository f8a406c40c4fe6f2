"""MD-GAN: exact bytes per iteration and per swap, O(bdN) server traffic, swaps, the G update, bad params.

Expected numbers are computed here from the model sizes, the partition and the
design's formulas (2*b*d floats down, b*d up per worker per iteration, |D| per
worker per swap, swaps every ceil(m*E/b) iterations), independently of the code.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from conftest import tiny_topology

from testbed.core.errors import ConfigError
from testbed.data import load_dataset
from testbed.data.partition import partition
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import Training, load_experiment
from testbed.gan import apply_feedback, get_params
from testbed.methods.common.setup import NodeSetup
from testbed.methods.mdgan.state import MdganServer
from testbed.models import build_models, model_config

COSTS = {"mdgan_generate": "1ms", "mdgan_d_step": "10ms", "mdgan_feedback": "2ms", "mdgan_backprop": "3ms"}
D_FLOATS = 2  # ring8 samples are 2-D points


def run_mdgan(experiment, params: dict, **overrides) -> Run:
    spec = experiment({"name": "mdgan", **params}, compute={"model": "fixed", "costs": COSTS}, **overrides)
    run = Run(load_experiment(spec), InProcessExecutor(), progress=False)
    run.execute()
    return run


def d_size() -> int:
    _, d = build_models(model_config("mlp2d", hidden=16, depth=2), (2,), seed=0)
    return sum(p.numel() for p in d.parameters())


def test_bytes_per_iteration_and_per_swap(experiment) -> None:
    iterations, workers, b, steps = 9, 4, 16, 2
    run = run_mdgan(experiment, {"swap_every_epochs": 0.5, "disc_steps": steps}, max_iterations=iterations)
    # Swap schedule, independently: iid ring8 (400 samples) over 4 workers -> m = 100 each;
    # every ceil(100 * 0.5 / 16) = 4 iterations -> swaps after iterations 4 and 8.
    sizes = [len(p) for p in partition(load_dataset("ring8", n=400).y, 4, "iid", 0, groups=[0, 0, 1, 1])]
    period = math.ceil(np.mean(sizes) * 0.5 / b)
    swaps = iterations // period
    assert (period, swaps) == (4, 2)
    acc = run.engine.accountant
    assert acc.bytes_by_kind() == {"samples": iterations * workers * 2 * b * D_FLOATS * 4,
                                   "feedback": iterations * workers * b * D_FLOATS * 4,
                                   "swap_d": swaps * workers * 4 * d_size()}
    frame = acc.frame()
    samples, feedback = frame[frame.kind == "samples"], frame[frame.kind == "feedback"]
    assert samples.groupby("dst").payload_nbytes.sum().to_dict() == {
        w: iterations * 2 * b * D_FLOATS * 4 for w in run.workers}
    assert set(samples.payload_nbytes) == set(feedback.payload_nbytes) == {b * D_FLOATS * 4}
    assert feedback.groupby("src").payload_nbytes.sum().to_dict() == {
        w: iterations * b * D_FLOATS * 4 for w in run.workers}
    swap = frame[frame.kind == "swap_d"]
    assert (swap.src != swap.dst).all()  # a derangement: nobody keeps its own D
    assert swap.src.value_counts().to_dict() == swap.dst.value_counts().to_dict() == dict.fromkeys(run.workers, 2)
    # L D-steps (not L+1) and one feedback per iteration; K = max(ceil(ln 4), 2) = 2 batches generated.
    assert run.engine.stats["a/w0"].tasks == {"mdgan_d_step": steps * iterations, "mdgan_feedback": iterations}
    assert run.engine.stats["a/server"].tasks["mdgan_generate"] == 2 * iterations
    assert run.iteration == iterations


def test_server_traffic_is_linear_in_b_and_n(experiment) -> None:
    per_iteration = {}
    iterations = 3
    for n, topology in ((2, tiny_topology((1, 1))), (4, tiny_topology((2, 2)))):
        for b in (8, 16):
            run = run_mdgan(experiment, {"batch_size": b, "swap_every_epochs": 0}, topology=topology,
                            max_iterations=iterations)
            frame = run.engine.accountant.frame()
            at_server = frame[(frame.src == "a/server") | (frame.dst == "a/server")]
            per_iteration[n, b] = at_server.payload_nbytes.sum() / iterations
    # 2*b*d floats down + b*d up per worker: 3*b*d*4*N bytes per iteration, the paper's O(bdN).
    assert per_iteration == {(n, b): 3 * b * D_FLOATS * 4 * n for n in (2, 4) for b in (8, 16)}
    assert per_iteration[4, 8] == 2 * per_iteration[2, 8] and per_iteration[2, 16] == 2 * per_iteration[2, 8]


def test_swap_hands_each_worker_its_peers_discriminator(experiment) -> None:
    # Stop right after the first swap (iteration 4): up to then both runs are identical.
    swapped = run_mdgan(experiment, {"swap_every_epochs": 0.5}, max_iterations=4)
    kept = run_mdgan(experiment, {"swap_every_epochs": 0}, max_iterations=4)
    frame = swapped.engine.accountant.frame()
    moves = frame[frame.kind == "swap_d"]
    assert len(moves) == 4
    for src, dst in zip(moves.src, moves.dst, strict=True):
        received = swapped.executor.state(dst).state
        before = get_params(kept.executor.state(src).state.D)
        after = get_params(received.D)
        assert all(np.array_equal(before[k], after[k]) for k in before)
        assert received.opt_d.state == {}  # Adam state reset on swap
    assert kept.engine.accountant.bytes_by_kind().get("swap_d") is None


def test_swap_optimizer_carry_ships_and_continues_adams_moments(experiment) -> None:
    # swap_optimizer: carry -- the swap is 12|D| B (D and Adam's two moments) and the receiver continues
    # the sender's moments; stopped right after the first swap (iteration 4), as above.
    carried = run_mdgan(experiment, {"swap_every_epochs": 0.5, "swap_optimizer": "carry"}, max_iterations=4)
    kept = run_mdgan(experiment, {"swap_every_epochs": 0}, max_iterations=4)
    frame = carried.engine.accountant.frame()
    moves = frame[frame.kind == "swap_d"]
    assert len(moves) == 4
    assert (moves.payload_nbytes == 3 * 4 * d_size()).all()
    for src, dst in zip(moves.src, moves.dst, strict=True):
        sender = kept.executor.state(src).state
        received = carried.executor.state(dst).state
        for (name, p_sent), p_got in zip(sender.D.named_parameters(), received.D.parameters(), strict=True):
            assert np.array_equal(p_sent.detach().numpy(), p_got.detach().numpy()), name
            for key in ("exp_avg", "exp_avg_sq", "step"):
                assert np.array_equal(sender.opt_d.state[p_sent][key].numpy(), received.opt_d.state[p_got][key].numpy())


def test_server_update_sums_feedback_per_batch_then_averages() -> None:
    setup = NodeSetup(dataset="ring8", partition="iid", num_workers=1, groups=(0,), model="mlp2d",
                      model_overrides=(("depth", 2), ("hidden", 16)), training=Training(), seed=0, dataset_n=400)
    server = MdganServer(setup, batch_size=8)
    server.generate(3)
    reference = copy.deepcopy(server)
    rng = np.random.default_rng(1)
    feedbacks = [rng.normal(size=(8, 2)).astype(np.float32) for _ in range(3)]
    assert server.apply([1, 1, 2], *feedbacks) == 2  # two distinct batches back-propagated
    # Reference: one backward per feedback, each with its own latents, averaged over N = 3.
    apply_feedback((reference.G, reference.opt_g), [reference._z[1], reference._z[1], reference._z[2]], feedbacks)
    got, want = get_params(server.G), get_params(reference.G)
    assert all(np.allclose(got[k], want[k], atol=1e-7) for k in want)
    initial = get_params(MdganServer(setup, 8).G)
    assert any(not np.allclose(got[k], initial[k]) for k in got)  # G did take a step


@pytest.mark.parametrize(("params", "field"), [
    ({"k": 5}, "algorithm.k"),            # N = 4 workers
    ({"k": -1}, "algorithm.k"),
    ({"disc_steps": 0}, "algorithm.disc_steps"),
    ({"swap_every": 1}, "algorithm.swap_every"),
    ({"server_at": "mars"}, "algorithm.server_at"),
    ({"swap_every_epochs": -1}, "algorithm.swap_every_epochs"),
    ({"swap_optimizer": "keep"}, "algorithm.swap_optimizer"),
])
def test_bad_params_name_the_field(experiment, params: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_experiment(experiment({"name": "mdgan", **params}))
    assert err.value.field == field


def test_default_k_is_ceil_natural_log() -> None:
    from testbed.methods.mdgan import default_k

    assert [default_k(n) for n in (1, 2, 3, 4, 12, 100)] == [1, 1, 2, 2, 3, 5]
