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


def with_background(topology_rng: np.random.Generator, tmp_path: Any) -> Topology:
    """A random multi-datacenter topology whose links carry random cross-traffic: constant and time-varying
    offered rates (capped streams) and Poisson elastic flows, some in one direction only."""
    import yaml

    rng = topology_rng
    while True:
        base = random_topology(rng)
        if base.links:
            break
    raw = {"lan": {"bandwidth": "10Gbps", "latency": "0.1ms"},
           "datacenters": {dc.name: {"workers": len(dc.workers)} for dc in base.datacenters},
           "links": []}
    for i, link in enumerate(base.links):
        spec: dict[str, Any] = {"between": [link.a, link.b], "bandwidth": f"{link.bandwidth_ab_bps:.6g}bps",
                                "latency": f"{link.latency_s * 1e3:.6g}ms"}
        if link.outages:
            spec["outages"] = [[f"{a!r}s", f"{b!r}s"] for a, b in link.outages]
        sources: list[dict[str, Any]] = []
        capacity_bps = min(link.bandwidth_ab_bps, link.bandwidth_ba_bps)  # each source offers up to half of it
        if rng.random() < 0.5:
            sources.append({"rate": f"{rng.uniform(0.05, 0.5) * capacity_bps:.6g}bps"})
        if rng.random() < 0.5:
            flows_per_s = rng.uniform(0.1, 0.5) * capacity_bps / 8 / 100e3
            sources.append({"poisson": {"flows_per_s": float(flows_per_s), "mean_size": "100KB"}})
        if rng.random() < 0.4:
            path = tmp_path / f"load-{i}.csv"
            steps = np.sort(rng.uniform(0, 4, size=3))
            path.write_text("t_s,rate_bps\n" + "".join(f"{float(t)!r},{float(rng.uniform(0, 0.5) * capacity_bps)!r}\n"
                                                       for t in steps) + f"{float(steps[-1]) + 0.5!r},0\n")
            sources.append({"load_csv": str(path)})
        for source in sources:
            if rng.random() < 0.3:
                source["from"] = link.a
        if sources:
            spec["background"] = sources
        raw["links"].append(spec)
    return load_topology(yaml.safe_load(yaml.safe_dump(raw)))


def drive_reference_with_background(topology: Topology, flows: list[Flow], seed: int) -> tuple[dict, list]:
    """The reference network fed the run's flows and the same background events (testbed.sim.background) in
    the order the shared network applies them: run completions by flow, and each elastic background flow's
    [start, drain end] in start order (a capped stream is a flow of its own per offered rate here, one
    flow whose cap changes there: the same max-min allocation)."""
    from testbed.sim.background import BackgroundTraffic
    from testbed.sim.cross_traffic import STREAM_NBYTES

    net, events = ref.FlowNetwork(topology, seed=seed), BackgroundTraffic(topology, seed)
    starts = sorted(flows, key=lambda f: f[3])
    run_ids: dict[int, int] = {}
    bg_ids: dict[int, int] = {}
    streams: dict[tuple[Any, int], int] = {}
    log: list[list[float]] = []
    done: dict[int, tuple[float, float]] = {}
    i = 0
    while len(done) < len(flows):
        t = min(events.next_s(), starts[i][3] if i < len(starts) else math.inf, net.next_event_s())
        assert math.isfinite(t)
        for c in net.advance(t):
            if c.flow_id in bg_ids:
                log[bg_ids.pop(c.flow_id)][1] = c.drain_end_s
            else:
                done[run_ids[c.flow_id]] = (c.drain_end_s, c.arrival_s)
        for kind, link, value, source in events.pop_due(t):
            if kind == "flow":
                bg_ids[net.start_link_flow(link, value, t)] = len(log)
                log.append([t, math.nan])
                if value <= 0:
                    log[-1][1] = t
            else:
                old = streams.pop((link, source), None)
                if old is not None:  # a new offered rate: the stream's flow continues under a new cap
                    net.end_flow(old, t)
                if value > 0:
                    streams[(link, source)] = net.start_link_flow(link, STREAM_NBYTES, t, cap_bps=value)
        while i < len(starts) and starts[i][3] <= t:
            src, dst, nbytes, start_s = starts[i]
            run_ids[net.start_flow(src, dst, nbytes, start_s)] = flows.index(starts[i])
            i += 1
    return done, log


@pytest.mark.parametrize("block", range(3))
def test_background_traffic_matches_the_reference(block: int, tmp_path: Any) -> None:
    """Cross-traffic (testbed.sim.cross_traffic) shares the links max-min with the run's flows exactly as the
    reference solver does: the same completion time for every run flow and every background flow."""
    from testbed.sim.cross_traffic import SharedNetwork

    compared = 0
    for seed in range(block * 12, block * 12 + 12):
        rng = np.random.default_rng(1000 + seed)
        topology = with_background(rng, tmp_path)
        flows = [f for f in random_flows(topology, rng, int(rng.integers(1, 25))) if f[0] != f[1]]
        if not flows:
            continue
        want_done, want_log = drive_reference_with_background(topology, flows, seed)
        net = SharedNetwork(topology, seed=seed, record=True)
        got: dict[int, tuple[float, float]] = {}
        ids: dict[int, int] = {}
        for k, (src, dst, nbytes, start_s) in sorted(enumerate(flows), key=lambda kf: kf[1][3]):
            got.update({ids[c.flow_id]: (c.drain_end_s, c.arrival_s) for c in net.advance(start_s)})
            ids[net.start_flow(src, dst, nbytes, start_s)] = k
        while len(got) < len(flows):
            t = net.next_event_s()
            assert math.isfinite(t)
            got.update({ids[c.flow_id]: (c.drain_end_s, c.arrival_s) for c in net.advance(t)})
        for k, (drain, arrival) in want_done.items():
            _same_times(list(got[k]), [drain, arrival])
        end_s = max(d for d, _ in want_done.values())
        got_log = [[s, e if e <= end_s else math.nan] for s, e in net.log or []][: len(want_log)]
        assert len(got_log) == len(want_log)
        for (gs, ge), (ws, we) in zip(got_log, want_log, strict=True):
            assert gs == pytest.approx(ws, rel=REL) and (math.isnan(ge) == math.isnan(we))
            if not math.isnan(we):
                assert ge == pytest.approx(we, rel=REL, abs=1e-12)
        compared += len(want_log)
    assert compared > 0
