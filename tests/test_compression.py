"""Compression transforms: exact byte formulas, round trips, error feedback, and the wire end to end.

Why: the bytes a compressed method is charged must be what would really be sent (values, indices,
scales) -- each transform's formula is checked here against numbers worked out by hand, and the
arrays it produces against the formula; the receiver must get a faithful dense tensor (error bounds);
and top-k's error feedback must deliver every entry eventually (the residual sums match).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import tiny_experiment
from fake_session import fake_method

from testbed.compression import CompressionSpec, parse_compression
from testbed.compression.endpoint import WireEndpoint
from testbed.compression.fp16 import Fp16
from testbed.compression.quantize import Quantize
from testbed.compression.topk import TopK
from testbed.compression.tree import flatten, unflatten
from testbed.core.finite import NonFiniteError
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.gan import count_params

RNG = np.random.default_rng(7)


def _parts_nbytes(transform, n: int) -> int:
    values = RNG.normal(size=n).astype(np.float32)
    return sum(part.nbytes for part in transform.encode(values, RNG).values())


# -- byte formulas, by hand -------------------------------------------------------------------------
@pytest.mark.parametrize(("transform", "n", "expected"), [
    (TopK(0.01), 1000, 80),        # k = 10: 10 int32 indices + 10 float32 values
    (TopK(0.07), 100, 56),         # k = 7 exactly (0.07 * 100 is 7.000000000000001 in floating point)
    (TopK(0.01), 1, 8),            # k = ceil(0.01) = 1
    (TopK(0.001), 1500, 16),       # k = ceil(1.5) = 2
    (TopK(1.0), 33, 264),          # everything: 33 * 8
    (Quantize(8), 1000, 1016),     # 1000 one-byte levels + 2 buckets x (min, max) float32
    (Quantize(3, bucket=4), 10, 28),   # ceil(30 / 8) = 4 B of levels + 3 buckets x 8 B
    (Quantize(1, bucket=512), 513, 81),  # ceil(513 / 8) = 65 + 2 x 8
    (Quantize(16, bucket=1), 5, 50),     # 10 B of levels + 5 x 8
    (Fp16(), 1000, 2000),
    (Fp16(), 3, 6),
])
def test_byte_formula_by_hand(transform, n: int, expected: int) -> None:
    assert transform.nbytes(n) == expected
    assert _parts_nbytes(transform, n) == expected  # the arrays produced are exactly that big


@pytest.mark.parametrize("transform", [TopK(0.013), TopK(0.5, error_feedback=False), Quantize(5, bucket=7),
                                       Quantize(8), Quantize(12, bucket=100), Fp16()])
@pytest.mark.parametrize("n", [1, 2, 7, 64, 511, 512, 513, 4097])
def test_encoded_size_equals_formula(transform, n: int) -> None:
    assert _parts_nbytes(transform, n) == transform.nbytes(n)


# -- round trips --------------------------------------------------------------------------------------
def test_fp16_error_bound_and_saturation() -> None:
    x = np.concatenate([RNG.normal(scale=3.0, size=5000), [1e-6, -7e-7, 0.0, 1e6, -1e9]]).astype(np.float32)
    t = Fp16()
    y = t.decode(t.encode(x), len(x))
    normal = np.abs(x) >= 2.0**-14
    inside = np.abs(x) <= 65504
    assert np.all(np.abs(y - x)[normal & inside] <= np.abs(x[normal & inside]) * 2.0**-11)
    assert np.all(np.abs(y - x)[~normal] <= 2.0**-25)
    assert np.all(np.isfinite(y)) and y[-2] == 65504 and y[-1] == -65504


@pytest.mark.parametrize(("bits", "bucket"), [(8, 512), (4, 100), (2, 3), (1, 1000)])
@pytest.mark.parametrize(("rounding", "levels"), [("nearest", 0.5), ("stochastic", 1.0)])
def test_quantize_error_bound_per_bucket(bits: int, bucket: int, rounding: str, levels: float) -> None:
    """Nearest: at most half a level; stochastic: less than one level."""
    x = (RNG.normal(size=2345) * np.repeat([0.01, 1.0, 100.0], 782)[:2345]).astype(np.float32)
    t = Quantize(bits, bucket, rounding)
    y = t.decode(t.encode(x, RNG), len(x))
    for start in range(0, len(x), bucket):
        chunk = x[start:start + bucket].astype(np.float64)
        bound = (chunk.max() - chunk.min()) / (2**bits - 1) * levels
        assert np.max(np.abs(y[start:start + bucket] - chunk)) <= bound * (1 + 1e-5) + 1e-6 * abs(chunk).max()


@pytest.mark.parametrize("rounding", ["nearest", "stochastic"])
def test_quantize_constant_bucket_is_exact(rounding: str) -> None:
    x = np.full(20, 0.25, dtype=np.float32)
    t = Quantize(4, bucket=8, rounding=rounding)
    assert np.array_equal(t.decode(t.encode(x, RNG), 20), x)


def test_stochastic_rounding_is_unbiased_over_many_sends_and_nearest_is_not() -> None:
    """QSGD's rounding: the mean error over many sends is zero within its sampling error.  The vector
    holds a coordinate that is always 0 between a bucket's extremes (the issue's -0.0007 per send)."""
    x = np.concatenate([[0.0], RNG.normal(size=63)]).astype(np.float32)
    sends = 4000
    for rounding, biased in (("stochastic", False), ("nearest", True)):
        sender, receiver = WireEndpoint(), WireEndpoint()
        t = Quantize(3, bucket=64, rounding=rounding)
        errors = np.stack([receiver.wire_decompress(sender.wire_compress(t, ("grads_g", "a/ps0"), x, seed=5))
                           for _ in range(sends)]).astype(np.float64) - x
        mean, sem = errors.mean(axis=0), errors.std(axis=0, ddof=1) / math.sqrt(sends)
        if biased:
            assert sem.max() == 0 and abs(mean[0]) > 0  # the same level every time: a fixed bias
        else:
            assert np.all(np.abs(mean) <= 4.5 * sem + 1e-12)  # zero within sampling error, every coordinate
            assert abs(errors[:, 0].sum()) < 4.5 * errors[:, 0].std() * math.sqrt(sends)


def test_topk_keeps_the_largest_entries() -> None:
    x = RNG.normal(size=1000).astype(np.float32)
    t = TopK(0.05)
    y = t.decode(t.encode(x), len(x))
    largest = np.argsort(-np.abs(x))[:50]
    assert set(np.flatnonzero(y)) == set(largest.tolist())
    assert np.array_equal(y[largest], x[largest])


def test_tree_round_trip_and_float32_only() -> None:
    payload = {"params": {"w": RNG.normal(size=(3, 2)).astype(np.float32), "b": np.ones(2, np.float32)},
               "buffers": {}, "more": [np.zeros(1, np.float32)]}
    flat, tree = flatten(payload)
    assert flat.shape == (9,)
    back = unflatten(flat, tree)
    assert np.array_equal(back["params"]["w"], payload["params"]["w"]) and back["buffers"] == {}
    assert isinstance(back["more"], list)
    with pytest.raises(TypeError, match="float32"):
        flatten({"y": np.zeros(3, dtype=np.int64)})


# -- error feedback -------------------------------------------------------------------------------------
def test_error_feedback_carries_the_residual_to_the_next_send() -> None:
    sender, receiver, t = WireEndpoint(), WireEndpoint(), TopK(0.1, error_feedback=True)
    xs = [RNG.normal(size=200).astype(np.float32) for _ in range(6)]
    first = receiver.wire_decompress(sender.wire_compress(t, ("grads_g", "a/ps0"), xs[0]))
    residual = sender.wire_residuals()[("grads_g", "a/ps0")]
    assert np.array_equal(residual + first, xs[0]) and np.count_nonzero(first) == 20
    second = receiver.wire_decompress(sender.wire_compress(t, ("grads_g", "a/ps0"), xs[1]))
    expected = xs[1] + residual  # the next send compresses x_2 + r_1
    keep = np.argsort(-np.abs(expected))[:20]
    assert set(np.flatnonzero(second)) == set(keep.tolist())
    delivered = first + second
    for x in xs[2:]:
        delivered = delivered + receiver.wire_decompress(sender.wire_compress(t, ("grads_g", "a/ps0"), x))
    # Everything sent so far plus what is still held equals everything the sender was given.
    np.testing.assert_allclose(delivered + sender.wire_residuals()[("grads_g", "a/ps0")], np.sum(xs, axis=0),
                               rtol=0, atol=1e-5)


def test_error_feedback_is_kept_per_kind_and_destination_and_can_be_off() -> None:
    sender = WireEndpoint()
    x = RNG.normal(size=50).astype(np.float32)
    sender.wire_compress(TopK(0.1, True), ("grads_g", "a/ps0"), x)
    sender.wire_compress(TopK(0.1, True), ("grads_g", "b/ps1"), 2 * x)
    sender.wire_compress(TopK(0.1, error_feedback=False), ("grads_d", "a/ps0"), x)
    assert set(sender.wire_residuals()) == {("grads_g", "a/ps0"), ("grads_g", "b/ps1")}
    with pytest.raises(ValueError, match="changed size"):
        sender.wire_compress(TopK(0.1, True), ("grads_g", "a/ps0"), x[:10])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("transform", [Fp16(), Quantize(8), TopK(0.5, False)])
def test_a_non_finite_message_is_refused_not_saturated_or_smeared(transform, bad: float) -> None:
    x = RNG.normal(size=40).astype(np.float32)
    x[7] = bad
    with pytest.raises(NonFiniteError, match="a grads_g message from a/w0 to a/ps0"):
        WireEndpoint().wire_compress(transform, ("grads_g", "a/ps0"), {"g": x}, sender="a/w0")


# -- YAML -------------------------------------------------------------------------------------------------
def test_parse_forms_and_resolved_round_trip() -> None:
    kinds, grads = ("grads_g", "grads_d", "params_d"), ("grads_g", "grads_d")
    spec = parse_compression({"grads_g": {"topk": 0.01}, "grads_d": {"quantize": {"bits": 4, "bucket": 64}},
                              "params_d": "fp16"}, "<t>", kinds, "ps", grads)
    assert spec.get("grads_g") == TopK(0.01, True) and spec.get("grads_d") == Quantize(4, 64, "stochastic")
    assert spec.get("params_d") == Fp16()
    assert parse_compression(spec.to_dict(), "<t>", kinds, "ps", grads) == spec
    assert not parse_compression(None, "<t>", kinds, "ps", grads) and not CompressionSpec()
    assert parse_compression({"grads_g": {"topk": {"ratio": 0.5, "error_feedback": False}}}, "<t>", kinds,
                             "ps", grads).get("grads_g") == TopK(0.5, False)
    # error feedback defaults on for gradient kinds only; quantize's rounding can be nearest
    assert parse_compression({"params_d": {"topk": 0.5}, "grads_d": {"quantize": {"bits": 2, "rounding": "nearest"}}},
                             "<t>", kinds, "ps", grads).by_kind == (("params_d", TopK(0.5, False)),
                                                                   ("grads_d", Quantize(2, 512, "nearest")))


# -- the wire, end to end -----------------------------------------------------------------------------------
def _ps_run(compression: dict | None) -> Run:
    spec = tiny_experiment("ps", max_iterations=4, network={"compression": compression} if compression else {})
    run = Run(load_experiment(spec), InProcessExecutor(), progress=False)
    run.execute()
    return run


def test_ps_with_top1_percent_gradients_logs_the_formula_and_trains() -> None:
    run = _ps_run({"grads_g": {"topk": 0.01}, "grads_d": {"topk": 0.01}})
    state = run.setup.gan_state("cpu")
    n_g, n_d = count_params(state.G), count_params(state.D)
    frame = run.engine.accountant.frame()
    workers, steps = 4, 4
    for kind, n in (("grads_g", n_g), ("grads_d", n_d)):
        sizes = frame[frame.kind == kind]["payload_nbytes"]
        assert len(sizes) == workers * steps
        assert set(sizes) == {8 * math.ceil(n / 100)}  # k = ceil(0.01 n) int32 indices + float32 values
    assert run.engine.accountant.bytes_by_kind()["params_g"] == workers * steps * 4 * n_g  # parameters uncompressed
    snapshot = run.executor.resolve(run.algorithm.generators()["ps"])
    g = np.concatenate(snapshot["segments"])
    initial = np.concatenate([p.detach().numpy().ravel() for p in state.G.parameters()])
    assert np.all(np.isfinite(g)) and not np.allclose(g, initial)  # it trained, and stayed finite
    assert np.isfinite(run.metrics[-1][run.headline])
    assert run.spec.resolved()["network"]["compression"]["grads_g"] == {"topk": {"ratio": 0.01, "error_feedback": True}}


def test_uncompressed_config_resolves_to_an_empty_block() -> None:
    spec = load_experiment(tiny_experiment("ps"))
    assert spec.compression == CompressionSpec() and spec.resolved()["network"]["compression"] == {}


FP16_CASES = {
    "ps": {"name": "ps", "servers": 2, "server_at": ["a", "c"]},
    "centralized": {"name": "centralized", "server_at": "b"},
    "fedavg": {"name": "fedavg", "client_fraction": 0.6},
    "fedsgd": {"name": "fedsgd", "client_fraction": 0.6},
    "mdgan": {"name": "mdgan", "server_at": "a", "swap_every_epochs": 1},
    "sqm": {"name": "sqm", "server_at": "c"},
    "hierfavg": {"name": "hierfavg", "edge_every": 2, "cloud_every": 2, "server_at": "b"},
    "streaming_diloco": {"name": "streaming_diloco", "inner_steps": 2, "fragments": 2, "overlap": 0},
}


@pytest.mark.parametrize("case", list(FP16_CASES))
def test_fp16_halves_every_compressed_kind_of_every_method(case: str) -> None:
    """Through the fake session (sizes declared, packets checked against the formula on every send)."""
    plain_method, plain = fake_method(FP16_CASES[case])
    plain_bytes = plain.drive(plain_method).accountant.bytes_by_kind()
    method, session = fake_method(FP16_CASES[case])
    spec = CompressionSpec(tuple((kind, Fp16()) for kind in method.compressible_kinds))
    engine = session.drive(method, compression=spec)
    halved = engine.accountant.bytes_by_kind()
    assert set(halved) == set(plain_bytes)
    for kind, nbytes in plain_bytes.items():
        assert halved[kind] == (nbytes // 2 if kind in method.compressible_kinds else nbytes), kind
    assert session.iteration == plain.iteration


def test_gaia_and_quantized_fedavg_run_through_the_wire() -> None:
    method, session = fake_method({"name": "gaia", "threshold": 0.05})
    engine = session.drive(method, compression=CompressionSpec((("grads_g", Quantize(8)), ("grads_d", Quantize(8)))))
    assert session.iteration == 3 and "significant_update" in engine.accountant.bytes_by_kind()
    method, session = fake_method({"name": "fedavg"})
    engine = session.drive(method, compression=CompressionSpec((("params_g", Quantize(8)), ("params_d", Fp16()))))
    n_g = count_params(session.setup.gan_state("cpu").G)
    sizes = engine.accountant.frame().query("kind == 'params_g'")["payload_nbytes"]
    assert set(sizes) == {n_g + 8 * math.ceil(n_g / 512)}  # mlp2d has no BatchNorm: n = |G|
    g = session.resolve(method.generators()["fedavg"])
    assert all(np.all(np.isfinite(v)) for v in g["params"].values())


def test_topk_of_everything_trains_exactly_as_uncompressed() -> None:
    """r = 1 sends every entry (8n bytes instead of 4n): under BSP the trained values must not change."""
    plain, full = _ps_run(None), _ps_run({"grads_g": {"topk": 1.0}, "grads_d": {"topk": 1.0}})
    assert full.engine.accountant.bytes_by_kind()["grads_g"] == 2 * plain.engine.accountant.bytes_by_kind()["grads_g"]
    a, b = plain.generators["ps"], full.generators["ps"]
    assert a and all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)


def test_a_diverged_gradient_stops_the_run_with_a_clear_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from testbed.methods.ps.state import PsWorker

    original, calls = PsWorker.flat_grads, []

    def diverging(self, *segments):
        grads = original(self, *segments)
        calls.append(1)
        if len(calls) > 8:  # from the third step on (4 workers), one gradient is NaN
            grads[0] = np.full_like(grads[0], np.nan)
        return grads

    monkeypatch.setattr(PsWorker, "flat_grads", diverging)
    run = _ps_run({"grads_g": "fp16"})
    assert run.stop_reason.startswith("diverged: a grads_g message from ") and " to a/ps0" in run.stop_reason
    assert run.iteration == 2


@pytest.mark.parametrize("case", ["fedbuff", "streaming_diloco"])
def test_error_feedback_on_pseudo_gradients_keeps_one_residual_per_vector(case: str) -> None:
    """FedBuff's client deltas and Streaming DiLoCo's outer gradients are pseudo-gradients (gradient_kinds):
    top-k defaults to error feedback there; every message is top-k's formula of its uncompressed size, and
    each sender keeps one residual per (kind, destination) -- per fragment too for outer_grad, whose fragments
    (of different sizes) interleave on one stream."""
    from testbed.methods.common.sizes import wire_sizes

    algorithm = {"fedbuff": {"name": "fedbuff", "concurrency": 3, "buffer": 2},
                 "streaming_diloco": {"name": "streaming_diloco", "inner_steps": 2, "fragments": 3, "overlap": 1}}
    method, session = fake_method(algorithm[case], budget=4)
    kinds = method.gradient_kinds
    spec = parse_compression({kind: {"topk": 0.25} for kind in kinds}, "<t>", method.compressible_kinds, case,
                             method.gradient_kinds, method.tagged_gradient_kinds)
    assert all(spec.get(kind).error_feedback for kind in kinds)
    engine = session.drive(method, compression=spec)
    frame = engine.accountant.frame()
    topk = spec.get(kinds[0])
    residuals = {w: session.executor.state(w).wire_residuals() for w in session.workers}
    if case == "fedbuff":
        sizes = wire_sizes(session.setup)
        numel = {"delta_g": sizes.g_snapshot_nbytes // 4, "delta_d": sizes.d_nbytes // 4}
        for kind in kinds:
            assert set(frame[frame.kind == kind].payload_nbytes) == {topk.nbytes(numel[kind])}, kind
        assert {key for r in residuals.values() for key in r} == {(k, method.plan.server) for k in kinds}
    else:
        layout = method.plan.layout
        assert spec.tagged == ("outer_grad",) and len({layout.numel(p) for p in range(3)}) > 1
        expected = sorted(topk.nbytes(layout.numel(p)) for p, n in method.plan.grads_sent.items() for _ in range(n))
        assert sorted(frame[frame.kind == "outer_grad"].payload_nbytes) == expected
        for worker, kept in residuals.items():
            assert set(kept) == {("outer_grad", method.plan.server, p) for p in range(3)}, worker
            assert all(kept[("outer_grad", method.plan.server, p)].size == layout.numel(p) for p in range(3))
    assert session.iteration == 4
