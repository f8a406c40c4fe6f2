"""Deep Gradient Compression's pieces (Lin et al., ICLR 2018, section 3) and the ps's SGD shard optimiser.

Why: the top-k study compares sparsified gradients under the optimiser DGC was designed for, so each piece
must do what the paper says and nothing else: momentum correction with m = 0 is exactly plain error
feedback (bit-identical packets and residuals); with m = 0.9 it follows a three-step example worked out
by hand, momentum factor masking included; the sparsity warm-up's ratios are the paper's four stages,
and the bytes a ps run is charged under warm-up are the formula sum over messages of 8 ceil(r_m n),
message by message; ``shard_optimizer: sgd`` is torch's SGD(momentum) stepping with the lr the shard
reports (the lr probes read it back).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import tiny_experiment

from testbed.compression import parse_compression
from testbed.compression.endpoint import WireEndpoint
from testbed.compression.topk import TopK
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.gan import count_params

KEY = ("grads_g", "a/ps0")


def test_momentum_correction_zero_is_plain_error_feedback_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    plain, dgc = WireEndpoint(), WireEndpoint()
    for _ in range(6):
        g = rng.normal(size=300).astype(np.float32)
        a = plain.wire_compress(TopK(0.05, True), KEY, g)
        b = dgc.wire_compress(TopK(0.05, True, momentum_correction=0.0), KEY, g)
        assert a.parts.keys() == b.parts.keys()
        for name in a.parts:
            assert a.parts[name].tobytes() == b.parts[name].tobytes()
        assert plain.wire_residuals()[KEY].tobytes() == dgc.wire_residuals()[KEY].tobytes()
    assert set(dgc.wire_velocities()) == {KEY} and not plain.wire_velocities()


def test_momentum_correction_three_steps_by_hand() -> None:
    """m = 0.9, 4 entries, k = 1.  u <- m u + g; v <- v + u; send top-1(v); zero v and u there.
    1: g = (1, .6, 0, -.2): u = v = g; sends #0 = 1; v = u = (0, .6, 0, -.2).
    2: g = (.5, .1, .3, 0): u = (.5, .64, .3, -.18); v = (.5, 1.24, .3, -.38); sends #1 = 1.24;
       v = (.5, 0, .3, -.38), u = (.5, 0, .3, -.18).
    3: g = (0, 0, .2, -.5): u = (.45, 0, .47, -.662); v = (.95, 0, .77, -1.042); sends #3 = -1.042;
       v = (.95, 0, .77, 0), u = (.45, 0, .47, 0).
    (Without masking step 3's u would be (.45, .576, .47, -.662) and v = (.95, .576, .77, -1.042); plain
    error feedback would send #0 at step 2.)"""
    t = TopK(0.25, True, momentum_correction=0.9)
    sender = WireEndpoint()
    grads = [(1, .6, 0, -.2), (.5, .1, .3, 0), (0, 0, .2, -.5)]
    sent = [(0, 1.0), (1, 1.24), (3, -1.042)]
    residual = [(0, .6, 0, -.2), (.5, 0, .3, -.38), (.95, 0, .77, 0)]
    velocity = [(0, .6, 0, -.2), (.5, 0, .3, -.18), (.45, 0, .47, 0)]
    for g, (index, value), v, u in zip(grads, sent, residual, velocity, strict=True):
        packet = sender.wire_compress(t, KEY, np.array(g, dtype=np.float32))
        assert packet.parts["indices"].tolist() == [index]
        np.testing.assert_allclose(packet.parts["values"], [value], rtol=1e-6)
        np.testing.assert_allclose(sender.wire_residuals()[KEY], v, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(sender.wire_velocities()[KEY], u, rtol=1e-6, atol=1e-7)


def test_warmup_ratios_are_dgcs_four_stages_floored_at_the_ratio() -> None:
    t = TopK(0.01, True, warmup=300)
    assert [t.ratio_at(i) for i in (0, 74, 75, 149, 150, 224, 225, 299, 300, 10_000)] == \
        [0.25, 0.25, 0.0625, 0.0625, 0.015625, 0.015625, 0.01, 0.01, 0.01, 0.01]
    assert TopK(0.001, warmup=8).ratio_at(7) == 0.00390625 and TopK(0.5, warmup=8).ratio_at(0) == 0.5
    assert t.at_message(0) == TopK(0.25, True, warmup=0) and t.at_message(300) is t
    assert t.at_message(0).nbytes(1000) == 8 * 250 and t.at_message(299).nbytes(1000) == 8 * 10


def test_dgc_options_round_trip_and_leave_the_plain_config_as_it_was() -> None:
    kinds = grads = ("grads_g", "grads_d")
    spec = parse_compression({"grads_g": {"topk": {"ratio": 0.01, "momentum_correction": 0.9, "warmup": 300}},
                              "grads_d": {"topk": 0.01}}, "<t>", kinds, "ps", grads)
    assert spec.get("grads_g") == TopK(0.01, True, 0.9, 300)
    assert spec.to_dict() == {"grads_g": {"topk": {"ratio": 0.01, "error_feedback": True,
                                                   "momentum_correction": 0.9, "warmup": 300}},
                              "grads_d": {"topk": {"ratio": 0.01, "error_feedback": True}}}
    assert parse_compression(spec.to_dict(), "<t>", kinds, "ps", grads) == spec


def _run(algorithm: dict | str, compression: dict | None, iterations: int) -> Run:
    spec = tiny_experiment(algorithm, max_iterations=iterations,
                           network={"compression": compression} if compression else {})
    run = Run(load_experiment(spec), InProcessExecutor(), progress=False)
    run.execute()
    return run


def test_ps_warmup_bytes_follow_each_messages_ratio() -> None:
    """Warm-up over 4 messages, one per stage, then r: each worker's m-th push is 8 ceil(r_m n) bytes."""
    run = _run("ps", {"grads_g": {"topk": {"ratio": 0.001, "warmup": 4}},
                      "grads_d": {"topk": {"ratio": 0.05, "warmup": 8, "momentum_correction": 0.9}}}, 10)
    state = run.setup.gan_state("cpu")
    numel = {"grads_g": count_params(state.G), "grads_d": count_params(state.D)}
    ratios = {"grads_g": [0.25, 0.0625, 0.015625, 0.00390625] + [0.001] * 6,
              "grads_d": [0.25, 0.25, 0.0625, 0.0625, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05]}
    frame = run.engine.accountant.frame().sort_values("seq")
    workers = sorted(set(frame.src[frame.kind == "grads_g"]))
    assert len(workers) == 4
    for kind, n in numel.items():
        expected = [8 * math.ceil(r * n) for r in ratios[kind]]
        assert len(set(expected)) > 2  # the stages really differ in size
        for worker in workers:
            assert frame[(frame.kind == kind) & (frame.src == worker)].payload_nbytes.tolist() == expected
        assert frame[frame.kind == kind].payload_nbytes.sum() == len(workers) * sum(expected)


def test_ps_shard_sgd_with_momentum_steps_as_torch_sgd_and_reports_its_lr() -> None:
    run = _run({"name": "ps", "shard_optimizer": "sgd", "shard_momentum": 0.9}, None, 3)
    shard = run.executor.state(run.algorithm.shards[0].node)
    assert isinstance(shard.opt, torch.optim.SGD)
    assert all(g["momentum"] == 0.9 and not g["nesterov"] and g["dampening"] == 0 for g in shard.opt.param_groups)
    t = run.setup.training
    assert shard.current_lrs() == pytest.approx({"lr_g": t.lr_g * run.setup.lr_scale(3),
                                                 "lr_d": t.lr_d * run.setup.lr_scale(3)})
    assert run.metrics[-1]["lr_g"] == shard.current_lrs()["lr_g"]  # the probe reads the SGD optimiser back
    # one more step by hand: p <- p - lr (m b + g), b the momentum buffer
    g_seg, d_seg = shard.segments()
    buffers = [shard.opt.state[p]["momentum_buffer"].numpy().copy() for p in (shard.g, shard.d)]
    grads = [np.full_like(g_seg, 0.5), np.full_like(d_seg, -0.25)]
    lrs = [t.lr_g * run.setup.lr_scale(shard.version), t.lr_d * run.setup.lr_scale(shard.version)]
    shard.apply(*grads)
    for before, buf, grad, lr, after in zip((g_seg, d_seg), buffers, grads, lrs, shard.segments(), strict=True):
        np.testing.assert_allclose(after, before - lr * (0.9 * buf + grad), rtol=1e-6, atol=1e-8)


def test_ps_adam_default_is_unchanged() -> None:
    run = _run("ps", None, 1)
    shard = run.executor.state(run.algorithm.shards[0].node)
    assert isinstance(shard.opt, torch.optim.Adam)
    assert run.spec.resolved()["algorithm"]["shard_optimizer"] == "adam"
