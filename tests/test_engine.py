"""The virtual-time engine: compute, send, recv against hand-computed times."""

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from testbed.core.payload import HEADER_NBYTES
from testbed.exec.executor import InProcessExecutor
from testbed.methods.common.timing import median_seconds
from testbed.sim.compute import CostTable, MeasuredCompute, calibrate, make_compute_model
from testbed.sim.engine import Engine, RealtimeEngine
from testbed.topology.schema import load_topology

MB = 1_000_000
TOPO = {
    "lan": {"bandwidth": "1Tbps", "latency": 0},
    "datacenters": {"a": {"workers": [{"speed": 1.0}, {"speed": 0.25}]}, "b": {"workers": 2}},
    "links": [{"between": ["a", "b"], "bandwidth": "10Mbps", "latency": "10ms", "egress_usd_per_gb": 0.02}],
}


class Box:
    """A tiny node state: holds an array, can scale it."""

    def __init__(self, nbytes: int = 0) -> None:
        self.value = np.zeros(nbytes // 4, dtype=np.float32)

    def payload(self) -> dict:
        return {"v": self.value}

    def add(self, other: dict) -> float:
        self.value = self.value + other["v"]
        return float(self.value.sum())


def make_engine(costs: dict | None = None, header: int = 0) -> Engine:
    executor = InProcessExecutor()
    return Engine(load_topology(TOPO), executor, CostTable(costs or {"work": 1.0}), header_nbytes=header)


def test_worked_example_through_the_engine() -> None:
    engine = make_engine()
    arrivals = {}

    def sender(ctx, dst, start_s):
        yield ctx.wait(start_s)
        yield ctx.send(dst, np.zeros(MB // 4, np.float32), "params_g")

    def receiver(ctx):
        msg = yield ctx.recv()
        arrivals[ctx.node_id] = msg.t_arrive_s

    engine.spawn("a/w0", lambda ctx: sender(ctx, "b/w0", 0.0))
    engine.spawn("a/w1", lambda ctx: sender(ctx, "b/w1", 0.4))
    engine.spawn("b/w0", receiver)
    engine.spawn("b/w1", receiver)
    engine.run()
    # docs/design.md §2: 1.2 s and 1.6 s to drain, plus the 10 ms link latency.
    assert arrivals == pytest.approx({"b/w0": 1.21, "b/w1": 1.61}, rel=1e-12)


def test_compute_is_scaled_by_speed_and_handles_travel() -> None:
    engine = make_engine({"work": 2.0})
    executor = engine.executor
    executor.host("a/w1", Box, 400)
    executor.host("b/w0", Box, 400)
    result = {}

    def slow_worker(ctx):
        handle = yield ctx.compute("work", "payload")  # speed 0.25: 2 s / 0.25 = 8 s
        result["computed_at"] = ctx.now_s
        yield ctx.send("b/w0", handle, "params_d")

    def server(ctx):
        msg = yield ctx.recv(kind="params_d")
        total = yield ctx.compute("work", "add", msg.payload)  # speed 1: 2 s
        result["total"] = ctx.resolve(total)
        result["done_at"] = ctx.now_s

    engine.spawn("a/w1", slow_worker)
    engine.spawn("b/w0", server)
    engine.run()
    assert result["computed_at"] == pytest.approx(8.0)
    # 400 B at 10 Mbit/s = 0.32 ms, + 10 ms latency, + 2 s compute.
    assert result["done_at"] == pytest.approx(8.0 + 400 * 8 / 10e6 + 0.010 + 2.0, rel=1e-12)
    assert result["total"] == 0.0
    stats = engine.stats
    assert stats["a/w1"].compute_s == pytest.approx(8.0) and stats["a/w1"].tasks == {"work": 1}
    # The server waited 8 s for the message to be sent, then 10.32 ms while it was in flight.
    assert stats["b/w0"].waiting_s == pytest.approx(8.0)
    assert stats["b/w0"].communication_s == pytest.approx(0.01032, rel=1e-9)


def test_recv_filters_by_kind_and_source() -> None:
    engine = make_engine()
    got = []

    def sender(ctx, kind):
        yield ctx.send("b/w0", np.zeros(1, np.float32), kind)

    def receiver(ctx):
        msg = yield ctx.recv(kind="feedback", src="a/w1")
        got.append((msg.src, msg.kind))
        msg = yield ctx.recv()
        got.append((msg.src, msg.kind))

    engine.spawn("a/w0", lambda ctx: sender(ctx, "samples"))
    engine.spawn("a/w1", lambda ctx: sender(ctx, "feedback"))
    engine.spawn("b/w0", receiver)
    engine.run()
    assert got == [("a/w1", "feedback"), ("a/w0", "samples")]


def test_accountant_records_every_message_with_header_and_egress(tmp_path: Path) -> None:
    engine = make_engine(header=HEADER_NBYTES)

    def proc(ctx):
        yield ctx.send("b/w0", {"x": np.zeros(250_000, np.float32)}, "params_g")  # 1 MB over the WAN
        yield ctx.send("a/w1", {"x": np.zeros(10, np.float32)}, "grads_g")  # 40 B in the LAN

    engine.spawn("a/w0", proc)
    engine.run()
    acc = engine.accountant
    frame = acc.frame()
    assert list(frame["payload_nbytes"]) == [MB, 40]
    assert list(frame["nbytes"]) == [MB + HEADER_NBYTES, 40 + HEADER_NBYTES]
    assert list(frame["scope"]) == ["wan", "lan"]
    assert frame.loc[0, "path"] == "a/w0 > a > b > b/w0"
    assert frame.loc[0, "egress_usd"] == pytest.approx((MB + HEADER_NBYTES) / 1e9 * 0.02)
    assert frame.loc[1, "egress_usd"] == 0.0
    assert frame.loc[0, "t_arrive_s"] == pytest.approx((MB + HEADER_NBYTES) * 8 / 10e6 + 0.01)
    assert acc.bytes_by_kind() == {"grads_g": 40, "params_g": MB}
    assert acc.bytes_by_kind(scope="wan") == {"params_g": MB}
    assert (acc.wan_nbytes, acc.lan_nbytes) == (MB + HEADER_NBYTES, 40 + HEADER_NBYTES)

    duration = engine.now_s
    acc.write(tmp_path, engine.network.link_busy_s(), duration)
    assert pd.read_parquet(tmp_path / "traffic.parquet").equals(frame)
    links = pd.read_csv(tmp_path / "links.csv").set_index("link")
    wan = links.loc["a<->b"]
    assert (wan.bytes_ab, wan.bytes_ba) == (MB + HEADER_NBYTES, 0)
    assert wan.busy_s_ab == pytest.approx((MB + HEADER_NBYTES) * 8 / 10e6)
    assert wan.utilisation_ab == pytest.approx((MB + HEADER_NBYTES) * 8 / (10e6 * duration))
    assert links.loc["a/w0<->a", "bytes_ab"] == MB + 40 + 2 * HEADER_NBYTES  # NIC up carried both


def test_multi_hop_egress_is_charged_per_wan_hop() -> None:
    topo = load_topology({"datacenters": {"a": {}, "b": {}, "c": {}},
                          "links": [{"between": ["a", "b"], "bandwidth": "1Gbps", "latency": "5ms",
                                     "egress_usd_per_gb": 0.02},
                                    {"between": ["b", "c"], "bandwidth": "1Gbps", "latency": "5ms",
                                     "egress_usd_per_gb": 0.08}]})
    engine = Engine(topo, InProcessExecutor(), CostTable({}), header_nbytes=0)

    def ship(ctx):
        yield ctx.send("c/w0", None, "raw_data", nbytes=250_000_000)

    engine.spawn("a/w0", ship)
    engine.run()
    assert engine.accountant.egress_usd == pytest.approx(0.25 * (0.02 + 0.08))


def test_same_run_twice_gives_identical_traffic() -> None:
    def run_once() -> pd.DataFrame:
        engine = make_engine()

        def chatter(ctx, dst):
            for i in range(5):
                yield ctx.send(dst, np.zeros(1000 * (i + 1), np.float32), "grads_d")
                yield ctx.compute("work", "__class__")

        engine.executor.host("a/w0", Box)
        engine.executor.host("b/w1", Box)
        engine.spawn("a/w0", lambda ctx: chatter(ctx, "b/w1"))
        engine.spawn("b/w1", lambda ctx: chatter(ctx, "a/w0"))
        engine.run()
        return engine.accountant.frame()

    assert run_once().equals(run_once())


def test_compute_models_registry_and_calibration() -> None:
    assert make_compute_model("fixed", costs={"d_step": 0.5}).duration_s("d_step", 0.5) == 1.0
    with pytest.raises(KeyError, match="no compute cost"):
        make_compute_model("fixed", costs={}).duration_s("g_step", 1.0)
    with pytest.raises(KeyError, match="unknown compute model"):
        make_compute_model("guess")
    executor = InProcessExecutor()
    executor.host("a/w0", Box, 4000)
    table = calibrate(lambda kind: median_seconds(lambda: executor.call("a/w0", "payload"), 3), ["payload"])
    assert table.name == "calibrated" and 0 < table.costs()["payload"] < 1.0
    measured = MeasuredCompute()
    assert measured.duration_s("x", 2.0, measured_s=0.5) == 0.25 and measured.costs() == {"x": 0.5}


def test_realtime_engine_follows_the_wall_clock() -> None:
    engine = RealtimeEngine(load_topology(TOPO), InProcessExecutor(), CostTable({}), time_scale=0.2)

    def sleeper(ctx):
        yield ctx.wait(1.0)

    engine.spawn("a/w0", sleeper)
    start = time.perf_counter()
    engine.run()
    elapsed = time.perf_counter() - start
    assert engine.now_s == pytest.approx(1.0)
    assert 0.18 <= elapsed < 1.0  # 1 virtual second at 0.2 wall s per virtual s
