"""``executors: {batch: true}`` (testbed.exec.batching, testbed.gan.batched): same results, same traffic.

Why: batching is only an optimisation.  K workers' vmapped GAN steps must leave every parameter,
BatchNorm buffer and Adam moment where the unbatched steps leave them (to float rounding), a run's
traffic log, virtual times and byte counts must be the golden ones exactly, and the grouping must
respect every dependency between calls.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch
from conftest import tiny_experiment
from test_golden_traffic import CASES, GOLDEN, traffic_hash

from testbed.exec.batching import MAX_GROUP, BatchingExecutor, plan_groups
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.launch import make_executor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.gan import flatten
from testbed.methods.common.setup import NodeSetup
from testbed.methods.common.training import Training
from testbed.methods.common.worker import GanWorker
from testbed.methods.ps.state import PsWorker

RTOL, ATOL = 1e-5, 1e-6


def _setup(model: str, workers: int, **training: Any) -> NodeSetup:
    dataset, overrides = {"mlp2d": ("ring8", (("depth", 2), ("hidden", 16))),
                          "dcgan": ("digits", (("channels", 8), ("latent_dim", 8)))}[model]
    return NodeSetup(dataset=dataset, partition="iid", num_workers=workers, groups=(0,) * workers, model=model,
                     model_overrides=overrides, training=Training(batch_size=16, **training), seed=3, dataset_n=400,
                     max_iterations=8)


def _train(executor: InProcessExecutor, setup: NodeSetup, workers: int, steps: int,
           ahead: int = 0) -> tuple[list[GanWorker], list]:
    """``steps`` rounds of one step at every worker, after ``ahead`` steps of worker 0 alone."""
    for i in range(workers):
        executor.host(f"w{i}", GanWorker, setup, i)
    for _ in range(ahead):
        executor.resolve(executor.call("w0", "train_steps", 1))
    handles: list = []
    for _ in range(steps):
        handles = [executor.call(f"w{i}", "train_steps", 1) for i in range(workers)]
    stats = [executor.resolve(h) for h in handles]
    return [executor.state(f"w{i}") for i in range(workers)], stats


def _tensors(worker: GanWorker) -> dict[str, torch.Tensor]:
    s = worker.state
    out = {f"G.{k}": v for k, v in s.G.state_dict().items()}  # parameters and BatchNorm buffers
    out.update({f"D.{k}": v for k, v in s.D.state_dict().items()})
    for name, opt in (("opt_g", s.opt_g), ("opt_d", s.opt_d)):
        for i, p in enumerate(opt.param_groups[0]["params"]):
            out.update({f"{name}.{i}.{k}": v for k, v in opt.state[p].items()})
    return out


@pytest.mark.parametrize(("model", "training", "ahead"), [
    ("mlp2d", {}, 0),
    ("dcgan", {}, 0),
    ("dcgan", {"update_order": "simultaneous", "r1_gamma": 1.0}, 0),
    ("mlp2d", {"r1_gamma": 0.5, "lr_final_fraction": 0.2}, 0),
    ("mlp2d", {"lr_final_fraction": 0.2}, 2),  # worker 0 ahead: per-worker Adam steps and rates
])
def test_batched_steps_equal_unbatched(model: str, training: dict[str, Any], ahead: int) -> None:
    setup = _setup(model, 3, **training)
    plain, plain_stats = _train(InProcessExecutor(), setup, 3, 4, ahead)
    executor = BatchingExecutor()
    batched, batched_stats = _train(executor, setup, 3, 4, ahead)
    assert executor.groups_run == [("train_steps", 3)] * 4  # really batched, not the one-by-one fallback
    for i, (a, b) in enumerate(zip(plain, batched, strict=True)):
        assert a.steps == b.steps == 4 + (ahead if i == 0 else 0)
        ta, tb = _tensors(a), _tensors(b)
        assert ta.keys() == tb.keys()
        if model == "dcgan":
            assert any("running_mean" in k for k in ta) and any("exp_avg_sq" in k for k in ta)
        for key in ta:
            torch.testing.assert_close(tb[key], ta[key], rtol=RTOL, atol=ATOL, msg=key)
        # the RNG streams advanced exactly as unbatched: the next draws are equal
        assert a.rng.integers(0, 2**31) == b.rng.integers(0, 2**31)
        assert torch.equal(torch.randn(3, generator=a.gen), torch.randn(3, generator=b.gen))
    for sa, sb in zip(plain_stats, batched_stats, strict=True):
        assert sa.keys() == sb.keys()
        np.testing.assert_allclose([sb[k] for k in sa], [sa[k] for k in sa], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(("model", "r1_gamma"), [("dcgan", 0.0), ("mlp2d", 0.5)])
def test_batched_ps_gradients_equal_unbatched(model: str, r1_gamma: float) -> None:
    setup = _setup(model, 3, r1_gamma=r1_gamma)
    results, workers = {}, {}
    for name, executor in (("plain", InProcessExecutor()), ("batched", BatchingExecutor())):
        for i in range(3):
            executor.host(f"w{i}", PsWorker, setup, i)
        g, d = flatten(executor.state("w0").get_g()), flatten(executor.state("w0").get_d())
        segments = [g[:7], d[:5], g[7:], d[5:]]  # two shards' key ranges
        for _ in range(3):  # three rounds: the BatchNorm statistics and RNG streams carry over
            handles = [executor.call(f"w{i}", "flat_grads", *segments) for i in range(3)]
        results[name] = [executor.resolve(h) for h in handles]
        workers[name] = [executor.state(f"w{i}") for i in range(3)]
        if name == "batched":
            assert executor.groups_run == [("flat_grads", 3)] * 3
    for plain, batched in zip(results["plain"], results["batched"], strict=True):
        assert [p.shape for p in plain] == [b.shape for b in batched]
        for p, b in zip(plain, batched, strict=True):
            np.testing.assert_allclose(b, p, rtol=RTOL, atol=ATOL)
    for a, b in zip(workers["plain"], workers["batched"], strict=True):
        for key, value in a.state.G.state_dict().items():  # BatchNorm statistics advanced alike
            torch.testing.assert_close(b.state.G.state_dict()[key], value, rtol=RTOL, atol=ATOL)


def test_unequal_batches_run_one_by_one() -> None:
    setup = _setup("mlp2d", 2)
    executor = BatchingExecutor()
    workers, _ = _train(executor, setup, 2, 1)
    workers[1].x = workers[1].x[:5]  # a shard smaller than the batch: batches of different sizes
    workers[1]._x_t = workers[1]._x_t[:5]
    executor.resolve([executor.call(f"w{i}", "train_steps", 1) for i in range(2)])
    assert executor.groups_run == [("train_steps", 2)] * 2 and workers[1].steps == 2


def test_batch_sizes_are_batched_size_by_size() -> None:
    setup = _setup("mlp2d", 4)
    results = {}
    for name, executor in (("plain", InProcessExecutor()), ("batched", BatchingExecutor())):
        for i in range(4):
            executor.host(f"w{i}", GanWorker, setup, i)
            if i % 2:  # workers 1 and 3: shards smaller than the batch
                worker = executor.state(f"w{i}")
                worker.x, worker._x_t = worker.x[:5], worker._x_t[:5]
        for _ in range(2):
            handles = [executor.call(f"w{i}", "train_steps", 1) for i in range(4)]
        results[name] = [executor.resolve(h) for h in handles], [executor.state(f"w{i}") for i in range(4)]
    for a, b in zip(results["plain"][1], results["batched"][1], strict=True):
        ta, tb = _tensors(a), _tensors(b)
        for key in ta:
            torch.testing.assert_close(tb[key], ta[key], rtol=RTOL, atol=ATOL, msg=key)
    for sa, sb in zip(results["plain"][0], results["batched"][0], strict=True):
        np.testing.assert_allclose([sb[k] for k in sa], [sa[k] for k in sa], rtol=RTOL, atol=ATOL)


class _Acc:
    """A toy state: a running sum with a batched ``add``."""

    def __init__(self) -> None:
        self.total = 0

    def add(self, x: int) -> int:
        self.total += x
        return self.total

    @classmethod
    def batched_add(cls, states: list[_Acc], calls: list[tuple[tuple, dict]]) -> list[int]:
        return [s.add(*args) for s, (args, _) in zip(states, calls, strict=True)]

    def get(self) -> int:
        return self.total


def test_grouping_respects_nodes_methods_and_dependencies() -> None:
    ex = BatchingExecutor()
    for n in "abc":
        ex.host(n, _Acc)
    h_a = ex.call("a", "add", 1)
    ex.call("b", "add", 2)
    ex.call("a", "add", 3)  # same node again: a new group
    dep = ex.call("c", "add", h_a)  # takes a value from the previous group: may join this one
    ex.call("b", "add", dep)  # takes the value of a call in this group: a new group
    ex.call("c", "get")
    ex.call("a", "add", 5)
    groups = plan_groups(list(ex._queue))
    assert [[c.node_id for c in g] for g in groups] == [["a", "b"], ["a", "c"], ["b"], ["c"], ["a"]]
    assert ex.resolve(dep) == 1
    assert [ex.state(n).total for n in "abc"] == [9, 3, 1]
    assert ex.groups_run == [("add", 2), ("add", 2)]

    for n in range(MAX_GROUP + 3):
        ex.host(f"n{n}", _Acc)
    ex.resolve([ex.call(f"n{n}", "add", 1) for n in range(MAX_GROUP + 3)])
    assert ex.groups_run[2:] == [("add", MAX_GROUP), ("add", 3)]  # long runs are cut into groups of MAX_GROUP


def test_flush_points_and_deferred_size_check() -> None:
    ex = BatchingExecutor()
    ex.host("a", _Acc)
    handle = ex.call("a", "add", 4)
    assert handle.call.values is None  # deferred
    assert ex.elapsed_s(handle) >= 0.0 and ex.resolve(handle) == 4
    ex.check_nbytes(ex.call("a", "add", 1), 999, "numbers")  # checked once computed
    with pytest.raises(ValueError, match="declared 999 B"):
        ex.barrier()


@pytest.mark.parametrize("name", ["local", "ps-bsp-2shards", "fedavg"])
def test_traffic_identical_with_batching(name: str) -> None:
    executor = BatchingExecutor()
    assert traffic_hash(CASES[name], executor) == json.loads(GOLDEN.read_text())[name]
    if name in ("local", "ps-bsp-2shards"):
        assert executor.groups_run, f"{name}'s worker steps should have been batched"


@pytest.mark.parametrize("algorithm", ["local", {"name": "gaia", "threshold": 0.01}])
def test_run_same_traffic_metrics_and_generators(algorithm: Any) -> None:
    """A whole run through the YAML key (the digits DCGAN's steps are compared above, without the
    digits classifier an evaluation needs); Gaia's traffic reads the weights, and still agrees."""
    spec = tiny_experiment(algorithm, max_iterations=6, eval_every=3)
    runs = {}
    for batch in (False, True):
        experiment = load_experiment({**spec, "executors": {"batch": batch}})
        executor = make_executor(experiment)
        assert isinstance(executor, BatchingExecutor) == batch
        runs[batch] = Run(experiment, executor, progress=False)
        runs[batch].execute()
    frames = [runs[b].engine.accountant.frame() for b in (False, True)]
    assert frames[0].equals(frames[1]) and runs[False].virtual_time_s == runs[True].virtual_time_s
    assert runs[True].executor.groups_run
    for plain, batched in zip(runs[False].metrics, runs[True].metrics, strict=True):  # quality scores too
        assert plain.keys() == batched.keys()
        for key, value in plain.items():
            if isinstance(value, float) and "wall" not in key and "cpu" not in key:
                assert batched[key] == pytest.approx(value, rel=1e-4, abs=1e-5, nan_ok=True), key
    for label, g in runs[False].generators.items():
        for key, value in g.items():
            torch.testing.assert_close(torch.as_tensor(runs[True].generators[label][key]), torch.as_tensor(value),
                                       rtol=RTOL, atol=ATOL, msg=f"{label}.{key}")


def test_fused_adam_declines_batching_and_stays_exact() -> None:
    """With ``training.fused_adam`` the stacked update (the default kernel's formula) would change the
    values, so the batched form is declined: every call runs one by one, equal to the bit."""
    setup = _setup("mlp2d", 3, fused_adam=True)
    plain, _ = _train(InProcessExecutor(), setup, 3, 2)
    executor = BatchingExecutor()
    batched, _ = _train(executor, setup, 3, 2)
    assert executor.groups_run == []  # no group ran batched (the same calls without fused_adam do)
    for a, b in zip(plain, batched, strict=True):
        assert a.state.opt_d.defaults["fused"] and b.state.opt_d.defaults["fused"]
        ta, tb = _tensors(a), _tensors(b)
        assert all(torch.equal(ta[key], tb[key]) for key in ta)
