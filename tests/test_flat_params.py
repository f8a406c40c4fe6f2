"""The flat-vector helpers (testbed.gan.flat) and the PS worker step built on them equal the dict path to the bit.

Why: ``PsWorker.flat_grads`` no longer goes through ``unflatten`` + ``set_params`` and
``flatten(d_grads(...))``; the golden traffic test would not notice a value change (it hashes
bytes and times), so these tests compare values against the old path, kept here as the reference.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from testbed.gan import d_grads, flatten, g_grads, get_params, set_params, unflatten
from testbed.gan.flat import FlatLayout
from testbed.gan.steps import _grads_of
from testbed.methods.common.setup import NodeSetup
from testbed.methods.common.training import Training
from testbed.methods.ps.state import PsWorker


def setup_for(model: str, r1_gamma: float = 0.0) -> NodeSetup:
    dataset, overrides = {"mlp2d": ("ring8", (("depth", 2), ("hidden", 16))),
                          "dcgan": ("digits", (("channels", 8), ("latent_dim", 8)))}[model]
    return NodeSetup(dataset=dataset, partition="iid", num_workers=2, groups=(0, 0), model=model,
                     model_overrides=overrides, training=Training(batch_size=16, r1_gamma=r1_gamma), seed=3,
                     dataset_n=200)


def reference_flat_grads(worker: PsWorker, *segments: np.ndarray) -> list[np.ndarray]:
    """``PsWorker.flat_grads`` as it was before the flat helpers (commit 897b693)."""
    g_parts, d_parts = segments[0::2], segments[1::2]
    set_params(worker.state.G, unflatten(np.concatenate(g_parts), get_params(worker.state.G)))
    set_params(worker.state.D, unflatten(np.concatenate(d_parts), get_params(worker.state.D)))
    grad_d, _ = d_grads(worker.state, worker._batch(), r1_gamma=worker.setup.training.r1_gamma, generator=worker.gen)
    grad_g, _ = g_grads(worker.state, worker.setup.training.batch_size, worker.gen)
    flat_g, flat_d = flatten(grad_g), flatten(grad_d)
    out, g_at, d_at = [], 0, 0
    for g_part, d_part in zip(g_parts, d_parts, strict=True):
        out += [flat_g[g_at:g_at + len(g_part)], flat_d[d_at:d_at + len(d_part)]]
        g_at, d_at = g_at + len(g_part), d_at + len(d_part)
    return out


def cut(vector: np.ndarray, edges: list[int]) -> list[np.ndarray]:
    return [vector[lo:hi].copy() for lo, hi in zip([0, *edges], [*edges, len(vector)], strict=True)]


@pytest.mark.parametrize("model", ["mlp2d", "dcgan"])
def test_load_and_vector_equal_set_params_of_unflatten(model: str) -> None:
    state = setup_for(model).gan_state()
    rng = np.random.default_rng(0)
    for module in (state.G, state.D):
        layout = FlatLayout(module)
        assert layout.numel == sum(p.numel() for p in module.parameters())
        np.testing.assert_array_equal(layout.vector(), flatten(get_params(module)))
        target = rng.normal(size=layout.numel).astype(np.float32)
        reference = copy.deepcopy(module)
        set_params(reference, unflatten(target, get_params(reference)))
        layout.load(cut(target, [7, layout.numel // 2 + 3]))  # three pieces, cut inside parameters
        got, want = get_params(module), get_params(reference)
        assert all(np.array_equal(got[k], want[k]) for k in want)
        np.testing.assert_array_equal(layout.vector(), target)


def test_load_refuses_a_vector_of_the_wrong_size() -> None:
    layout = FlatLayout(nn.Linear(3, 2))
    with pytest.raises(ValueError, match="7 values, the module has 8"):
        layout.load([np.zeros(7, np.float32)])


def test_grad_vector_equals_flattened_grad_dict_including_unused_parameters() -> None:
    torch.manual_seed(0)
    module = nn.ModuleDict({"used": nn.Linear(4, 3), "unused": nn.Linear(2, 2)})
    x = torch.randn(5, 4)
    loss = module["used"](x).pow(2).mean()
    want = flatten(_grads_of(loss, module))
    loss = module["used"](x).pow(2).mean()
    got = FlatLayout(module).grad_vector(loss)
    assert got.dtype == np.float32 and got.flags.writeable
    np.testing.assert_array_equal(got, want)
    assert not got[-6:].any()  # the unused layer's weight and bias: zeros, as in the dict path


@pytest.mark.parametrize(("model", "r1_gamma", "edges"), [("mlp2d", 0.0, None), ("mlp2d", 1.0, "split"),
                                                           ("dcgan", 0.0, "split")])
def test_ps_worker_flat_grads_equal_the_dict_path_to_the_bit(model: str, r1_gamma: float, edges: str | None) -> None:
    setup = setup_for(model, r1_gamma)
    new, old = PsWorker(setup, 1), PsWorker(setup, 1)
    g0, d0 = flatten(get_params(new.state.G)), flatten(get_params(new.state.D))
    rng = np.random.default_rng(1)
    for step in range(3):
        g = g0 + step * 1e-3 * rng.normal(size=g0.size).astype(np.float32)
        d = d0 + step * 1e-3 * rng.normal(size=d0.size).astype(np.float32)
        if edges is None:  # one shard holding all of [G; D]
            segments = [g, d]
        else:  # two shards: the first holds part of G; the second the rest of G and all of D
            segments = [g[:g.size // 3], np.zeros(0, np.float32), g[g.size // 3:], d]
        got = new.flat_grads(*segments)
        want = reference_flat_grads(old, *segments)
        assert [a.shape for a in got] == [a.shape for a in want]
        assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
        assert all(a.dtype == np.float32 for a in got)
    assert new.layouts()[0] is new.layouts()[0]  # built once for the state


def test_ps_worker_layouts_follow_a_replaced_state() -> None:
    worker = PsWorker(setup_for("mlp2d"), 0)
    first = worker.layouts()
    worker._state = worker.setup.gan_state()
    assert worker.layouts()[0].module is worker.state.G and worker.layouts() is not first


def test_a_deep_copied_layout_loads_into_the_copied_module() -> None:
    module = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    holder = {"module": module, "layout": FlatLayout(module)}
    clone = copy.deepcopy(holder)
    target = np.arange(clone["layout"].numel, dtype=np.float32)
    clone["layout"].load([target])
    np.testing.assert_array_equal(flatten(get_params(clone["module"])), target)
    assert not np.array_equal(flatten(get_params(module)), target)  # the original is untouched


def test_batches_are_the_rows_plain_indexing_draws() -> None:
    worker = PsWorker(setup_for("dcgan"), 0)
    rng = copy.deepcopy(worker.rng)
    for _ in range(3):
        idx = rng.integers(0, worker.x.shape[0], size=min(16, worker.x.shape[0]))
        assert torch.equal(worker._batch(), torch.as_tensor(worker.x)[torch.as_tensor(idx)])
