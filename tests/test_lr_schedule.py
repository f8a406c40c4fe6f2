"""One learning-rate schedule for every optimiser of every method, read back from the optimisers.

``metrics.csv``'s ``lr_g`` / ``lr_d`` are the rates the optimisers hold at each evaluation (a
second path to the schedule, which lives in NodeSetup.lr_scale).  At the end of a run of T
iterations with ``lr_final_fraction`` f, the last update ran at 1 - (1 - f)(T - 1)/T of the base
rate: within one iteration's step, (1 - f)/T, of lr x f.  Also: the parameter server's byte
formula holds for any number of shards (no shard answers pulls for a step past the budget).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_topology

from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.models import build_models, model_config

T, F, LR_G, LR_D = 12, 0.1, 1e-3, 2e-3

CASES = [
    "local",
    {"name": "centralized", "server_at": "a"},
    {"name": "ps", "consistency": "sequential"},
    {"name": "ps", "consistency": "bounded_delay", "tau": 1},
    {"name": "ps", "consistency": "eventual"},
    {"name": "ps", "servers": 2, "server_at": ["a", "b"]},
    {"name": "fedavg", "client_fraction": 0.5},
    {"name": "gaia", "consistency": "sequential"},
    {"name": "gaia", "consistency": "bounded_delay", "tau": 1},
    {"name": "mdgan", "server_at": "a"},
    {"name": "sqm", "server_at": "a"},
]


def label(case: dict | str) -> str:
    return case if isinstance(case, str) else "-".join(str(v) for k, v in case.items() if k in ("name", "consistency",
                                                                                                "servers"))


@pytest.mark.parametrize("algorithm", CASES, ids=label)
def test_final_rates_in_the_optimisers_are_lr_times_the_final_fraction(experiment, algorithm) -> None:
    spec = load_experiment(experiment(algorithm, max_iterations=T, eval_every=4, training={
        "batch_size": 16, "lr_g": LR_G, "lr_d": LR_D, "lr_final_fraction": F},
        compute={"model": "fixed", "default": "2ms"}))
    run = Run(spec, InProcessExecutor(), progress=False)
    run.execute()
    rows = run.metrics
    assert run.iteration == T and rows[-1]["iteration"] == T
    step = (1 - F) / T
    for key, base in (("lr_g", LR_G), ("lr_d", LR_D)):
        final = rows[-1][key]
        assert base * F <= final + 1e-15 and final <= base * (F + step) + 1e-15, (key, final)
        assert final == pytest.approx(base * (1 - (1 - F) * (T - 1) / T), rel=1e-6)
        # mid-run the rate is the schedule's at that iteration (again within one step)
        mid = next(r for r in rows if r["iteration"] == 8)
        assert base * (1 - (1 - F) * 8 / T) <= mid[key] + 1e-15 <= base * (1 - (1 - F) * 7 / T) + 2e-15


def test_ps_bytes_equal_the_formula_for_several_shards() -> None:
    from conftest import tiny_experiment

    g, d = build_models(model_config("mlp2d", hidden=16, depth=2), (2,), seed=0)
    n_g, n_d = (sum(p.numel() for p in m.parameters()) for m in (g, d))
    steps, workers = 10, 12
    for servers, at in ((2, ["a", "c"]), (3, ["a", "b", "c"]), (2, ["c"])):
        spec = tiny_experiment({"name": "ps", "servers": servers, "server_at": at}, max_iterations=steps,
                               topology=tiny_topology((4, 4, 4), latency="40ms"))
        run = Run(load_experiment(spec), InProcessExecutor(), progress=False)
        run.execute()
        kinds = run.engine.accountant.bytes_by_kind()
        expected = {"params_g": steps * workers * 4 * n_g, "params_d": steps * workers * 4 * n_d,
                    "grads_g": steps * workers * 4 * n_g, "grads_d": steps * workers * 4 * n_d}
        assert {k: kinds[k] for k in expected} == expected, (servers, at)
        assert run.iteration == steps


def test_update_order_is_an_option_where_cheap_and_rejected_elsewhere(experiment) -> None:
    from testbed.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"training\.update_order"):
        load_experiment(experiment("ps", training={"batch_size": 16, "update_order": "alternating"}))
    assert load_experiment(experiment("local")).training.update_order == "alternating"
    assert load_experiment(experiment("ps")).training.update_order == "simultaneous"
    finals = {}
    for order in ("alternating", "simultaneous"):
        run = Run(load_experiment(experiment("local", max_iterations=3, training={
            "batch_size": 16, "update_order": order})), InProcessExecutor(), progress=False)
        run.execute()
        finals[order] = run.executor.state(run.workers[0]).get_g()
        assert run.algorithm.footing()["update_order"] == order
    assert not all(np.array_equal(finals["alternating"][k], finals["simultaneous"][k]) for k in finals["alternating"])


@pytest.mark.parametrize("algorithm", [{"name": "fedavg", "client_fraction": 0.5}, {"name": "mdgan", "server_at": "a"},
                                       {"name": "sqm", "server_at": "a"}], ids=lambda a: a["name"])
def test_simultaneous_order_changes_the_updates_not_the_traffic(experiment, algorithm) -> None:
    results = {}
    for order in ("alternating", "simultaneous"):
        spec = load_experiment(experiment(algorithm, max_iterations=3,
                                          training={"batch_size": 16, "update_order": order},
                                          compute={"model": "fixed", "default": "2ms"}))
        run = Run(spec, InProcessExecutor(), progress=False)
        run.execute()
        assert run.algorithm.footing()["update_order"] == order
        results[order] = (run.engine.accountant.bytes_by_kind(), run.generators)
    assert results["alternating"][0] == results["simultaneous"][0]
    g_alt, g_sim = (next(iter(results[o][1].values())) for o in ("alternating", "simultaneous"))
    assert any(not (g_alt[k] == g_sim[k]).all() for k in g_alt)
