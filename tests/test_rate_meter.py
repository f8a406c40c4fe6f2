"""The WAN rate meter: bytes per window equal the exact max-min schedule, and a run reports peak and mean.

Why: "peak WAN bandwidth" is a claim a paper makes (Streaming DiLoCo); the number must be the bytes the
links carried, window by window, not an estimate from message sizes.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from testbed.exec.executor import InProcessExecutor
from testbed.experiment.launch import run_experiment
from testbed.experiment.spec import load_experiment
from testbed.sim.network import FlowNetwork
from testbed.sim.rate_meter import RateMeter
from testbed.topology.schema import load_topology

TOPO = {"name": "t", "lan": {"bandwidth": "100Gbps", "latency": 0},
        "datacenters": {"a": {"workers": 2}, "b": {"workers": 1}},
        "links": [{"between": ["a", "b"], "bandwidth": "10Mbps", "latency": 0}]}


def _drain(net: FlowNetwork) -> None:
    while math.isfinite(t := net.next_event_s()):
        net.advance(t)


def test_one_flow_is_spread_over_the_windows_it_spans() -> None:
    meter = RateMeter(0.5)
    net = FlowNetwork(load_topology(TOPO), meter=meter)
    net.advance(0.25)
    net.start_flow("a/w0", "b/w0", 1_000_000, 0.25)  # 1.25 MB/s: drains in 0.8 s, until 1.05 s
    _drain(net)
    meter.finish(net.now_s)
    assert [bps * 0.5 / 8 for bps in meter.series_bps(1.5)] == pytest.approx([312_500.0, 625_000.0, 62_500.0])
    summary = meter.summary(1.5)
    assert summary["peak_bps"] == pytest.approx(10e6) and summary["peak_at_s"] == 0.5
    assert summary["mean_bps"] == pytest.approx(8e6 / 1.5)
    assert summary["by_link"]["a->b"]["mean_bps"] == pytest.approx(8e6 / 1.5)


def test_two_flows_share_the_link_and_the_meter_sees_the_sum() -> None:
    meter = RateMeter(0.1)
    net = FlowNetwork(load_topology(TOPO), meter=meter)
    net.start_flow("a/w0", "b/w0", 1_000_000, 0.0)
    net.advance(0.4)
    net.start_flow("a/w1", "b/w0", 1_000_000, 0.4)  # the worked example of docs/design.md: ends 1.2 s, 1.6 s
    _drain(net)
    meter.freeze(net.now_s)
    series = meter.series_bps(1.6)
    assert series == pytest.approx([10e6] * 16)  # the link is full throughout, whoever shares it
    assert sum(series) * 0.1 / 8 == pytest.approx(2_000_000) and meter.links == [("a", "b")]


def test_a_long_constant_stretch_costs_one_range_and_a_long_run_merges_windows() -> None:
    """A flow at one rate for 10^9 windows is one range, not 10^9 entries; a report of a run longer than
    MAX_WINDOWS windows merges them (exactly: the bytes stay the bytes)."""
    from testbed.sim.rate_meter import MAX_WINDOWS

    meter = RateMeter(1e-3)
    meter.set_rate(0, (("a", "b"),), 0.25e-3, 1000.0)  # 1000 B/s from 0.25 ms ...
    meter.set_rate(1, (("b", "a"),), 0.0, 10.0)
    meter.set_rate(0, (("a", "b"),), 1e6, 0.0)  # ... to 10^6 s: 10^9 windows
    meter.freeze(2e6)
    assert sum(len(w) for w in meter._carried.windows.values()) <= 4
    k = meter.merged(2e6)
    assert k == math.ceil(2e9 / MAX_WINDOWS)
    series = meter.series_bps(2e6, [("a", "b")])
    width = meter.window_s * k
    assert len(series) == MAX_WINDOWS and sum(series) * width / 8 == pytest.approx(1000.0 * (1e6 - 0.25e-3))
    assert series[0] == pytest.approx(8000.0 * (width - 0.25e-3) / width) and series[-1] == 0.0
    summary = meter.summary(2e6)
    assert summary["window_s"] == pytest.approx(width) and summary["by_link"]["b->a"]["mean_bps"] == pytest.approx(80)


def test_a_run_reports_peak_and_mean_wan_bandwidth(experiment, tmp_path) -> None:
    spec = load_experiment(experiment({"name": "fedavg", "client_fraction": 0.5}, max_iterations=3,
                                      network={"rate_window": "10ms"}))
    out = run_experiment(spec, tmp_path / "run", executor=InProcessExecutor(), progress=False)
    summary = json.loads((out / "summary.json").read_text())
    bandwidth = summary["wan_bandwidth"]
    assert bandwidth["window_s"] == 0.01
    assert bandwidth["mean_bps"] == pytest.approx(8 * summary["wan_bytes"] / summary["virtual_time_s"], rel=1e-9)
    assert bandwidth["peak_bps"] >= bandwidth["mean_bps"] > 0
    rates = pd.read_csv(out / "wan_rate.csv")
    assert set(rates.link) == {"a->b", "b->a"}
    assert (rates.bps * 0.01).sum() / 8 == pytest.approx(summary["wan_bytes"], rel=1e-6)
