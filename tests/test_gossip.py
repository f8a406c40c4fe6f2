"""Gossip averaging (D-PSGD): its bytes by hand, its graphs and weights, its mix, crashes and downs.

Why: the conformance test (tests/test_conformance.py) checks gossip against its own declared formula;
here the formula is worked out independently from the model's parameter counts and the graph's edges,
for every graph and two values of R, and what only gossip promises is checked: the ring and
datacenter-ring cross the WAN only between datacenter blocks, the Metropolis-Hastings weights are
symmetric and doubly stochastic, a mix is the weighted average (BatchNorm statistics included), a crashed
neighbour is dropped, a down one slows everyone (synchronous rounds), and replay-exactness is declared.
Topology: datacenters a, b, c with 2, 1, 2 workers (15 ms apart); ring8; a 16-unit MLP.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from conftest import tiny_topology
from fake_session import fake_method

from testbed.gan import count_params, get_buffers, get_params
from testbed.methods.common.setup import NodeSetup
from testbed.methods.common.training import Training
from testbed.methods.gossip import Gossip, GossipParams
from testbed.methods.gossip.graph import GRAPHS, GossipGraph, metropolis_weights, random_matching, static_edges
from testbed.methods.gossip.state import GossipWorker
from testbed.topology.schema import load_topology

T = 5
N = 5
EDGES = {"ring": 5, "datacenter-ring": 1 + 1 + 3, "random-matching": N // 2}  # a0-a1, c0-c1 + the DC ring
WAN_EDGES = {"ring": 3, "datacenter-ring": 3}  # a1-b0, b0-c0, c1-a0 / a0-b0, b0-c0, c0-a0


def _drive(params: dict[str, Any], budget: int = T, topology: dict[str, Any] | None = None,
           costs: dict[str, float] | None = None) -> tuple[Gossip, Any, Any]:
    method, session = fake_method({"name": "gossip", **params}, budget=budget, topology_dict=topology)
    engine = session.drive(method, costs or {"train_step": 0.01, "gossip_average": 0.001})
    return method, session, engine


@pytest.mark.parametrize("every", [1, 2])
@pytest.mark.parametrize("graph", GRAPHS)
def test_bytes_are_two_models_per_edge_per_round(graph: str, every: int) -> None:
    method, session, engine = _drive({"graph": graph, "every": every})
    state = session.setup.gan_state("cpu")
    n_g, n_d = count_params(state.G), count_params(state.D)  # mlp2d: no BatchNorm, |G_bn| = 0
    rounds = (T - 1) // every  # none after the last step
    messages = 2 * EDGES[graph] * rounds
    assert session.iteration == T and session.stop_reason is None
    assert engine.accountant.bytes_by_kind() == {"params_g": messages * 4 * n_g, "params_d": messages * 4 * n_d}
    if graph in WAN_EDGES:  # topology-aware: only the datacenter blocks' joints cross the WAN
        wan = engine.accountant.bytes_by_kind(scope="wan")
        assert wan["params_g"] == 2 * WAN_EDGES[graph] * rounds * 4 * n_g
    assert all(engine.stats[w].tasks["train_step"] == T for w in session.workers)
    if graph != "random-matching":  # a mix is charged per model mixed: its own and each neighbour's
        degree = {w: len(method.plan.graph.neighbours(0, w)) for w in session.workers}
        assert all(engine.stats[w].tasks["gossip_average"] == rounds * (1 + degree[w]) for w in session.workers)


def test_graphs_follow_the_topology() -> None:
    groups = {"a": ["a/w0", "a/w1"], "b": ["b/w0"], "c": ["c/w0", "c/w1"]}
    pairs = lambda edges: {tuple(sorted(e)) for e in edges}  # noqa: E731
    assert pairs(static_edges("ring", groups)) == {("a/w0", "a/w1"), ("a/w1", "b/w0"), ("b/w0", "c/w0"),
                                                   ("c/w0", "c/w1"), ("a/w0", "c/w1")}
    assert pairs(static_edges("datacenter-ring", groups)) == {("a/w0", "a/w1"), ("c/w0", "c/w1"), ("a/w0", "b/w0"),
                                                              ("b/w0", "c/w0"), ("a/w0", "c/w0")}
    assert pairs(static_edges("ring", {"a": ["a/w0", "a/w1"]})) == {("a/w0", "a/w1")}  # two workers: one edge
    assert static_edges("ring", {"a": ["a/w0"]}) == set()
    matching = random_matching([w for ws in groups.values() for w in ws], np.random.default_rng(0))
    assert len(matching) == 2 and len(set(itertools.chain.from_iterable(matching))) == 4


@pytest.mark.parametrize("graph", GRAPHS)
def test_mixing_weights_are_symmetric_and_doubly_stochastic(graph: str) -> None:
    groups = {"a": ["a/w0", "a/w1", "a/w2"], "b": ["b/w0"], "c": ["c/w0", "c/w1"], "d": ["d/w0"]}
    plan = GossipGraph(graph, groups, np.random.default_rng(1))
    workers = [w for ws in groups.values() for w in ws]
    for round_index in range(3):
        w = np.zeros((len(workers), len(workers)))
        for i, node in enumerate(workers):
            for neighbour, weight in plan.neighbours(round_index, node).items():
                w[i, workers.index(neighbour)] = weight
            w[i, i] = 1 - w[i].sum()
        assert np.allclose(w, w.T) and np.allclose(w.sum(axis=0), 1) and (w >= 0).all()
    assert metropolis_weights({frozenset(("x", "y"))}) == {"x": {"y": 0.5}, "y": {"x": 0.5}}


def test_random_matchings_are_seeded_and_drawn_in_round_order() -> None:
    groups = {"a": [f"a/w{i}" for i in range(6)]}
    first, second = (GossipGraph("random-matching", groups, np.random.default_rng(7)) for _ in range(2))
    forward = [first.neighbours(r, "a/w0") for r in range(4)]
    second.neighbours(3, "a/w5")  # another worker asks for a later round first
    assert [second.neighbours(r, "a/w0") for r in range(4)] == forward


def test_a_mix_is_the_weighted_average_of_both_nets_and_the_batchnorm_statistics() -> None:
    setup = NodeSetup(dataset="digits", partition="iid", num_workers=3, groups=(0, 0, 0), model="dcgan",
                      model_overrides=(("channels", 8), ("latent_dim", 16)), training=Training(batch_size=16),
                      seed=0, dataset_n=300)
    workers = [GossipWorker(setup, i) for i in range(3)]
    for i, worker in enumerate(workers):
        worker.train_steps(i + 1)  # different models and statistics
    (g1, d1), (g2, d2) = workers[1].models(), workers[2].models()
    own_g, own_d = workers[0].models()
    assert workers[0].mix(0.5, [0.25, 0.25], g1, d1, g2, d2) == 3
    mixed_g, mixed_d = get_params(workers[0].state.G), get_params(workers[0].state.D)
    buffers = get_buffers(workers[0].state.G)
    assert buffers, "the DCGAN generator has BatchNorm statistics"
    for name in mixed_g:
        want = 0.5 * own_g["params"][name] + 0.25 * g1["params"][name] + 0.25 * g2["params"][name]
        assert np.allclose(mixed_g[name], want, atol=1e-6)
    for name in buffers:
        want = 0.5 * own_g["buffers"][name] + 0.25 * g1["buffers"][name] + 0.25 * g2["buffers"][name]
        assert np.allclose(buffers[name], want, atol=1e-6)
    for name in mixed_d:
        assert np.allclose(mixed_d[name], 0.5 * own_d[name] + 0.25 * d1[name] + 0.25 * d2[name], atol=1e-6)


def _topology(**c_w1: Any) -> dict[str, Any]:
    topology = tiny_topology((2, 1, 2), latency="15ms")
    topology["datacenters"]["c"] = {"workers": [{}, {"availability": c_w1}]}
    return topology


def test_a_crashed_neighbour_is_dropped_and_the_others_go_on() -> None:
    method, session, engine = _drive({"graph": "ring"}, budget=10, topology=_topology(crash_at="0.05s"))
    assert session.stop_reason is None and session.iteration == 10
    frame = engine.accountant.frame()
    assert frame[frame.src == "c/w1"].t_send_s.max() < 0.05  # it sent while alive only
    assert method.plan.dropped["c/w0"] == {"c/w1"} and method.plan.dropped["a/w0"] == {"c/w1"}
    assert "c/w1" not in method.generators() and len(method.generators()) == 4
    assert method.plan.steps["c/w1"] < 10 and all(method.plan.steps[w] == 10 for w in method.plan.live)


def test_the_run_stops_when_every_worker_has_crashed() -> None:
    crash = [{"availability": {"crash_at": "0.05s"}}]
    topology = tiny_topology((2, 1, 2), latency="15ms")
    for dc, count in (("a", 2), ("b", 1), ("c", 2)):
        topology["datacenters"][dc] = {"workers": crash * count}
    _, session, _ = _drive({"graph": "ring"}, budget=10, topology=topology)
    assert session.stop_reason is not None and session.stop_reason.startswith("crashed: every worker (the last, ")


def test_a_down_worker_holds_up_every_round_it_is_in() -> None:
    _, _, undisturbed = _drive({"graph": "ring"}, budget=20)
    _, session, engine = _drive({"graph": "ring"}, budget=20, topology=_topology(down=[["0.05s", "0.25s"]]))
    assert session.stop_reason is None and session.iteration == 20
    # the ring is connected and its rounds synchronous: everyone waits out c/w1's 0.2 s
    assert engine.now_s >= undisturbed.now_s + 0.2 - 0.03


def test_replay_exactness_is_declared_unless_a_worker_crashes() -> None:
    assert Gossip.timing_dependence(GossipParams(), load_topology(tiny_topology((2, 1, 2)))) is None
    reason = Gossip.timing_dependence(GossipParams(), load_topology(_topology(crash_at="1s")))
    assert reason is not None and "c/w1" in reason
