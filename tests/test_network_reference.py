"""The fast network core against the simple reference implementation on random scenarios.

Why: ``testbed/sim/network.py`` recomputes max-min rates only for the classes an event can reach and
keeps lazy per-class counters and event heaps; a mistake there would shift completion times
without failing the hand-worked examples in ``test_network.py``.  ``network_reference.py`` is the
previous implementation (every event recomputes every class's rate; it matched SimGrid to 5e-14),
so here both run the same random scenarios -- random meshes with asymmetric and time-varying links,
outages, nodes that go down (their NICs carry 0 meanwhile: testbed.sim.link_schedule, which both
models read), slow NICs, jitter, TCP caps and slow start, bursts of simultaneous starts, zero-byte and
self-addressed flows -- and must agree on every completion time and every link's busy time.
"""

from __future__ import annotations

import math
import signal
from collections.abc import Iterator
from typing import Any

import network_reference as ref
import numpy as np
import pytest

from testbed.sim.maxmin import MaxMinRates
from testbed.sim.network import FlowNetwork, simulate_flows
from testbed.sim.tcp import TcpModel
from testbed.topology.model import Topology
from testbed.topology.schema import load_topology

REL = 1e-9
Flow = tuple[str, str, float, float]


@pytest.fixture(autouse=True)
def _fail_instead_of_hanging() -> Iterator[None]:
    """A model that stops advancing time should fail the test, not hang the suite."""
    def give_up(*_: object) -> None:
        raise TimeoutError("the network model stopped advancing time")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, 120.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _mbps(rng: np.random.Generator, low: float, high: float) -> str:
    return f"{float(np.exp(rng.uniform(math.log(low), math.log(high)))):.6g}Mbps"


def random_topology(rng: np.random.Generator, down: np.random.Generator | None = None) -> Topology:
    """A connected mesh of 1-5 DCs with random LANs, links, profiles and outages; with ``down``, some
    workers (or a whole datacenter) go down for a while or on and off (drawn from ``down`` only, so
    the rest of the scenario is what ``rng`` alone gives)."""
    n_dc = int(rng.integers(1, 6))
    names = [f"d{i}" for i in range(n_dc)]
    lan: dict[str, Any] = {"latency": f"{rng.choice([0, 0.1, 1])}ms"}
    lan["bandwidth"] = (_mbps(rng, 5, 200) if rng.random() < 0.4 else "10Gbps")
    if rng.random() < 0.2:
        lan["jitter"] = "0.2ms"
    dcs: dict[str, Any] = {}
    for name in names:
        dc: dict[str, Any] = {"workers": int(rng.integers(1, 4))}
        if rng.random() < 0.25:
            dc["lan"] = {"bandwidth": {"up": _mbps(rng, 5, 100), "down": _mbps(rng, 5, 100)}, "latency": "0.5ms"}
        dcs[name] = dc
    pairs = [(names[i - 1], names[i]) for i in range(1, n_dc)]  # a chain keeps it connected
    pairs += [(a, b) for i, a in enumerate(names) for b in names[i + 1:] if (a, b) not in pairs and rng.random() < 0.4]
    links = []
    for a, b in pairs:
        link: dict[str, Any] = {"between": [a, b], "latency": f"{rng.uniform(0, 60):.3f}ms"}
        link["bandwidth"] = ([_mbps(rng, 1, 100), _mbps(rng, 1, 100)] if rng.random() < 0.3
                             else _mbps(rng, 1, 100))
        if rng.random() < 0.2:
            link["jitter"] = f"{rng.uniform(0, 5):.3f}ms"
        if rng.random() < 0.2:
            link["loss"] = float(rng.choice([1e-4, 1e-3]))
        if rng.random() < 0.3:
            times = np.sort(rng.uniform(0, 8, size=int(rng.integers(1, 4))))
            link["profile"] = [[f"{t:.4f}s", _mbps(rng, 0.5, 100)] + ([f"{rng.uniform(1, 50):.2f}ms"]
                               if rng.random() < 0.3 else []) for t in times]
        if rng.random() < 0.25:
            start = float(rng.uniform(0, 6))
            link["outages"] = [[f"{start:.4f}s", f"{start + rng.uniform(0.01, 2):.4f}s"]]
        links.append(link)
    for dc in dcs.values() if down is not None else ():
        draw = down.random()
        if draw < 0.15:
            dc["availability"] = {"down": [[f"{down.uniform(0, 4):.4f}s", f"{down.uniform(4, 6):.4f}s"]]}
        elif draw < 0.5:
            workers = []
            for _ in range(dc["workers"]):
                start = float(down.uniform(0, 6))
                workers.append({"availability": {"down": [[f"{start:.4f}s", f"{start + down.uniform(0.01, 2):.4f}s"]]}}
                               if down.random() < 0.5 else {"availability": {"mean_up": "1.5s", "mean_down": "0.4s"}}
                               if down.random() < 0.3 else {})
            dc["workers"] = workers
    return load_topology({"lan": lan, "datacenters": dcs, "links": links})


def random_flows(topology: Topology, rng: np.random.Generator, n: int) -> list[Flow]:
    """``n`` flows: random pairs (some to themselves), sizes 0 to 10 MB, bursts of equal start times."""
    nodes = topology.nodes
    starts = list(np.round(rng.uniform(0, 5, size=n), 3))
    for i in range(1, n):  # about a third start together with an earlier flow
        if rng.random() < 0.35:
            starts[i] = starts[int(rng.integers(i))]
    flows = []
    for t in starts:
        src = nodes[int(rng.integers(len(nodes)))]
        dst = src if rng.random() < 0.05 else nodes[int(rng.integers(len(nodes)))]
        kind = rng.random()
        nbytes = 0.0 if kind < 0.05 else float(np.exp(rng.uniform(math.log(1e3), math.log(1e7))))
        flows.append((src, dst, nbytes, float(t)))
    return flows


def drive(net_cls: type, topology: Topology, flows: list[Flow], seed: int,
          tcp: TcpModel | None) -> tuple[list[tuple[int, float, float]], dict]:
    """Run ``flows`` through ``net_cls`` the way the engine does; (completions in order, busy time per link)."""
    net = net_cls(topology, seed=seed, tcp=tcp)
    done: list[tuple[int, float, float]] = []
    for src, dst, nbytes, start_s in sorted(flows, key=lambda f: f[3]):
        done += [(c.flow_id, c.drain_end_s, c.arrival_s) for c in net.advance(start_s)]
        net.next_event_s()
        net.start_flow(src, dst, nbytes, start_s)
    while len(done) < len(flows):
        t = net.next_event_s()
        assert math.isfinite(t)
        done += [(c.flow_id, c.drain_end_s, c.arrival_s) for c in net.advance(t)]
    return done, net.link_busy_s()


def _same_times(got: list[float], want: list[float]) -> None:
    assert got == pytest.approx(want, rel=REL, abs=1e-12)


@pytest.mark.parametrize("block", range(8))
def test_random_scenarios_match_the_reference(block: int) -> None:
    for seed in range(block * 40, block * 40 + 40):
        rng = np.random.default_rng(seed)
        topology = random_topology(rng, np.random.default_rng([seed, 1]) if seed % 2 else None)
        flows = random_flows(topology, rng, int(rng.integers(1, 40)))
        tcp = [None, TcpModel(), TcpModel(window_nbytes=65536)][seed % 3]
        got = simulate_flows(topology, flows, seed=seed, tcp=tcp)
        want = ref.simulate_flows(topology, flows, seed=seed, tcp=tcp)
        _same_times(got, want)
        if seed % 4 == 0:  # the event-driven form: same completions, same link busy times
            got_done, got_busy = drive(FlowNetwork, topology, flows, seed, tcp)
            want_done, want_busy = drive(ref.FlowNetwork, topology, flows, seed, tcp)
            assert sorted(f for f, _, _ in got_done) == sorted(f for f, _, _ in want_done)
            got_by_id = {f: (d, a) for f, d, a in got_done}
            for f, d, a in want_done:
                _same_times(list(got_by_id[f]), [d, a])
            assert set(got_busy) == set(want_busy)
            for key, busy_s in want_busy.items():
                assert got_busy[key] == pytest.approx(busy_s, rel=REL, abs=1e-9), key


@pytest.mark.parametrize("scenario", ["burst", "poisson"])
def test_geo11_scale_matches_the_reference(scenario: str) -> None:
    # Hundreds of concurrent flows over all 462 routes of geo-11, where most events touch few classes.
    topology = load_topology("topologies/geo-11.yaml")
    rng = np.random.default_rng(11)
    n = 300
    nodes = topology.nodes
    src = rng.integers(len(nodes), size=n)
    dst = (src + rng.integers(1, len(nodes), size=n)) % len(nodes)
    nbytes = np.exp(rng.uniform(math.log(1e4), math.log(1e8), size=n))
    start = np.zeros(n) if scenario == "burst" else np.cumsum(rng.exponential(1 / 150, size=n))
    flows = [(nodes[s], nodes[d], float(b), float(t)) for s, d, b, t in zip(src, dst, nbytes, start, strict=True)]
    _same_times(simulate_flows(topology, flows), ref.simulate_flows(topology, flows))


def test_incremental_max_min_matches_the_reference_solver_on_random_problems() -> None:
    """testbed.sim.maxmin.MaxMinRates (re-solves only what a change reaches) against the reference's
    one-shot progressive filling, on a fresh problem and again after random count and capacity changes."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        n_links, n_cls = int(rng.integers(1, 8)), int(rng.integers(1, 10))
        capacity = rng.uniform(0, 10, size=n_links) * (rng.random(n_links) > 0.1)
        counts = rng.integers(0, 4, size=n_cls).astype(float)
        caps = np.where(rng.random(n_cls) < 0.3, rng.uniform(0.1, 5, size=n_cls), math.inf)
        entries = [(c, link) for c in range(n_cls) for link in range(n_links) if rng.random() < 0.4]
        entries += [(c, int(rng.integers(n_links))) for c in range(n_cls) if all(e[0] != c for e in entries)]
        cls_of_entry = np.array([c for c, _ in entries])
        link_of_entry = np.array([link for _, link in entries])
        solver = MaxMinRates()
        for cap in capacity:
            solver.add_link(float(cap))
        for c in range(n_cls):
            solver.add_class(tuple(int(link) for cls, link in entries if cls == c), float(caps[c]))
        for step in range(2):
            if step:  # change some counts and capacities: the incremental path
                counts = np.where(rng.random(n_cls) < 0.5, rng.integers(0, 4, size=n_cls), counts).astype(float)
                capacity = np.where(rng.random(n_links) < 0.3, rng.uniform(0, 10, size=n_links), capacity)
                for link, cap in enumerate(capacity):
                    if cap != solver.capacity_nbytes_per_s[link]:
                        solver.set_capacity(link, float(cap))
            for c in range(n_cls):
                if counts[c] != solver.count[c]:
                    solver.set_count(c, int(counts[c]))
            solver.update(float(step))
            want = ref.max_min_rates(capacity, counts, caps, cls_of_entry, link_of_entry)
            got = [rate if counts[c] > 0 else 0.0 for c, rate in enumerate(solver.rate_nbytes_per_s)]
            assert got == pytest.approx(list(want), rel=1e-9, abs=1e-12)
