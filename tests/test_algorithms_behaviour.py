"""Methods react to the network and to heterogeneity in the right direction, with exact numbers."""

from __future__ import annotations

import pytest
from conftest import tiny_topology

from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.models import build_models, model_config


def run_spec(spec_dict: dict) -> Run:
    run = Run(load_experiment(spec_dict), InProcessExecutor(), progress=False)
    run.execute()
    return run


def test_ps_sequential_waits_for_the_slow_worker_eventual_does_not(experiment) -> None:
    topo = tiny_topology(workers=(4,), speeds={"a": [1.0, 1.0, 1.0, 0.25]})
    costs = {"grad_step": "1s", "server_update": 0}
    seq = run_spec(experiment({"name": "ps"}, topology=topo, max_iterations=5,
                              compute={"model": "fixed", "costs": costs}))
    # BSP: every step waits for the 0.25-speed worker: 1 s / 0.25 = 4 s (+ microseconds of LAN).
    assert seq.virtual_time_s / 5 == pytest.approx(4.0, rel=1e-3)
    eventual = run_spec(experiment({"name": "ps", "consistency": "eventual"}, topology=topo, max_iterations=20,
                                   compute={"model": "fixed", "costs": costs}))
    # Async: 3 fast workers give ~3 updates/s, the slow one 0.25/s -> 20 updates in ~20 / 3.25 s.
    assert eventual.virtual_time_s == pytest.approx(20 / 3.25, rel=0.15)
    assert eventual.virtual_time_s < 0.5 * 20 / 4 * 4.0


def test_fedavg_slower_wan_adds_exactly_the_transfer_time(experiment) -> None:
    g, d = build_models(model_config("mlp2d", hidden=16, depth=2), (2,), seed=0)
    n_params = sum(p.numel() for p in g.parameters()) + sum(p.numel() for p in d.parameters())
    rounds, header = 3, 64
    times = {}
    for bw in ("100Mbps", "10Mbps"):
        topo = tiny_topology(workers=(1, 2), wan_bandwidth=bw, latency="0ms")
        times[bw] = run_spec(experiment({"name": "fedavg", "server_at": "a"}, topology=topo,
                                        max_iterations=rounds)).virtual_time_s
    # Per round, the 2 clients in b get G and D (2 messages each) over a->b, then send both back
    # over b->a: 2 x 2 x (4|G|+4|D| + 2 headers) B across the WAN, at 10 vs 100 Mbit/s.
    wan_bits_per_round = 2 * 2 * (4 * n_params + 2 * header) * 8
    expected = rounds * wan_bits_per_round * (1 / 10e6 - 1 / 100e6)
    assert times["10Mbps"] - times["100Mbps"] == pytest.approx(expected, rel=1e-6)


def test_stop_on_virtual_time_and_bytes(experiment) -> None:
    run = run_spec(experiment({"name": "ps"}, max_iterations=None, max_virtual_time="0.5s"))
    assert run.stop_reason == "max_virtual_time" and run.virtual_time_s == pytest.approx(0.5)
    run = run_spec(experiment({"name": "fedavg"}, max_iterations=None, max_bytes="20KB"))
    assert run.stop_reason == "max_bytes" and run.engine.accountant.total_nbytes >= 20e3


def test_learning_rate_decays_linearly_over_the_iteration_budget(experiment) -> None:
    spec = load_experiment(experiment("local", max_iterations=4, training={"batch_size": 16, "lr_g": 1e-3,
                                                                            "lr_d": 2e-3, "lr_final_fraction": 0.25}))
    run = Run(spec, InProcessExecutor(), progress=False)
    run.execute()
    worker = run.executor.state(run.workers[0])
    # After 4 steps the last step ran at factor 1 - 0.75 * 3/4 = 0.4375 of the base rates.
    assert worker.state.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.4375)
    assert worker.state.opt_d.param_groups[0]["lr"] == pytest.approx(2e-3 * 0.4375)
    assert run.setup.lr_scale(4) == pytest.approx(0.25) and run.setup.lr_scale(10) == pytest.approx(0.25)
