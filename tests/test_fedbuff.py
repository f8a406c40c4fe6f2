"""FedBuff and FedAsync: bytes equal the formula, the server's step is the paper's, staleness is what happened,
churn behaves as for FedAvg (down: dropped, its slot refilled; crash: freed; everyone crashed: stop).

Why: an asynchronous method's correctness is in its bookkeeping -- which version each update started
from, which updates a buffer holds, which clients may be handed work -- so each rule is checked against
the traffic log or the arithmetic, on a tiny ring8 MLP with fixed compute costs.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_topology
from fake_session import fake_method

from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.gan import count_params
from testbed.methods.fedbuff.staleness import Staleness, parse_staleness
from testbed.methods.fedbuff.state import BufferedAggregator

COSTS = {"train_step": 0.01, "average": 0.001}


def _sizes(session) -> tuple[int, int]:
    state = session.setup.gan_state("cpu")
    return count_params(state.G), count_params(state.D)


def _count(frame, kind: str, to_server: bool) -> int:
    rows = frame[frame.kind == kind]
    return int((rows.dst.str.endswith("/server") == to_server).sum())


@pytest.mark.parametrize(("algorithm", "up_kinds"), [
    ({"name": "fedbuff", "concurrency": 3, "buffer": 2}, ("delta_g", "delta_d")),
    ({"name": "fedbuff", "concurrency": 3, "mixing": 0.6}, ("params_g", "params_d")),
])
def test_bytes_equal_the_formula(algorithm, up_kinds) -> None:
    method, session = fake_method(algorithm, budget=5)
    engine = session.drive(method, COSTS)
    n_g, n_d = _sizes(session)
    frame = engine.accountant.frame()
    c, u = 3, 5 * method.plan.buffer
    assert session.iteration == 5 and method.results()["updates_applied"] == u
    # every dispatch: 4|G| + 4|D| down; each arrival but the last refills one slot: C + U - 1 dispatches
    downloads = _count(frame, "params_g", to_server=False)
    assert downloads == _count(frame, "params_d", to_server=False) == c + u - 1
    uploads = _count(frame, up_kinds[0], to_server=True)
    assert uploads == _count(frame, up_kinds[1], to_server=True)
    assert u <= uploads <= u + c - 1  # replies still in flight at the stop were sent before it
    sizes = frame.groupby("kind").payload_nbytes.unique()
    assert {kind: list(v) for kind, v in sizes.items()} == {"params_g": [4 * n_g], "params_d": [4 * n_d],
                                                           up_kinds[0]: [4 * n_g], up_kinds[1]: [4 * n_d]}
    assert frame.t_send_s.max() <= engine.now_s


def test_server_step_is_the_buffered_staleness_weighted_mean(experiment) -> None:
    from testbed.methods.common.setup import NodeSetup
    from testbed.methods.common.training import Training

    setup = NodeSetup(dataset="ring8", partition="iid", num_workers=1, groups=(0,), model="mlp2d",
                      model_overrides=(("depth", 2), ("hidden", 16)), training=Training(batch_size=16), seed=0,
                      dataset_n=400)
    server = BufferedAggregator(setup, server_lr=0.5)
    x_g, x_d = server.g["params"], server.d
    rng = np.random.default_rng(0)
    deltas = [({"params": {n: rng.normal(size=v.shape).astype(np.float32) for n, v in x_g.items()}, "buffers": {}},
               {n: rng.normal(size=v.shape).astype(np.float32) for n, v in x_d.items()}) for _ in range(2)]
    weights = [1.0, Staleness("poly", 0.5).weight(3)]  # 1 and 1/2
    server.apply_buffer(weights, *[part for pair in deltas for part in pair])
    for name, x in x_d.items():
        expected = x - 0.5 * (weights[0] * deltas[0][1][name] + weights[1] * deltas[1][1][name]) / 2
        np.testing.assert_allclose(server.d[name], expected, rtol=1e-6, atol=1e-7)
    before = server.d
    server.mix(0.25, server.g, {n: np.zeros_like(v) for n, v in before.items()})
    for name, x in before.items():
        np.testing.assert_allclose(server.d[name], 0.75 * x, rtol=1e-6)


def test_staleness_functions() -> None:
    assert parse_staleness("constant", "t").weight(7) == 1.0
    assert parse_staleness({"poly": 0.5}, "t").weight(3) == pytest.approx(0.5)
    hinge = parse_staleness({"hinge": {"a": 2, "b": 1}}, "t")
    assert [hinge.weight(t) for t in (0, 1, 2, 3)] == [1.0, 1.0, pytest.approx(1 / 3), pytest.approx(1 / 5)]


def test_staleness_is_counted_in_server_versions() -> None:
    """tau of every applied update = server version at apply - version in the tag its model was sent with."""
    method, session = fake_method({"name": "fedbuff", "concurrency": 4, "buffer": 2}, budget=6)
    session.drive(method, COSTS)
    applied = method.plan.applied
    assert len(applied) == 12 and [v for v, _, _, _ in applied] == [v for v in range(1, 7) for _ in range(2)]
    counts = method.results()["staleness_counts"]
    assert sum(counts.values()) == 12 and max(int(t) for t in counts) >= 1  # C > K: some updates are stale
    assert all(0 <= tau < version for version, _, _, tau in applied)


def _churn_topology(availability: dict) -> dict:
    topo = tiny_topology((2, 2), latency="15ms")
    topo["datacenters"]["b"] = {"workers": [{}, {"availability": availability}]}
    return topo


def test_a_client_that_goes_down_is_dropped_abandons_its_work_and_is_silent_while_down() -> None:
    topo = _churn_topology({"down": [["0.005s", "0.3s"]]})  # b/w1 goes down during its first round
    method, session = fake_method({"name": "fedbuff", "concurrency": 4, "buffer": 1}, budget=30, topology_dict=topo)
    engine = session.drive(method, COSTS)
    frame = engine.accountant.frame()
    assert method.plan.dropped == [(3, "b/w1")]  # its first dispatch (every client got one at t = 0)
    assert 3 not in [dispatch for _, dispatch, _, _ in method.plan.applied]
    touching = frame[(frame.src == "b/w1") | (frame.dst == "b/w1")]
    assert not ((touching.t_send_s > 0.005) & (touching.t_send_s < 0.3)).any()  # offline: silent
    first_update = touching[touching.kind == "delta_g"].t_send_s.min()
    assert first_update > 0.3  # it abandoned its first round (cut off when it went down) ...
    to_it = touching[touching.kind == "params_g"].t_send_s.tolist()
    assert to_it[0] == 0.0 and len(to_it) >= 2 and to_it[1] >= 0.3  # ... and got work again once back
    assert session.iteration == 30


def test_offline_pause_waits_for_the_client() -> None:
    topo = _churn_topology({"down": [["0.005s", "0.05s"]]})
    method, session = fake_method({"name": "fedbuff", "concurrency": 4, "buffer": 4, "offline": "pause"},
                                  budget=2, topology_dict=topo)
    session.drive(method, COSTS)
    assert method.plan.dropped == [] and "b/w1" in [client for _, _, client, _ in method.plan.applied[:4]]


def test_crashes_free_slots_and_everyone_crashed_stops() -> None:
    topo = _churn_topology({"crash_at": "0.015s"})
    method, session = fake_method({"name": "fedbuff", "concurrency": 4, "buffer": 1}, budget=6, topology_dict=topo)
    session.drive(method, COSTS)
    assert session.iteration == 6 and (3, "b/w1") in method.plan.dropped
    everyone = tiny_topology((1, 1))
    for dc in ("a", "b"):
        everyone["datacenters"][dc] = {"workers": [{"availability": {"crash_at": "0.02s"}}]}
    method, session = fake_method({"name": "fedbuff", "concurrency": 2, "buffer": 2}, budget=50,
                                  topology_dict=everyone)
    session.drive(method, COSTS)
    assert session.stop_reason == "fedbuff: every client has crashed"


def test_summary_holds_the_staleness_histogram(experiment, tmp_path) -> None:
    from testbed.experiment.results import summary

    spec = load_experiment(experiment({"name": "fedbuff", "concurrency": 4, "buffer": 2}, max_iterations=4,
                                      compute={"model": "fixed", "costs": {"train_step": "10ms", "average": "1ms"}}))
    run = Run(spec, InProcessExecutor(), progress=False)
    run.execute()
    results = summary(run)["method_results"]
    assert sum(results["staleness_counts"].values()) == results["updates_applied"] == 8
    assert summary(run)["footing"]["buffer"] == 2
