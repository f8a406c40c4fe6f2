"""Offline means offline: a node that is down cannot compute, send or receive; a crash ends its flows.

Why: churn must cost what it costs.  When a down node still sent and received (only its compute
paused), a parameter-server shard whose datacenter was down answered pulls, and a FedAvg client that
went offline mid-round was still averaged.  Here: the flow model stalls a down node's flows exactly
(its NIC links carry 0, as an outaged link: hand-worked times), the engine holds a down node's
process and its deliveries, a crash ends flows keeping the bytes moved, and for every method a down
interval is silent in the traffic log -- nothing sent by it, delivered to it, or carried for it.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import pytest
from conftest import tiny_topology
from fake_session import fake_method

from testbed.exec.executor import InProcessExecutor
from testbed.sim.compute import CostTable
from testbed.sim.engine import Engine, NodeContext
from testbed.sim.network import simulate_flows
from testbed.topology.schema import load_topology

MB = 1.25e6  # bytes a 10 Mbit/s link moves in one second
COSTS = {"train_step": 0.01, "grad_step": 0.01, "server_update": 0.001, "average": 0.001}


def _lan(*workers: dict[str, Any], lan: dict[str, Any] | None = None) -> Any:
    """One datacenter ``a`` on a 10 Mbit/s LAN, no latency; worker i gets ``workers[i]``'s keys."""
    return load_topology({"lan": lan or {"bandwidth": "10Mbps", "latency": 0},
                          "datacenters": {"a": {"workers": list(workers)}}, "links": []})


def _down(start: str, end: str) -> dict[str, Any]:
    return {"availability": {"down": [[start, end]]}}


# -- the flow model ---------------------------------------------------------------------------------
def test_a_flow_stalls_while_either_end_is_down_and_resumes_when_it_is_back() -> None:
    # 1 s of bytes from 0; the sender is down [0.5, 1.0): 0.5 s done, 0.5 s stalled, 0.5 s more
    assert simulate_flows(_lan(_down("0.5s", "1s"), {}), [("a/w0", "a/w1", MB, 0.0)]) == [1.5]
    assert simulate_flows(_lan({}, _down("0.5s", "1s")), [("a/w0", "a/w1", MB, 0.0)]) == [1.5]
    # started while the sender is down: nothing moves until it is back
    assert simulate_flows(_lan(_down("0.5s", "1s"), {}), [("a/w0", "a/w1", MB, 0.6)]) == [2.0]
    # a flow sharing the NIC with a stalled one gets the whole NIC meanwhile (max-min: 0 to the stalled)
    topology = _lan({}, _down("0s", "1s"), {})
    assert simulate_flows(topology, [("a/w0", "a/w1", MB, 0.0), ("a/w0", "a/w2", MB, 0.0)]) == [2.0, 1.0]


def test_nodes_never_relay_so_a_datacenters_down_time_leaves_transit_traffic_alone() -> None:
    spec = tiny_topology((1, 1, 1), wan_bandwidth="10Mbps", latency="0ms")
    spec["lan"] = {"bandwidth": "10Gbps", "latency": 0}
    plain = simulate_flows(load_topology(spec), [("a/w0", "c/w0", MB, 0.0)])
    spec["datacenters"]["b"]["availability"] = {"down": [["0s", "10s"]]}  # b's nodes: its workers and services
    assert simulate_flows(load_topology(spec), [("a/w0", "c/w0", MB, 0.0)]) == plain  # a > b > c: b relays
    assert simulate_flows(load_topology(spec), [("a/w0", "b/w0", MB, 0.0)])[0] > 10.0
    assert simulate_flows(load_topology(spec), [("a/w0", "b/server", MB, 0.0)])[0] > 10.0


# -- the engine -------------------------------------------------------------------------------------
class _Idle:
    def noop(self) -> None:
        return None


def _engine(topology: Any, processes: dict[str, Any], until: float | None = None) -> Engine:
    engine = Engine(topology, InProcessExecutor(), CostTable({"work": 1.0}), header_nbytes=0)
    for node, process in processes.items():
        engine.executor.host(node, _Idle)
        engine.spawn(node, process)
    engine.run(until)
    return engine


def test_a_down_node_sends_nothing_and_receives_when_it_is_back() -> None:
    got: list[tuple[float, float]] = []

    def sender(ctx: NodeContext) -> Generator[Any, Any, None]:
        yield ctx.wait(0.75)  # ends while it is down: it sends when back, at 1.5
        ctx.send("a/w1", b"x" * 10, "ping")

    def receiver(ctx: NodeContext) -> Generator[Any, Any, None]:
        message = yield ctx.recv(kind="ping")
        got.append((message.t_arrive_s, ctx.now_s))

    topology = _lan(_down("0.5s", "1.5s"), _down("1.55s", "2s"), lan={"bandwidth": "10Gbps", "latency": "100ms"})
    engine = _engine(topology, {"a/w0": sender, "a/w1": receiver})
    assert engine.accountant.frame().t_send_s.tolist() == [1.5]
    assert got == [(2.0, 2.0)]  # its bytes left at once; it would arrive at 1.6, while a/w1 is down: at 2.0


def test_a_crash_ends_its_flows_keeping_the_bytes_moved_and_the_message_is_lost() -> None:
    delivered: list[Any] = []

    def sender(ctx: NodeContext) -> Generator[Any, Any, None]:
        delivered.append((yield ctx.send("a/w1", None, "big", nbytes=int(MB))))

    def crashing(ctx: NodeContext) -> Generator[Any, Any, None]:
        yield ctx.recv(kind="big")

    engine = _engine(_lan({}, {"availability": {"crash_at": "0.4s"}}), {"a/w0": sender, "a/w1": crashing})
    row = engine.accountant.frame().iloc[0]
    assert bool(row.lost) and math.isnan(row.t_arrive_s) and delivered == []
    assert row["nbytes"] == row["payload_nbytes"] == pytest.approx(0.4 * MB, abs=1)  # 0.4 s at 10 Mbit/s moved
    assert engine.accountant.total_nbytes == row["nbytes"] == engine.accountant.lan_nbytes


def test_a_message_to_a_node_that_has_crashed_is_lost_at_once() -> None:
    def sender(ctx: NodeContext) -> Generator[Any, Any, None]:
        yield ctx.wait(1.0)
        ctx.send("a/w1", None, "late", nbytes=1000)

    engine = _engine(_lan({}, {"availability": {"crash_at": "0.5s"}}), {"a/w0": sender}, until=5.0)
    row = engine.accountant.frame().iloc[0]
    assert bool(row.lost) and row["nbytes"] == 0 and engine.accountant.total_nbytes == 0


def test_after_the_stop_nothing_is_sent_computed_or_delivered() -> None:
    seen: list[Any] = []

    def process(ctx: NodeContext) -> Generator[Any, Any, None]:
        yield ctx.compute("work", "noop")
        ctx.engine.halt()
        delivery = ctx.send("a/w1", b"x", "after")
        seen.append(delivery.seq)
        seen.append((yield ctx.compute("work", "noop") | ctx.wait(5.0)))

    engine = _engine(_lan({}, {}), {"a/w0": process})
    assert len(engine.accountant) == 0 and seen == [0] and engine.now_s == 1.0


# -- every method: a down interval is silent in its traffic log --------------------------------------
def assert_silent(engine: Engine, node: str, start_s: float, end_s: float) -> None:
    """Nothing sent by ``node``, delivered to it or carried for it in [start_s, end_s): every message of
    its that spans the interval took at least the interval's overlap plus its own transfer time."""
    topology = engine.topology
    for row in engine.accountant.frame().itertuples():
        if node not in (row.src, row.dst):
            continue
        assert not (row.src == node and start_s <= row.t_send_s < end_s), row
        assert not (row.dst == node and start_s <= row.t_arrive_s < end_s), row
        if math.isnan(row.t_arrive_s):
            continue
        overlap_s = min(row.t_arrive_s, end_s) - max(row.t_send_s, start_s)
        links = topology.route(row.src, row.dst).links
        transfer_s = 8 * row.nbytes / min((topology.link_capacity_bps(k) for k in links), default=math.inf)
        assert overlap_s <= 0 or row.t_arrive_s - row.t_send_s >= overlap_s + transfer_s - 1e-12, row


SILENT = [  # (method, the node that goes down)
    ({"name": "local"}, "c/w1"),
    ({"name": "centralized", "server_at": "b"}, "b/w0"),
    ({"name": "ps"}, "c/w1"),
    ({"name": "ps", "consistency": "bounded_delay", "tau": 1}, "c/w1"),
    ({"name": "ps", "consistency": "eventual"}, "c/w1"),
    ({"name": "gaia", "threshold": 0.0}, "c/w1"),
    ({"name": "fedavg"}, "c/w1"),
    ({"name": "fedavg", "offline": "pause"}, "c/w1"),
    ({"name": "mdgan", "swap_every_epochs": 0.2}, "c/w1"),
    ({"name": "sqm", "server_at": "c"}, "c/w1"),
]


@pytest.mark.parametrize(("algorithm", "node"), SILENT, ids=lambda v: "-".join(map(str, v.values()))
                         if isinstance(v, dict) else v)
def test_a_down_interval_is_silent_in_every_methods_traffic_log(algorithm: dict[str, Any], node: str) -> None:
    spec = tiny_topology((2, 1, 2), latency="15ms")
    dc, index = node.split("/w")
    workers = [{} for _ in spec["datacenters"][dc]["workers"] * [0]] if False else \
        [{} for _ in range(spec["datacenters"][dc]["workers"])]
    workers[int(index)] = _down("0.1s", "0.3s")
    spec["datacenters"][dc] = {"workers": workers}
    budget = {"eventual": 100, "fedavg": 8}.get(algorithm.get("consistency", algorithm["name"]), 30)  # past 0.3 s
    method, session = fake_method(algorithm, budget=budget, topology_dict=spec)
    engine = session.drive(method, COSTS)
    assert session.stop_reason is None and session.iteration == budget and engine.now_s > 0.3
    assert_silent(engine, node, 0.1, 0.3)
    frame = engine.accountant.frame()
    if algorithm["name"] == "local":
        assert frame.empty and engine.now_s == pytest.approx(30 * 0.01 + 0.2)  # its 30 steps waited 0.2 s
    else:  # it took part before and after
        mine = frame[(frame.src == node) | (frame.dst == node)]
        assert (mine.t_send_s < 0.1).any() and (mine.t_send_s >= 0.3).any()


def test_a_datacenters_availability_silences_its_service_nodes() -> None:
    """The issue's case: a PS shard whose datacenter is down in [5 ms, 20 ms) answered pulls at 10.1 ms."""
    spec = tiny_topology((2, 1, 2), latency="15ms")
    spec["datacenters"]["a"]["availability"] = {"down": [["5ms", "20ms"]]}
    method, session = fake_method({"name": "ps", "servers": 2, "server_at": ["a", "c"]}, budget=10,
                                  topology_dict=spec)
    engine = session.drive(method, COSTS)
    assert session.iteration == 10
    for node in ("a/ps0", "a/w0", "a/w1"):
        assert_silent(engine, node, 0.005, 0.020)
    answers = engine.accountant.frame().query("src == 'a/ps0'")
    assert not answers.t_send_s.between(0.005, 0.020, inclusive="left").any() and (answers.t_send_s >= 0.02).any()


def test_fedavg_drops_a_client_that_goes_down_mid_round_and_pause_waits_for_it() -> None:
    spec = tiny_topology((2, 1, 2), latency="15ms")
    spec["datacenters"]["c"] = {"workers": [{}, _down("0.02s", "0.3s")]}
    runs = {}
    for rule in ("drop", "pause"):
        method, session = fake_method({"name": "fedavg", "offline": rule}, budget=3, topology_dict=spec)
        runs[rule] = (method, session.drive(method, COSTS))
    drop, drop_engine = runs["drop"]
    assert drop.plan.went_down == [(0, "c/w1")] and drop.plan.dropped == [(0, "c/w1")]
    assert [c for r, c, _ in drop.plan.averaged if r == 0] == ["a/w0", "a/w1", "b/w0", "c/w0"]
    assert len(drop_engine.accountant.frame().query("src == 'c/w1'")) == 0  # it abandoned the round
    record = drop.results()  # summary.json's method_results: the server's own record of each reply
    assert record["went_down"] == record["dropped"] == [[0, "c/w1"]] and record["replies_went_down"] == 1
    assert record["replies_averaged"] == len(record["averaged"]) == len(drop.plan.averaged)
    pause, pause_engine = runs["pause"]
    assert pause.plan.dropped == [] and len(pause.plan.averaged) == 3 * 5
    assert drop_engine.now_s + 0.1 < pause_engine.now_s  # round 0 waited for it to come back
