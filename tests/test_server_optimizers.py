"""FedAvg's server optimisers equal their formulas, computed here by hand in numpy.

Why: FedAdam and DiLoCo's Nesterov step are a few lines each, and a sign or a missing (1 - beta)
would still train -- only comparing with the papers' update rules, written out independently of
the implementation, catches it.  Also: FedAvgM with momentum 0 and lr 1 *is* FedAvg, to the bit,
under any client lr schedule (the server's lr is constant unless ``server_lr_schedule: shared``),
and BatchNorm statistics are averaged, not optimised.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import tiny_experiment
from fake_session import fake_method

from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.methods.common.setup import NodeSetup
from testbed.methods.fedavg.server_optimizers import ServerOptimizerSpec
from testbed.methods.fedavg.state import Aggregator

WEIGHTS = [3.0, 1.0]  # n_k of the two clients
ROUNDS = 3


def _setup(final_fraction: float = 1.0) -> NodeSetup:
    _, session = fake_method({"name": "fedavg"})
    training = dataclasses.replace(session.setup.training, lr_final_fraction=final_fraction)
    return dataclasses.replace(session.setup, training=training, max_iterations=4)


def _drive(aggregator: Aggregator, seed: int = 3) -> list[tuple[dict, dict]]:
    """ROUNDS rounds of two clients each returning the global model plus a seeded offset; returns
    the clients' (G params, D params) per round, as they were sent."""
    rng = np.random.default_rng(seed)
    sent = []
    for _ in range(ROUNDS):
        g, d = aggregator.params()
        clients = [({k: (v + rng.normal(scale=0.1, size=v.shape)).astype(np.float32) for k, v in g["params"].items()},
                    {k: (v + rng.normal(scale=0.1, size=v.shape)).astype(np.float32) for k, v in d.items()})
                   for _ in WEIGHTS]
        models = []
        for cg, cd in clients:
            models += [{"params": cg, "buffers": {}}, cd]
        aggregator.average(WEIGHTS, *models)
        sent.append(([c[0] for c in clients], [c[1] for c in clients]))
    return sent


def _hand(initial: dict, rounds: list[list[dict]], update) -> dict:
    """Apply ``update(t, x, delta, state) -> x`` per parameter, delta = x - weighted average."""
    out = {}
    for name, x0 in initial.items():
        x, state = np.asarray(x0, np.float64), {}
        for t, clients in enumerate(rounds):
            avg = (WEIGHTS[0] * clients[0][name].astype(np.float64) + WEIGHTS[1] * clients[1][name]) / sum(WEIGHTS)
            x = update(t, x, x - avg, state)
        out[name] = x
    return out


def _fedadam(lr: float, b1: float, b2: float, tau: float):
    def update(t: int, x: np.ndarray, delta: np.ndarray, st: dict) -> np.ndarray:
        st.setdefault("m", np.zeros_like(x))
        st.setdefault("v", np.full_like(x, tau * tau))
        st["m"] = b1 * st["m"] + (1 - b1) * delta
        st["v"] = b2 * st["v"] + (1 - b2) * delta * delta
        return x - lr * st["m"] / (np.sqrt(st["v"]) + tau)
    return update


def _nesterov(lr: float, mu: float, scale):
    def update(t: int, x: np.ndarray, delta: np.ndarray, st: dict) -> np.ndarray:
        st["b"] = mu * st.get("b", 0.0) + delta
        return x - lr * scale(t) * (delta + mu * st["b"])
    return update


def _check(aggregator: Aggregator, update) -> None:
    g0, d0 = aggregator.g["params"], aggregator.d
    sent = _drive(aggregator)
    for initial, now, which in ((g0, aggregator.g["params"], 0), (d0, aggregator.d, 1)):
        expected = _hand(initial, [r[which] for r in sent], update)
        for name in initial:
            np.testing.assert_allclose(now[name], expected[name], rtol=1e-5, atol=1e-6)
            assert not np.allclose(now[name], initial[name])


def test_fedadam_equals_the_hand_computation() -> None:
    spec = ServerOptimizerSpec("fedadam", lr=0.05, beta1=0.8, beta2=0.95, tau=1e-2)
    _check(Aggregator(_setup(), spec), _fedadam(0.05, 0.8, 0.95, 1e-2))


def test_nesterov_equals_the_hand_computation_under_the_shared_lr_schedule() -> None:
    spec = ServerOptimizerSpec("nesterov", lr=0.7, momentum=0.9, lr_schedule="shared")
    # lr_final_fraction 0.5 over max_iterations 4: the factor of round t is 1 - 0.5 t / 4.
    _check(Aggregator(_setup(final_fraction=0.5), spec), _nesterov(0.7, 0.9, lambda t: 1 - 0.5 * t / 4))


def test_server_lr_is_constant_by_default_whatever_the_clients_schedule() -> None:
    spec = ServerOptimizerSpec("nesterov", lr=0.7, momentum=0.9)  # DiLoCo's outer lr does not decay
    _check(Aggregator(_setup(final_fraction=0.5), spec), _nesterov(0.7, 0.9, lambda t: 1.0))


def test_fedavgm_is_heavy_ball_momentum() -> None:
    def update(t: int, x: np.ndarray, delta: np.ndarray, st: dict) -> np.ndarray:
        st["v"] = 0.5 * st.get("v", 0.0) + delta
        return x - 1.5 * st["v"]
    _check(Aggregator(_setup(), ServerOptimizerSpec("fedavgm", lr=1.5, momentum=0.5)), update)


def test_batchnorm_statistics_are_averaged_not_optimised() -> None:
    agg = Aggregator(_setup(), ServerOptimizerSpec("fedadam", lr=0.05))
    g, d = agg.params()
    stats = [{"bn.running_var": np.full(3, v, np.float32)} for v in (1.0, 5.0)]
    agg.average(WEIGHTS, {"params": g["params"], "buffers": stats[0]}, d,
                {"params": g["params"], "buffers": stats[1]}, d)
    assert np.array_equal(agg.g["buffers"]["bn.running_var"], np.full(3, 2.0, np.float32))  # (3 * 1 + 5) / 4


def _fedavg_run(final_fraction: float = 1.0, **params: object) -> Run:
    spec = tiny_experiment({"name": "fedavg", "client_fraction": 0.5, **params}, max_iterations=4,
                           training={"batch_size": 16, "lr_final_fraction": final_fraction})
    run = Run(load_experiment(spec), InProcessExecutor(), progress=False)
    run.execute()
    return run


@pytest.mark.parametrize("final_fraction", [1.0, 0.05])
def test_fedavgm_with_momentum_0_and_lr_1_is_fedavg_exactly(final_fraction: float) -> None:
    # under any client schedule: the server's lr is constant unless server_lr_schedule: shared
    plain = _fedavg_run(final_fraction)
    heavy = _fedavg_run(final_fraction, server_optimizer="fedavgm", server_momentum=0.0, server_lr=1.0)
    columns = ["kind", "src", "dst", "nbytes", "t_send_s", "t_arrive_s"]
    assert plain.engine.accountant.frame()[columns].equals(heavy.engine.accountant.frame()[columns])
    (g_a, d_a), (g_b, d_b) = (run.executor.state(run.algorithm.server).params() for run in (plain, heavy))
    for a, b in ((g_a["params"], g_b["params"]), (d_a, d_b)):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)  # bit for bit
    assert "server_optimizer" not in plain.algorithm.footing()
    assert heavy.algorithm.footing()["server_lr_schedule"] == "constant"


def test_a_shared_server_schedule_is_no_longer_fedavg() -> None:
    plain = _fedavg_run(0.05)
    shared = _fedavg_run(0.05, server_optimizer="fedavgm", server_momentum=0.0, server_lr=1.0,
                         server_lr_schedule="shared")
    g_a, g_b = (run.executor.state(run.algorithm.server).params()[0]["params"] for run in (plain, shared))
    assert any(not np.array_equal(g_a[k], g_b[k]) for k in g_a)  # the decayed outer step is not the average


@pytest.mark.parametrize("name", ["fedadam", "nesterov"])
def test_server_optimisers_train_end_to_end(name: str) -> None:
    run = _fedavg_run(server_optimizer=name)
    g = run.executor.resolve(run.algorithm.generators()["fedavg"])
    assert all(np.all(np.isfinite(v)) for v in g["params"].values())
    assert run.algorithm.footing()["server_optimizer"] == name
    assert run.spec.algorithm_params.server_spec().lr == {"fedadam": 0.01, "nesterov": 0.7}[name]
