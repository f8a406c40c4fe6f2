"""Churn, method by method: what each skips, when it stops, and FedAvg's deadline and over-selection.

Why: a node that disappears must either be skipped (fedavg's clients, local's sites, ps workers) or stop
the run with a stop_reason naming it (a shard, a fedavg server, ...) -- an engine that simply runs out of
events with no reason is a hang.  That every registered method's run does what its ``node_crashed``
declares when a worker crashes, and goes on through a down interval, is tests/test_conformance.py's
``crash`` and ``down`` checks; here are the details those cannot see, checked against the traffic log.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import tiny_experiment, tiny_topology
from fake_session import fake_method

from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment

COSTS = {"train_step": 0.01, "grad_step": 0.01, "server_update": 0.001, "average": 0.001}
BUDGET = 10


def _topology(workers: dict[str, list[dict[str, Any]]] | None = None, **dc_extra: dict[str, Any]) -> dict[str, Any]:
    """tiny (2, 1, 2) at 15 ms; ``workers`` replaces a datacenter's worker list, ``dc_extra`` adds DC keys."""
    topo = tiny_topology((2, 1, 2), latency="15ms")
    for dc, spec in (workers or {}).items():
        topo["datacenters"][dc] = {"workers": spec}
    for dc, extra in dc_extra.items():
        topo["datacenters"][dc].update(extra)
    return topo


def _crash_c_w1(at: str) -> dict[str, Any]:
    return _topology({"c": [{}, {"availability": {"crash_at": at}}]})


def _drive(algorithm: dict[str, Any], topology: dict[str, Any], budget: int = BUDGET) -> tuple[Any, Any, Any]:
    method, session = fake_method(algorithm, budget=budget, topology_dict=topology)
    engine = session.drive(method, COSTS)
    return method, session, engine


def _sends(engine: Any, kind: str, src: str | None = None, dst: str | None = None) -> Any:
    frame = engine.accountant.frame()
    frame = frame[frame.kind == kind]
    if src is not None:
        frame = frame[frame.src == src]
    return frame if dst is None else frame[frame.dst == dst]


@pytest.mark.parametrize(("consistency", "at"), [("sequential", 0.3), ("bounded_delay", 0.3), ("eventual", 0.1)])
def test_ps_skips_a_crashed_worker(consistency: str, at: float) -> None:
    _, session, engine = _drive({"name": "ps", "consistency": consistency, "tau": 1}, _crash_c_w1(f"{at}s"),
                                     budget=60 if consistency == "sequential" else 80)
    assert session.stop_reason is None and session.iteration == session.budget
    pushes = _sends(engine, "grads_g", src="c/w1")
    assert len(pushes) > 0 and pushes.t_send_s.max() < at < engine.now_s
    assert len(_sends(engine, "grads_g", src="c/w0")) > len(pushes)


def test_ps_bsp_steps_on_the_live_workers_from_the_crash_on() -> None:
    method, _, engine = _drive({"name": "ps"}, _crash_c_w1("0.3s"), budget=20)
    c_w1 = len(_sends(engine, "grads_g", src="c/w1"))
    # every step but the ones after the crash has all five pushes; later steps have the other four's
    assert len(_sends(engine, "grads_g")) == 5 * c_w1 + 4 * (20 - c_w1)
    assert engine.stats[method.shards[0].node].tasks["server_update"] == 20


def test_ps_shard_crash_stops_the_run() -> None:
    _, session, _ = _drive({"name": "ps"}, _topology(a={"availability": {"crash_at": "0.3s"}}))
    assert session.stop_reason == "crashed: a/ps0 at 0.3s (ps: each shard holds its part of G and D)"


def test_local_skips_a_crashed_site_and_loses_its_generator() -> None:
    method, session, _ = _drive({"name": "local"}, _crash_c_w1("0.045s"))
    assert session.stop_reason is None and session.iteration == BUDGET
    assert method.steps["c/w1"] == 4 and all(n == BUDGET for w, n in method.steps.items() if w != "c/w1")
    assert "c/w1" not in method.generators() and len(method.generators()) == 4


def test_local_stops_when_every_site_has_crashed() -> None:
    crash = [{"availability": {"crash_at": "0.045s"}}]
    _, session, _ = _drive({"name": "local"}, _topology({"a": crash * 2, "b": crash, "c": crash * 2}))
    assert session.stop_reason == "crashed: every site (the last, c/w1, at 0.045s)"
    assert session.iteration == 4


def test_mdgan_without_swaps_drops_a_crashed_workers_feedback() -> None:
    method, session, engine = _drive({"name": "mdgan", "swap_every_epochs": 0}, _crash_c_w1("0.3s"))
    assert session.stop_reason is None and session.iteration == BUDGET
    to_crashed = _sends(engine, "samples", src=method.server, dst="c/w1")
    assert len(to_crashed) > 0 and to_crashed.t_send_s.max() < 0.3  # served while alive only
    served = len(to_crashed) // 2
    assert len(_sends(engine, "feedback", src="c/w1")) in (served - 1, served)  # the last one, if any, dropped
    assert len(_sends(engine, "samples", src=method.server)) == 2 * (5 * BUDGET - (BUDGET - served))


def test_fedavg_skips_a_client_that_crashes_mid_round() -> None:
    method, session, engine = _drive({"name": "fedavg"}, _crash_c_w1("0.5s"))
    assert session.stop_reason is None and session.iteration == BUDGET
    to_crashed = _sends(engine, "params_g", src=method.server, dst="c/w1")
    assert len(to_crashed) > 0 and to_crashed.t_send_s.max() < 0.5  # never chosen once it crashed
    crash_round = len(to_crashed) - 1
    assert method.plan.dropped == [(crash_round, "c/w1")]
    assert engine.stats[method.server].tasks["average"] == 5 * BUDGET - (BUDGET - crash_round)


def test_fedsgd_skips_a_client_that_crashes_mid_round() -> None:
    method, session, engine = _drive({"name": "fedsgd"}, _crash_c_w1("0.5s"))
    assert session.stop_reason is None and session.iteration == BUDGET
    to_crashed = _sends(engine, "params_g", src=method.server, dst="c/w1")
    assert len(to_crashed) > 0 and to_crashed.t_send_s.max() < 0.5  # never chosen once it crashed
    crash_round = len(to_crashed) - 1
    assert method.plan.dropped == [(crash_round, "c/w1")]
    assert engine.stats[method.server].tasks["server_update"] == 5 * BUDGET - (BUDGET - crash_round)


def test_fedavg_server_crash_stops_the_run() -> None:
    _, session, _ = _drive({"name": "fedavg"}, _topology(a={"availability": {"crash_at": "0.5s"}}))
    assert session.stop_reason == "crashed: a/server at 0.5s (the fedavg server holds the global model)"


def test_fedavg_stops_when_every_client_has_crashed() -> None:
    crash = [{"availability": {"crash_at": "0.3s"}}]
    _, session, _ = _drive({"name": "fedavg"}, _topology({"a": crash * 2, "b": crash, "c": crash * 2}))
    assert session.stop_reason == "fedavg: every client has crashed"
    assert 0 < session.iteration < BUDGET


def test_fedavg_never_selects_a_client_while_it_is_down() -> None:
    topology = _topology({"b": [{"availability": {"down": [["0.2s", "0.7s"]]}}]})
    method, session, engine = _drive({"name": "fedavg", "client_fraction": 0.4}, topology, budget=20)
    rounds = _sends(engine, "params_g", src=method.server)
    inside = rounds[(rounds.t_send_s >= 0.2) & (rounds.t_send_s < 0.7)]
    assert len(inside) >= 6 and "b/w0" not in set(inside.dst)
    assert "b/w0" in set(rounds[rounds.t_send_s >= 0.7].dst) | set(rounds[rounds.t_send_s < 0.2].dst)
    assert session.iteration == 20 and method.plan.dropped == []


def _chosen_only_when_idle(engine: Any, server: str) -> int:
    """Every model the server sends a client comes after the client's previous reply has fully arrived
    (a client still working on an earlier round is not chosen); returns how many models were sent."""
    frame = engine.accountant.frame()
    sent = frame[(frame.src == server) & (frame.kind == "params_g")]
    for client in set(sent.dst):
        models = sent[sent.dst == client].sort_values("seq")
        back = frame[(frame.src == client) & (frame.dst == server)]
        replies = back.groupby(back.groupby("kind").cumcount())["t_arrive_s"].max().to_numpy()
        assert len(replies) in (len(models), len(models) - 1)  # the last may be cut by the stop
        assert (models.t_send_s.to_numpy()[1:] >= replies[:len(models) - 1]).all(), client
    return len(sent)


def test_fedavg_deadline_drops_late_replies_logs_their_bytes_and_never_chooses_a_busy_client() -> None:
    topology = _topology({"c": [{}, {"speed": 0.1}]})  # 5 local steps: 0.5 s instead of 0.05 s
    method, session, engine = _drive({"name": "fedavg", "round_deadline": "0.2s"}, topology, budget=6)
    assert session.iteration == 6
    late_rounds = [r for r, c in method.plan.dropped if c == "c/w1"]
    assert method.plan.dropped == [(r, "c/w1") for r in late_rounds] and late_rounds[0] == 0
    sent, late = _sends(engine, "params_g", src=method.server, dst="c/w1"), _sends(engine, "params_g", src="c/w1")
    assert len(sent) == len(late_rounds) and len(late) == len(sent) - 1  # the last reply is cut by the stop
    assert (late.t_arrive_s.to_numpy() > sent.t_send_s.to_numpy()[:len(late)] + 0.2).all()  # late, yet logged
    assert late.nbytes.sum() == len(late) * sent.nbytes.iloc[0]
    assert engine.stats[method.server].tasks["average"] == 4 * 6  # the other four, every round
    _chosen_only_when_idle(engine, method.server)


def test_fedavg_over_selection_keeps_the_first_m_replies() -> None:
    method, session, engine = _drive({"name": "fedavg", "client_fraction": 0.4, "over_select": 0.5}, _topology(),
                                     budget=6)
    rounds = _sends(engine, "params_g", src=method.server)
    assert engine.stats[method.server].tasks["average"] == 2 * 6  # m = 2 kept every round
    assert len(rounds) == 6 * 2 + len(method.plan.dropped)  # ceil(0.5 m) = 1 more, when one is idle
    assert 0 < len(method.plan.dropped) <= 6 and session.iteration == 6
    _chosen_only_when_idle(engine, method.server)


def test_a_stragglers_lag_no_longer_grows() -> None:
    """A client still working on an earlier round is not chosen again, so a straggler's reply answers the
    model sent just before it: its lag stays one round's work (it grew by a round per round before)."""
    topology = _topology({"c": [{}, {"speed": 0.1}]})
    method, _, engine = _drive({"name": "fedavg", "round_deadline": "0.1s"}, topology, budget=20)
    sent, back = _sends(engine, "params_g", src=method.server, dst="c/w1"), _sends(engine, "params_g", src="c/w1")
    lags = back.t_arrive_s.to_numpy() - sent.t_send_s.to_numpy()[:len(back)]
    assert len(back) >= 2 and lags.max() < 0.6 and lags.max() - lags.min() < 0.05  # 0.5 s of work + transfers
    assert len(sent) < 20 and _chosen_only_when_idle(engine, method.server) < 5 * 20


def test_a_crash_in_a_run_is_its_stop_reason() -> None:
    run = Run(load_experiment(tiny_experiment({"name": "sqm", "server_at": "c"}, topology=_crash_c_w1("0.3s"),
                                              max_iterations=50, compute={"model": "fixed", "default": "3ms"})),
              InProcessExecutor(), progress=False)
    run.execute()
    assert run.stop_reason.startswith("crashed: c/w1 at 0.3s (sqm:")
    assert 0 < run.iteration < 50 and run.virtual_time_s == pytest.approx(0.3)


def test_a_crash_after_the_run_has_ended_does_not_move_its_clock() -> None:
    run = Run(load_experiment(tiny_experiment({"name": "local"}, topology=_crash_c_w1("1h"), max_iterations=5)),
              InProcessExecutor(), progress=False)
    run.execute()
    assert run.stop_reason == "max_iterations" and run.engine.now_s < 1.0
    assert run.metrics[-1]["virtual_time_s"] < 1.0
