"""Availability, crashes, speed profiles and slowdowns (testbed.sim.node_clock): exact, seeded, and static by default.

Why: churn and stragglers must change virtual time by exactly what the topology says -- a down interval
is honoured to the instant, a speed step or a slowdown factor scales the charge by exactly its amount --
and a topology without these keys must charge exactly as before.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Generator
from typing import Any

import numpy as np
import pytest
from conftest import tiny_topology

from testbed.exec.executor import InProcessExecutor
from testbed.sim.compute import CostTable
from testbed.sim.engine import Engine, NodeContext
from testbed.sim.node_clock import NodeClock
from testbed.topology.schema import load_topology


def _topology(**worker: Any) -> Any:
    topo = tiny_topology((2, 1))
    topo["datacenters"]["a"] = {"workers": [worker, {}]}
    return load_topology(topo)


def test_down_intervals_and_crash_are_honoured_exactly() -> None:
    clock = NodeClock(_topology(availability={"down": [["1s", "2s"]], "crash_at": "5s"}), seed=0)
    node = "a/w0"
    assert [clock.available(node, t) for t in (0.0, 0.999, 1.0, 1.999, 2.0, 4.999, 5.0, 99.0)] == [
        True, True, False, False, True, True, False, False]
    assert [clock.next_change_s(node, t) for t in (0.0, 1.0, 1.5, 2.0, 5.0)] == [1.0, 2.0, 2.0, 5.0, math.inf]
    assert clock.crash_time_s(node) == 5.0
    assert clock.available("a/w1", 1.5) and clock.next_change_s("a/w1", 0.0) == math.inf


def test_datacenter_availability_covers_its_service_nodes_and_workers_without_their_own() -> None:
    topo = tiny_topology((2, 1))
    topo["datacenters"]["a"] = {"workers": [{"availability": {"crash_at": "9s"}}, {}],
                                "availability": {"down": [["1s", "2s"]]}}
    clock = NodeClock(load_topology(topo), seed=0)
    assert not clock.available("a/server", 1.5) and not clock.available("a/w1", 1.5)
    assert clock.available("a/w0", 1.5) and not clock.available("a/w0", 9.0)  # its own setting wins
    assert clock.available("b/w0", 1.5)


def test_on_off_model_is_seeded_and_has_the_configured_means() -> None:
    topology = _topology(availability={"mean_up": "30s", "mean_down": "10s"})
    grid = np.arange(0.0, 40_000.0, 1.0)
    ups = [[NodeClock(topology, seed).available("a/w0", t) for t in grid[:500]] for seed in (0, 0, 1)]
    assert ups[0] == ups[1] and ups[0] != ups[2]
    clock = NodeClock(topology, seed=3)
    up_fraction = np.mean([clock.available("a/w0", t) for t in grid])
    assert up_fraction == pytest.approx(0.75, abs=0.03)  # 30 / (30 + 10)
    t, changes = 0.0, 0
    while t < 20_000.0:  # next_change_s walks the toggles and the state flips at each
        after = clock.next_change_s("a/w0", t)
        assert clock.available("a/w0", after) != clock.available("a/w0", t)
        t, changes = after, changes + 1
    assert changes == pytest.approx(1000, rel=0.1)  # two per 40 s cycle


def _charge(topology: Any, costs_s: dict[str, float], calls: list[str], node: str = "a/w0", seed: int = 0,
            start_s: float = 0.0) -> list[float]:
    """Finish times of ``calls`` (task kinds, one compute each) run back to back on ``node`` from ``start_s``."""
    engine = Engine(topology, InProcessExecutor(), CostTable(costs_s), seed=seed)
    engine.executor.host(node, _Idle)
    finished: list[float] = []

    def process(ctx: NodeContext) -> Generator[Any, Any, None]:
        yield ctx.wait(start_s)
        for kind in calls:
            yield ctx.compute(kind, "noop")
            finished.append(ctx.now_s)

    engine.spawn(node, process)
    engine.run()
    return finished


class _Idle:
    def noop(self) -> None:
        return None


def test_static_topology_charges_cost_over_speed() -> None:
    assert _charge(_topology(speed=0.5), {"work": 1.0}, ["work", "work"]) == [2.0, 4.0]


def test_speed_profile_integrates_exactly() -> None:
    topology = _topology(speed=1.0, speed_profile=[["1s", 0.5], ["5s", 2.0]])
    # 2 s of work from 0: 1 s at speed 1, then 1 s of work at 0.5 takes 2 s -> 3.0; the next 2 s of
    # work: 2 s at 0.5 until 5 s gives 1 s, the last 1 s at speed 2 takes 0.5 s -> 5.5
    assert _charge(topology, {"work": 2.0}, ["work", "work"]) == [3.0, 5.5]


def test_down_time_pauses_compute_and_a_node_that_is_down_starts_when_back() -> None:
    topology = _topology(availability={"down": [["0.5s", "1.5s"]]})
    assert _charge(topology, {"work": 1.0}, ["work"]) == [2.0]  # 0.5 before, 1 s paused, 0.5 after
    assert _charge(topology, {"work": 1.0}, ["work"], start_s=0.75) == [2.5]


def test_bernoulli_slowdown_multiplies_by_exactly_its_factor() -> None:
    always = _topology(slowdown={"p": 1.0, "factor": 5})
    assert _charge(always, {"work": 0.5}, ["work", "work"]) == [2.5, 5.0]
    never = _topology(slowdown={"p": 0.0, "factor": 5})
    assert _charge(never, {"work": 0.5}, ["work", "work"]) == [0.5, 1.0]


def test_lognormal_slowdown_is_the_seeded_draw_per_call() -> None:
    topology = _topology(slowdown={"lognormal": {"sigma": 0.5}})
    finished = _charge(topology, {"work": 1.0}, ["work"] * 4, seed=7)
    rng = np.random.default_rng([7, zlib.crc32(b"a/w0"), 2])
    expected = np.cumsum([math.exp(0.5 * rng.standard_normal()) for _ in range(4)])
    assert finished == pytest.approx(list(expected), rel=1e-12)
    assert _charge(topology, {"work": 1.0}, ["work"] * 4, seed=7) == finished
    assert _charge(topology, {"work": 1.0}, ["work"] * 4, seed=8) != finished


def test_a_crashed_node_stops_and_listeners_hear_it() -> None:
    topology = _topology(availability={"crash_at": "2.5s"})
    engine = Engine(topology, InProcessExecutor(), CostTable({"work": 1.0}))
    engine.executor.host("a/w0", _Idle)
    done: list[float] = []
    heard: list[tuple[str, float]] = []
    engine.on_crash(lambda node: heard.append((node, engine.now_s)))

    def process(ctx: NodeContext) -> Generator[Any, Any, None]:
        while True:
            yield ctx.compute("work", "noop")
            done.append(ctx.now_s)

    engine.spawn("a/w0", process)
    engine.run()
    assert done == [1.0, 2.0] and heard == [("a/w0", 2.5)]


def test_topology_without_dynamics_is_static() -> None:
    assert load_topology(tiny_topology((2, 1))).static
    assert not _topology(slowdown={"p": 0.5, "factor": 2}).static
