"""The emulation's cheaper paths (issue 27 item 3) give the old paths' values to the bit.

Why: the golden traffic file hashes bytes and times, not values, so a faster path that changed a
gradient's last bit would pass it.  Each fast path is compared here with the code it replaced, kept
as the reference: local batches drawn several at a time, the shard's in-place mean, parameters
written through numpy, the finite check done once per handle, and the node clock's lookups kept
for listed nodes only.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from testbed.core.finite import NonFiniteError
from testbed.core.payload import payload_nbytes
from testbed.exec.executor import InProcessExecutor, LocalHandle
from testbed.gan import d_step, g_step, get_params, set_params
from testbed.methods.common.setup import NodeSetup, scale_lr
from testbed.methods.common.training import Training
from testbed.methods.common.worker import BATCHES_AT_ONCE, GanWorker
from testbed.methods.ps.state import ParamShard
from testbed.sim.node_clock import NodeClock
from testbed.topology.schema import load_topology


def setup_for(batch_size: int) -> NodeSetup:
    return NodeSetup(dataset="ring8", partition="iid", num_workers=3, groups=(0, 0, 1), model="mlp2d",
                     model_overrides=(("depth", 2), ("hidden", 16)), training=Training(batch_size=batch_size),
                     seed=7, dataset_n=150, max_iterations=4)


def reference_batch(worker: GanWorker, batch_size: int | None = None) -> torch.Tensor:
    """``GanWorker._batch`` as it was: one ``integers`` call per batch, nothing drawn ahead."""
    b = batch_size or worker.setup.training.batch_size
    idx = worker.rng.integers(0, worker.x.shape[0], size=min(b, worker.x.shape[0]))
    return torch.index_select(worker._x_t, 0, torch.as_tensor(idx))


def reference_train_steps(worker: GanWorker, steps: int) -> None:
    """``GanWorker.train_steps`` (alternating) as it was: one batch drawn per step."""
    t = worker.setup.training
    for _ in range(steps):
        factor = worker.setup.lr_scale(worker.steps)
        scale_lr(worker.state.opt_d, [t.lr_d], factor)
        scale_lr(worker.state.opt_g, [t.lr_g], factor)
        worker.steps += 1
        d_step(worker.state, reference_batch(worker), r1_gamma=t.r1_gamma, generator=worker.gen)
        g_step(worker.state, t.batch_size, worker.gen)


@pytest.mark.parametrize("batch_size", [16, 64])  # 64: larger than the 50-sample shard
def test_batches_drawn_several_at_a_time_train_exactly_as_one_at_a_time(batch_size: int) -> None:
    steps = BATCHES_AT_ONCE + 5  # two draws, the second a partial one
    fast, slow = GanWorker(setup_for(batch_size), 1), GanWorker(setup_for(batch_size), 1)
    fast.train_steps(steps)
    reference_train_steps(slow, steps)
    for net in ("G", "D"):
        got, want = get_params(getattr(fast.state, net)), get_params(getattr(slow.state, net))
        assert all(np.array_equal(got[k].view(np.uint32), want[k].view(np.uint32)) for k in want)
    for size in (None, 5, None, 3):  # then batches one at a time: still the same stream
        assert torch.equal(fast._batch(size), reference_batch(slow, size))
    assert fast.rng.bit_generator.state == slow.rng.bit_generator.state  # nothing drawn ahead


def test_the_shards_mean_is_numpys_mean_of_the_stack_to_the_bit() -> None:
    setup = setup_for(16)
    n = sum(p.numel() for p in setup.gan_state().G.parameters()) + sum(
        p.numel() for p in setup.gan_state().D.parameters())
    shard = ParamShard(setup, 0, n)
    rng = np.random.default_rng(0)
    g_len, d_len = shard.g.numel(), shard.d.numel()
    pushes = []
    for k in range(5):
        g = (rng.standard_normal(g_len) * 10.0 ** rng.integers(-20, 20)).astype(np.float32)
        d = rng.standard_normal(d_len).astype(np.float32)
        g[::7] = -0.0  # signed zeros: numpy's mean starts from +0.0
        d[::5] = -d[::5] if k % 2 else d[::5]  # terms that cancel exactly
        pushes += [g, d]
    shard.apply(*pushes)
    for param, grads in ((shard.g, pushes[0::2]), (shard.d, pushes[1::2])):
        want = np.mean(np.stack(grads), axis=0)
        assert np.array_equal(param.grad.numpy().view(np.uint32), want.view(np.uint32))


def test_set_and_get_params_through_numpy_equal_copy_and_are_seen_by_autograd() -> None:
    module, reference = torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)
    values = {k: np.random.default_rng(1).standard_normal(v.shape).astype(np.float32)
              for k, v in get_params(module).items()}
    values["bias"][0] = -0.0
    set_params(module, values)
    with torch.no_grad():
        for name, p in reference.named_parameters():
            p.copy_(torch.as_tensor(values[name]))
    for name, p in module.named_parameters():
        assert np.array_equal(p.detach().numpy().view(np.uint32), values[name].view(np.uint32))
    copied = get_params(module)  # a copy, not a view of the parameters
    assert all(np.array_equal(copied[k].view(np.uint32), values[k].view(np.uint32)) for k in values)
    copied["bias"][1] = 42.0
    assert module.bias[1].item() != 42.0
    loss = (module.weight ** 2).sum()  # saves the weight for backward
    set_params(module, values)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


class _Node:
    def __init__(self) -> None:
        self.value = {"w": np.ones(4, np.float32)}

    def read(self) -> dict[str, np.ndarray]:
        return self.value


def test_a_handle_is_sized_and_checked_once_and_a_nan_is_still_refused() -> None:
    executor = InProcessExecutor()
    executor.host("a/w0", _Node)
    handle = executor.call("a/w0", "read")
    assert isinstance(handle, LocalHandle) and handle.finite  # a dict of arrays: checked when its call returned
    executor.check_finite(handle, "params", "a/w0", "b/w0")
    assert handle.finite and executor.known_nbytes(handle) == payload_nbytes(handle.value) == handle.nbytes == 16
    executor.check_finite(handle, "params", "a/w0", "b/w1")  # sent again: not looked at again
    executor.state("a/w0").value = {"w": np.array([1.0, np.nan], np.float32)}
    with pytest.raises(NonFiniteError, match="a params message from a/w0 to b/w0"):
        executor.check_finite(executor.call("a/w0", "read"), "params", "a/w0", "b/w0")


class _ArrayNode:
    def __init__(self) -> None:
        self.value = np.ones(4, np.float32)

    def read(self) -> np.ndarray:
        return self.value


def test_an_array_result_is_checked_when_computed_and_a_nan_is_refused_at_its_send() -> None:
    executor = InProcessExecutor()
    executor.host("a/w0", _ArrayNode)
    handle = executor.call("a/w0", "read")
    assert handle.finite  # looked at once, when the call returned
    executor.check_finite(handle, "grads_g", "a/w0", "b/w0")
    executor.state("a/w0").value = np.array([1.0, np.inf], np.float32)
    bad = executor.call("a/w0", "read")  # computed: not refused yet (it may never be sent)
    assert not bad.finite
    with pytest.raises(NonFiniteError, match=r"^a grads_g message from a/w0 to b/w0$"):
        executor.check_finite(bad, "grads_g", "a/w0", "b/w0")
    executor.state("a/w0").value = {"params": {"w": np.ones(2, np.float32)}, "buffers": {"b": np.zeros(1)}}
    assert executor.call("a/w0", "read").finite  # a model snapshot: dicts of arrays
    executor.state("a/w0").value = {"params": {"w": np.array([np.nan], np.float32)}}
    with pytest.raises(NonFiniteError, match=r"^a params_g message from a/w0 to b/w0 \(params/w\)$"):
        executor.check_finite(executor.call("a/w0", "read"), "params_g", "a/w0", "b/w0")
    executor.state("a/w0").value = {"lr": 0.1}
    assert not executor.call("a/w0", "read").finite  # not arrays: looked at when sent, as before


def test_the_node_clock_keeps_listed_nodes_lookups_and_never_a_clients() -> None:
    topology = load_topology({"name": "edge", "lan": {"bandwidth": "1Gbps", "latency": "0.1ms"},
                              "datacenters": {"agg": {"workers": 2, "device": {"speed": 2.0}},
                                              "edge": {"workers": {"count": 1000}, "device": {"speed": 0.5}}},
                              "links": [{"between": ["agg", "edge"], "bandwidth": "1Gbps", "latency": "20ms"}]})
    clock = NodeClock(topology, seed=0)
    for node in ("agg/w1", "agg/server", "edge/w7", "agg/w1", "edge/w7"):
        assert clock.dynamics(node) is topology.dynamics_of(node)
        assert clock.speed(node) == topology.speed_of(node)
        assert clock.available(node, 1.0) and clock.crash_time_s(node) == np.inf
    assert set(clock._dynamics) == set(clock._speeds) == {"agg/w1", "agg/server"}
    assert set(clock._toggles) == {"agg/w1", "agg/server"}  # remembered as always up; the client is not
