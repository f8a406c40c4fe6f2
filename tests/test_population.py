"""Client populations (``workers: {count: N}``): built on demand, yet the same run as listed workers.

Why: a population must cost a few bytes per idle client (issue 27), and that representation must not
change what a run does -- so a population small enough to also list is run both ways and the traffic
logs and metrics rows must be identical; and the topology, node clock, engine and results must hold
nothing per idle client.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import tiny_experiment

from testbed.core.errors import ConfigError
from testbed.exec.batching import BatchingExecutor
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.results import write_run
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.methods import algorithm_class, algorithm_names
from testbed.methods.common.client_pool import ClientPool
from testbed.topology.population import NodeIds, Population
from testbed.topology.schema import load_topology

FAST_LAN = {"bandwidth": "1Gbps", "latency": "0.1ms"}


def edge_topology(clients: object, availability: dict | None = None) -> dict:
    edge: dict = {"workers": clients, "device": {"speed": 0.5},
                  "lan": {"bandwidth": {"up": "5Mbps", "down": "20Mbps"}, "latency": "30ms"}}
    if availability is not None:
        edge["availability"] = availability
    return {"name": "edge", "lan": FAST_LAN,
            "datacenters": {"agg": {"workers": 1}, "edge": edge},
            "links": [{"between": ["agg", "edge"], "bandwidth": "1Gbps", "latency": "20ms", "jitter": "2ms"}]}


def fedavg_run(clients: object, executor: InProcessExecutor | None = None, availability: dict | None = None,
               **algorithm: object) -> Run:
    return method_run({"name": "fedavg", "client_fraction": 0.3, **algorithm}, clients, executor, availability)


def method_run(algorithm: dict, clients: object, executor: InProcessExecutor | None = None,
               availability: dict | None = None) -> Run:
    spec = tiny_experiment({"server_at": "agg", **algorithm}, topology=edge_topology(clients, availability),
                           max_iterations=4, eval_every=2, training={"batch_size": 8, "lr_final_fraction": 0.5})
    run = Run(load_experiment(spec), executor or InProcessExecutor(), progress=False)
    run.execute()
    return run


def assert_same_runs(algorithm: dict, count: int, availability: dict | None = None,
                     listed_only: dict | None = None) -> tuple[Run, Run]:
    """``algorithm`` on ``count`` listed workers (with ``listed_only`` added) and on a population of ``count``:
    the same traffic and metrics."""
    listed = method_run({**algorithm, **(listed_only or {})}, count, availability=availability)
    population = method_run(algorithm, {"count": count}, availability=availability)
    assert _traffic(population) == _traffic(listed)
    assert _metrics(population) == _metrics(listed)
    held = {node for node in population.engine.stats if node.startswith("edge/w")}
    assert held <= set(population.algorithm.plan.on_demand.due)  # only clients with work due when the run stopped
    return listed, population


def _traffic(run: Run) -> list[tuple]:
    return [tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in row)
            for row in run.engine.accountant.frame().drop(columns=["run_id"]).itertuples(index=False)]


def _metrics(run: Run) -> list[dict]:
    return [{k: "nan" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items() if k != "wall_time_s"}
            for row in run.metrics]


@pytest.mark.parametrize("case", [{}, {"round_deadline": "1.5s", "over_select": 0.5}])
def test_a_population_runs_exactly_as_the_same_workers_listed(case: dict) -> None:
    listed, population = fedavg_run(12, **case), fedavg_run({"count": 12}, **case)
    assert _traffic(population) == _traffic(listed)
    assert _metrics(population) == _metrics(listed)
    assert population.algorithm.plan.dropped == listed.algorithm.plan.dropped


def test_a_population_with_churn_runs_exactly_as_listed() -> None:
    churn = {"mean_up": "3s", "mean_down": "1s"}
    listed, population = fedavg_run(10, availability=churn), fedavg_run({"count": 10}, availability=churn)
    assert _traffic(population) == _traffic(listed)
    assert _metrics(population) == _metrics(listed)


CHURN = {"mean_up": "0.5s", "mean_down": "0.2s"}
FAST_CHURN = {"mean_up": "0.1s", "mean_down": "0.05s"}  # FedSGD's rounds are short: churn within them


@pytest.mark.parametrize("availability", [None, FAST_CHURN])
def test_fedsgd_on_a_population_runs_exactly_as_listed(availability: dict | None) -> None:
    listed, population = assert_same_runs({"name": "fedsgd", "client_fraction": 0.3}, 12, availability,
                                          listed_only={"client_streams": "per_round"})
    assert population.algorithm.plan.averaged == listed.algorithm.plan.averaged
    assert bool(population.algorithm.plan.dropped) == (availability is not None)  # churn did drop clients
    assert population.algorithm.streams() == "per_round"  # a population's default


@pytest.mark.parametrize("availability", [None, FAST_CHURN])
def test_fedbuff_on_a_population_runs_exactly_as_listed(availability: dict | None) -> None:
    listed, population = assert_same_runs({"name": "fedbuff", "concurrency": 4, "buffer": 2}, 12, availability)
    assert population.algorithm.plan.applied == listed.algorithm.plan.applied
    assert population.algorithm.plan.dropped == listed.algorithm.plan.dropped
    assert bool(population.algorithm.plan.dropped) == (availability is not None)  # churn did drop clients
    assert not math.isnan(population.metrics[-1]["lr_g"])  # a rebuilt client reports its latest round's rates


@pytest.mark.parametrize(("availability", "fraction"), [(None, 1.0), (CHURN, 1.0), (CHURN, 0.25)])
def test_hierfavg_on_a_population_runs_exactly_as_listed(availability: dict | None, fraction: float) -> None:
    listed, population = assert_same_runs({"name": "hierfavg", "edge_every": 2, "cloud_every": 2,
                                           "client_fraction": fraction}, 12, availability)
    assert population.algorithm.plan.dropped == listed.algorithm.plan.dropped
    assert population.algorithm.plan.tier_nbytes == listed.algorithm.plan.tier_nbytes
    assert bool(population.algorithm.plan.dropped) == (availability is not None)  # churn did drop clients
    assert not math.isnan(population.metrics[-1]["lr_g"])


class _Unwalkable(NodeIds):
    def __iter__(self):
        raise AssertionError("walked every client")


def test_the_pool_picks_idle_clients_of_a_huge_population_without_walking_it() -> None:
    def session(seed: int) -> SimpleNamespace:
        return SimpleNamespace(rng=np.random.default_rng(seed), topology=SimpleNamespace(any_availability=False))

    ids = [f"edge/w{i}" for i in range(50)]
    listed = ClientPool(session(3), ids, "pause")
    population = ClientPool(session(3), _Unwalkable([("edge", 50)]), "pause")
    walking = ClientPool(session(3), ids, "pause")
    walking.always_up = False  # today's rule, by a walk: the list of idle clients
    walking.session.available = lambda node: True
    for pool in (listed, population, walking):
        for node in ("edge/w49", "edge/w7", "edge/w0", "edge/w8", "edge/w3"):
            pool.dispatched(node, 0, 0.0)
        pool.replied("edge/w3", 0)
    for step in range(5):  # the same function of the run's rng: the same clients, listed or not
        picked = listed.choose(6)
        assert population.choose(6) == picked == walking.choose(6) and not set(picked) & set(listed.busy)
        for pool in (listed, population, walking):
            pool.dispatched(picked[0], step, 0.0)
            pool.dropped(picked[-1] if step % 2 else "edge/w7")
    huge = ClientPool(session(3), _Unwalkable([("edge", 10**9)]), "pause")
    huge.dispatched("edge/w5", 0, 0.0)
    assert len(set(huge.choose(100)) - {"edge/w5"}) == 100
    assert huge.any_alive(0.0) and huge.next_return_s(0.0) == math.inf and huge.may_crash() is None


def test_batched_population_rounds_keep_the_traffic() -> None:
    eager, batched = fedavg_run({"count": 12}), fedavg_run({"count": 12}, BatchingExecutor())
    assert _traffic(batched) == _traffic(eager)
    assert any(method == "fedavg_round" for method, _ in batched.executor.groups_run)
    for a, b in zip(_metrics(eager), _metrics(batched), strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == b[key] or a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), key


def test_the_engine_and_results_hold_only_clients_at_work(tmp_path) -> None:
    run = fedavg_run({"count": 50})
    clients = [node for node in run.engine.stats if node.startswith("edge/")]
    assert clients == []  # every client's process ended and was let go
    assert run.engine.population_stats["edge"].tasks["train_step"] > 0
    write_run(run, tmp_path)
    nodes = (tmp_path / "nodes.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in nodes[1:]] == ["agg/server", "agg/w0", "edge/*"]
    assert not any("edge/w" in key for key in run.topology._cache)


def test_population_topology_is_lazy_and_capped_by_memory() -> None:
    topo = load_topology(edge_topology({"count": 1_000_000, "speed": 0.2}))
    edge = topo.datacenter("edge")
    assert isinstance(edge.workers, Population) and len(edge.workers) == 1_000_000
    nodes = topo.nodes
    assert isinstance(nodes, NodeIds) and len(nodes) == 1_000_001
    assert nodes[1] == "edge/w0" and nodes[-1] == "edge/w999999" and nodes.index("edge/w999999") == 1_000_000
    assert topo.speed_of("edge/w123456") == 0.2 and topo.route("edge/w5", "agg/w0").links[0] == ("edge/w5", "edge")
    with pytest.raises(ConfigError, match=r"datacenters\.edge\.workers\.count: .*GiB"):
        load_topology(edge_topology({"count": 10**13}))
    with pytest.raises(ConfigError, match="population"):
        load_topology(edge_topology(200_000))


POPULATION_METHODS = {"fedavg", "fedbuff", "fedsgd", "hierfavg"}


def test_the_methods_that_run_on_populations() -> None:
    assert {n for n in algorithm_names() if algorithm_class(n).supports_population} == POPULATION_METHODS


@pytest.mark.parametrize("name", sorted(set(algorithm_names()) - POPULATION_METHODS))
def test_methods_without_population_support_refuse_it_in_one_line(name: str) -> None:
    spec = tiny_experiment({"name": name}, topology=edge_topology({"count": 5}),
                           compute={"model": "fixed", "default": "1ms"})
    with pytest.raises(ConfigError, match="cannot run on a client population") as err:
        load_experiment(spec)
    assert "\n" not in str(err.value) and "fedavg | fedbuff | fedsgd | hierfavg" in str(err.value)


def test_a_population_on_ray_actors_is_refused_in_one_line() -> None:
    spec = tiny_experiment({"name": "fedavg", "server_at": "agg"}, topology=edge_topology({"count": 5}),
                           backend="ray")
    with pytest.raises(ConfigError, match=r"executors: .*built on demand"):
        load_experiment(spec)
