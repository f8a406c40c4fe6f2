"""Every method driven through a fake Session (tests/fake_session.py), not a Run.

Why: the Session is the whole interface between a method and the testbed; these tests show each
method needs nothing else (no evaluator, results, wall clock) and that, on an executor that
cannot size computed payloads for free (like Ray), every message it sends declares its size --
checked against the real payload -- with byte totals equal to the method's documented formula.
Topology: datacenters a, b, c with 2, 1, 2 workers; ring8; a 16-unit MLP; 3 iterations.
"""

from __future__ import annotations

import pytest
from fake_session import fake_method

from testbed.gan import count_params

T = 3  # iterations
B = 16  # batch size
D_SAMPLE = 2  # ring8 samples are 2-D


def _sizes(session) -> tuple[int, int]:
    state = session.setup.gan_state("cpu")
    return count_params(state.G), count_params(state.D)


def _bytes_by_kind(engine) -> dict[str, int]:
    return engine.accountant.bytes_by_kind()


def test_local_trains_every_site_alone() -> None:
    method, session = fake_method({"name": "local"})
    engine = session.drive(method, {"train_step": 0.01})
    assert session.iteration == T and len(engine.accountant) == 0
    assert all(engine.stats[w].tasks == {"train_step": T} for w in session.workers)
    assert set(method.generators()) == set(session.workers)


def test_ps_bsp_moves_both_models_every_step() -> None:
    method, session = fake_method({"name": "ps", "servers": 2, "server_at": ["a", "c"]})
    engine = session.drive(method)
    n_g, n_d = _sizes(session)
    n = len(session.workers)
    kinds = _bytes_by_kind(engine)
    assert session.iteration == T
    expected = {"params_g": 4 * n_g * n * T, "params_d": 4 * n_d * n * T,
                "grads_g": 4 * n_g * n * T, "grads_d": 4 * n_d * n * T}
    assert {k: kinds[k] for k in expected} == expected
    assert kinds["pull"] == 0  # a pull is a header only
    snapshot = session.resolve(method.generators()["ps"]["segments"][0])
    assert snapshot.dtype.name == "float32"


def test_centralized_ships_every_remote_partition_once() -> None:
    method, session = fake_method({"name": "centralized", "server_at": "b"})
    engine = session.drive(method)
    data, setup = session.setup.data(), session.setup
    remote = [i for i, w in enumerate(session.workers) if session.topology.datacenter_of(w) != "b"]
    raw = sum(data.x[setup.shard(i)].nbytes for i in remote)  # features only
    n_g, _ = _sizes(session)
    kinds = _bytes_by_kind(engine)
    assert kinds["raw_data"] == raw and kinds["grads_g"] == 4 * n_g * 1 * T  # one central worker
    assert session.iteration == T


def test_fedavg_rounds_send_the_models_both_ways() -> None:
    method, session = fake_method({"name": "fedavg", "client_fraction": 1.0, "local_epochs": 1})
    engine = session.drive(method, {"train_step": 0.01})
    n_g, n_d = _sizes(session)  # mlp2d has no BatchNorm: |G_bn| = 0
    n = len(session.workers)
    assert session.iteration == T
    assert _bytes_by_kind(engine) == {"params_g": 2 * n * T * 4 * n_g, "params_d": 2 * n * T * 4 * n_d}
    assert method.footing()["clients_per_round"] == n


def test_fedsgd_rounds_send_models_down_and_gradients_up() -> None:
    method, session = fake_method({"name": "fedsgd", "client_fraction": 1.0})
    engine = session.drive(method, {"grad_step": 0.01})
    n_g, n_d = _sizes(session)
    n = len(session.workers)
    assert session.iteration == T
    assert _bytes_by_kind(engine) == {"params_g": n * T * 4 * n_g, "params_d": n * T * 4 * n_d,
                                      "grads_g": n * T * 4 * n_g, "grads_d": n * T * 4 * n_d}
    assert engine.stats[method.server].tasks == {"server_update": n * T}  # one unit per client averaged
    assert method.footing()["g_steps_per_iteration"] == 1


def test_mdgan_sends_samples_and_feedback_only() -> None:
    method, session = fake_method({"name": "mdgan", "swap_every_epochs": 0})
    engine = session.drive(method)
    n = len(session.workers)
    batch_nbytes = 4 * B * D_SAMPLE
    assert session.iteration == T
    assert _bytes_by_kind(engine) == {"samples": 2 * n * T * batch_nbytes, "feedback": n * T * batch_nbytes}


def test_mdgan_swaps_declare_the_d_size() -> None:
    method, session = fake_method({"name": "mdgan", "swap_every_epochs": 0.2}, budget=4)
    engine = session.drive(method)
    _, n_d = _sizes(session)
    swaps = engine.accountant.frame().query("kind == 'swap_d'")
    assert len(swaps) > 0 and set(swaps.payload_nbytes) == {4 * n_d}


def test_sqm_asks_each_datacenter_once_per_step() -> None:
    method, session = fake_method({"name": "sqm", "server_at": "c"})
    engine = session.drive(method)
    _, n_d = _sizes(session)
    per_step = 3 + 2  # one query per DC, plus one LAN forward in each two-worker DC (a and c)
    assert session.iteration == T
    assert _bytes_by_kind(engine) == {"params_d": per_step * T * 4 * n_d, "sq_answer": per_step * T * 4 * n_d}


@pytest.mark.parametrize("barrier", [True, False])
def test_gaia_declares_every_size_and_ticks_every_datacenter(barrier: bool) -> None:
    method, session = fake_method({"name": "gaia", "threshold": 0.0, "selective_barrier": barrier})
    engine = session.drive(method)
    n_g, n_d = _sizes(session)
    frame = engine.accountant.frame()
    assert session.iteration == T and min(method.clocks.values()) == T
    assert set(frame.query("kind == 'params_g'").payload_nbytes) == {4 * n_g}
    assert set(frame.query("kind == 'params_d'").payload_nbytes) == {4 * n_d}
    updates = frame.query("kind == 'significant_update'").payload_nbytes
    assert len(updates) > 0 and all(nbytes % 8 == 0 for nbytes in updates)
    assert set(frame.query("kind == 'clock'").payload_nbytes) == {4}


class _Payload:
    def make(self, n: int):
        import numpy as np

        return np.zeros(n, dtype=np.float32)


def _engine_with_one_node():
    from conftest import tiny_topology
    from fake_session import SizeBlindExecutor

    from testbed.exec.executor import InProcessExecutor
    from testbed.sim.compute import CostTable
    from testbed.sim.engine import Engine
    from testbed.topology.schema import load_topology

    topology = load_topology(tiny_topology((1, 1)))
    executors = {"blind": SizeBlindExecutor(), "inprocess": InProcessExecutor()}
    for ex in executors.values():
        ex.host("a/w0", _Payload)
    return topology, executors, lambda ex: Engine(topology, ex, CostTable({}, "fixed", 0.001))


def test_a_computed_payload_must_declare_its_size_and_the_size_is_checked() -> None:
    _, executors, engine_for = _engine_with_one_node()
    blind = engine_for(executors["blind"])
    handle = executors["blind"].call("a/w0", "make", 10)
    with pytest.raises(TypeError, match="pass nbytes="):
        blind.node("a/w0").send("b/w0", handle, "x")
    with pytest.raises(ValueError, match="declared 8 B but its payload is 40 B"):
        blind.node("a/w0").send("b/w0", handle, "x", nbytes=8)
    delivery = blind.node("a/w0").send("b/w0", handle, "x", nbytes=40)
    assert delivery.seq == 0 and delivery.wire_nbytes == 40 + 64
    plain = engine_for(executors["inprocess"])  # in process the value is here: sized for free
    assert plain.node("a/w0").send("b/w0", executors["inprocess"].call("a/w0", "make", 3), "x").seq == 0
    assert plain.accountant.bytes_by_kind() == {"x": 12}
