"""HierFAVG: bytes per tier equal the formula, kappa_2 = 1 with one client per datacenter is FedAvg bit for bit,
churn at an edge behaves as for FedAvg, crashes of an edge or the cloud do what the docstring says.

Why: the hierarchy's point is where the bytes go (LAN inside a datacenter, WAN only every kappa_2 edge
rounds), and its correctness is that it collapses to FedAvg when the hierarchy is trivial.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tiny_topology
from fake_session import fake_method

from testbed.gan import count_params
from testbed.methods.fedavg.state import local_steps
from testbed.methods.hierfavg.state import epochs_for_steps

COSTS = {"train_step": 0.01, "average": 0.001}


def _model_nbytes(session) -> tuple[int, int]:
    state = session.setup.gan_state("cpu")
    return 4 * count_params(state.G), 4 * count_params(state.D)  # mlp2d: no BatchNorm, |G_bn| = 0


def test_bytes_per_tier_equal_the_formula() -> None:
    method, session = fake_method({"name": "hierfavg", "edge_every": 3, "cloud_every": 2}, budget=3)
    engine = session.drive(method, COSTS)
    g, d = _model_nbytes(session)
    n, edges, rounds, k2 = 5, 3, 3, 2
    kinds = engine.accountant.bytes_by_kind()
    assert kinds == {"params_g": rounds * k2 * n * 2 * g, "params_d": rounds * k2 * n * 2 * d,
                     "cloud_g": rounds * edges * 2 * g, "cloud_d": rounds * edges * 2 * d}
    wan_edges = 2  # b and c; a's edge is beside the cloud
    assert engine.accountant.bytes_by_kind(scope="wan") == {"cloud_g": rounds * wan_edges * 2 * g,
                                                            "cloud_d": rounds * wan_edges * 2 * d}
    assert method.results()["tier_payload_nbytes"] == {"client_edge": rounds * k2 * n * 2 * (g + d),
                                                       "edge_cloud": rounds * edges * 2 * (g + d)}
    assert all(engine.stats[w].tasks == {"train_step": rounds * k2 * 3} for w in session.workers)


def test_a_client_fraction_trains_that_share_of_each_edge_per_round_and_the_formula_counts_it() -> None:
    method, session = fake_method({"name": "hierfavg", "edge_every": 2, "cloud_every": 2, "client_fraction": 0.5},
                                  budget=3)
    engine = session.drive(method, COSTS)
    g, d = _model_nbytes(session)
    m, edges, rounds, k2 = 1 + 1 + 1, 3, 3, 2  # max(floor(0.5 N_e), 1) for N_e = 2, 1, 2
    assert engine.accountant.bytes_by_kind() == {"params_g": rounds * k2 * m * 2 * g,
                                                 "params_d": rounds * k2 * m * 2 * d,
                                                 "cloud_g": rounds * edges * 2 * g, "cloud_d": rounds * edges * 2 * d}
    assert method.expected_payload_nbytes() == engine.accountant.bytes_by_kind()
    tasks = sorted(engine.stats[w].tasks.get("train_step", 0) for w in session.workers)
    assert sum(tasks) == rounds * k2 * m * 2 and tasks[-1] > 0  # kappa_1 = 2 steps per chosen client
    trained_at_a = {w for w in ("a/w0", "a/w1") if engine.stats[w].tasks}
    assert trained_at_a == {"a/w0", "a/w1"}  # the choice varies from round to round (seeded per edge)
    assert method.footing()["g_steps_per_iteration"] == m * 2 * k2


def test_epochs_for_steps_is_exact() -> None:
    for steps in range(1, 200):
        for n in (1, 15, 16, 17, 133, 1000):
            assert local_steps(n, epochs_for_steps(steps, n, 16), 16) == steps


def test_one_client_per_datacenter_and_kappa2_one_is_fedavg() -> None:
    topo = tiny_topology((1, 1, 1), latency="15ms")
    hier, h_session = fake_method({"name": "hierfavg", "edge_every": 9, "cloud_every": 1, "server_at": "b"},
                                  budget=3, topology_dict=topo)
    fed, f_session = fake_method({"name": "fedavg", "client_fraction": 1.0, "local_epochs": 1, "server_at": "b"},
                                 budget=3, topology_dict=topo)
    h_engine, f_engine = h_session.drive(hier, COSTS), f_session.drive(fed, COSTS)
    assert {local_steps(n, 1.0, 16) for n in fed.n_k.values()} == {9}  # kappa_1 = E epochs of steps
    g_h = h_session.resolve(hier.generators()["hierfavg"])
    g_f = f_session.resolve(fed.generators()["fedavg"])
    for name, value in g_f["params"].items():
        np.testing.assert_array_equal(g_h["params"][name], value)
    assert h_engine.accountant.wan_nbytes == f_engine.accountant.wan_nbytes > 0


def _edge_topology(b_worker: dict) -> dict:
    topo = tiny_topology((2, 2), latency="15ms")
    topo["datacenters"]["b"] = {"workers": [{}, b_worker]}
    return topo


def test_a_client_down_in_its_round_is_dropped_abandons_it_and_is_silent_while_down() -> None:
    topo = _edge_topology({"availability": {"down": [["0.025s", "0.2s"]]}})  # b gets work at ~16 ms
    method, session = fake_method({"name": "hierfavg", "edge_every": 2, "cloud_every": 1}, budget=6,
                                  topology_dict=topo)
    engine = session.drive(method, COSTS)
    frame = engine.accountant.frame()
    assert method.plan.dropped[0] == (0, 0, "b/w1")
    touching = frame[(frame.src == "b/w1") | (frame.dst == "b/w1")]
    assert not ((touching.t_send_s > 0.025) & (touching.t_send_s < 0.2)).any()  # offline: silent
    to_it = touching[touching.kind == "params_g"].t_send_s.tolist()
    replies = touching[touching.kind == "params_d"].query("src == 'b/w1'").t_send_s
    assert to_it[0] < 0.025 and replies.min() > 0.2  # it abandoned round 0 (no reply to it) ...
    assert len(to_it) >= 2 and to_it[1] >= 0.2  # ... and was handed work again once back
    assert session.iteration == 6 and session.stop_reason is None


def test_offline_pause_waits_and_keeps_every_reply() -> None:
    topo = _edge_topology({"availability": {"down": [["0.025s", "0.05s"]]}})
    method, session = fake_method({"name": "hierfavg", "edge_every": 2, "cloud_every": 1, "offline": "pause"},
                                  budget=2, topology_dict=topo)
    session.drive(method, COSTS)
    assert method.plan.dropped == []


def test_a_crashed_edge_is_skipped_a_crashed_cloud_stops() -> None:
    topo = tiny_topology((2, 2), latency="15ms")
    topo["datacenters"]["b"]["availability"] = {"crash_at": "0.05s"}  # b's edge and clients
    method, session = fake_method({"name": "hierfavg", "edge_every": 2, "cloud_every": 1}, budget=5,
                                  topology_dict=topo)
    engine = session.drive(method, COSTS)
    assert session.iteration == 5 and session.stop_reason is None
    assert engine.accountant.frame().query("kind == 'cloud_g' and dst == 'b/edge'").t_send_s.max() < 0.05
    topo["datacenters"]["a"]["availability"] = {"crash_at": "0.05s"}  # the cloud's datacenter
    method, session = fake_method({"name": "hierfavg", "edge_every": 2, "cloud_every": 1}, budget=50,
                                  topology_dict=topo)
    session.drive(method, COSTS)
    assert session.stop_reason is not None and session.stop_reason.startswith("crashed: a/cloud")


@pytest.mark.parametrize("params", [{"edge_every": 0}, {"cloud_every": 0}, {"offline": "nap"},
                                    {"client_fraction": 0}, {"client_fraction": 1.5}])
def test_bad_parameters_name_the_field(params) -> None:
    from testbed.core.errors import ConfigError

    with pytest.raises(ConfigError, match=f"algorithm.{next(iter(params))}"):
        fake_method({"name": "hierfavg", **params})


def test_a_sampled_edge_weighs_its_whole_data_at_the_cloud() -> None:
    """Liu et al. weight an edge by the data behind it: with C < 1 an edge that trained 1 of its 8 clients
    still stands for all 8 (a small edge must not weigh like a large one for training as many clients);
    with C = 1 the weight stays the data of the clients averaged (under churn, those that replied)."""
    from testbed.methods.hierfavg.protocol import HierPlan

    edges = {"a/edge": ["a/w0"], "b/edge": [f"b/w{i}" for i in range(8)]}
    n_k = {c: 10 for cs in edges.values() for c in cs}
    sampled = HierPlan("b/cloud", edges, n_k, 2, 2, 8, "drop", client_fraction=0.125)
    assert sampled.edge_weight("a/edge", ["a/w0"]) == 10.0
    assert sampled.edge_weight("b/edge", ["b/w3"]) == 80.0
    assert sampled.edge_weight("b/edge", []) == 0.0  # nobody replied: the edge's model is not its clients'
    every = HierPlan("b/cloud", edges, n_k, 2, 2, 8, "drop")
    assert every.edge_weight("b/edge", ["b/w0", "b/w5"]) == 20.0
