"""A suite on a two-node local Ray cluster: runs land on both nodes, each in its placement group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

import testbed.runtime  # noqa: E402, F401  (registers the ray suite backend)
from testbed.suite import BackendOptions, parse_suite, run_suite  # noqa: E402


@pytest.fixture(scope="module")
def two_nodes():
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def test_suite_runs_on_both_nodes(tmp_path: Path, experiment, two_nodes) -> None:
    base = experiment("local", max_iterations=5, executors={"pool": 1})
    suite = parse_suite({"name": "two", "base": base, "grid": {"seed": [0, 1]}}, "two.yaml", Path("."))
    outcome = run_suite(suite, tmp_path, backend="ray", quiet=True,
                        options=BackendOptions(address=two_nodes.address, cpus_per_run=1.0))
    assert (outcome.complete, outcome.failed) == (2, 0)
    node_ids = {json.loads((tmp_path / "two" / c.id / "summary.json").read_text())["ran_on"]["ray_node_id"]
                for c in suite.cells}
    # one CPU per node and one CPU per run: the two runs (in flight together) must use both nodes
    assert node_ids == {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(node_ids) == 2


def test_in_task_runs_on_the_cluster_with_the_same_traffic_as_actors(tmp_path: Path, experiment, two_nodes) -> None:
    import pandas as pd

    frames = {}
    for placement in ("in_task", {"pool": 1}):
        base = experiment({"name": "ps", "server_at": "a"}, max_iterations=4, executors=placement)
        name = "task" if placement == "in_task" else "actor"
        suite = parse_suite({"name": name, "base": base, "grid": {"seed": [0]}}, f"{name}.yaml", Path("."))
        outcome = run_suite(suite, tmp_path, backend="ray", quiet=True,
                            options=BackendOptions(address=two_nodes.address, cpus_per_run=1.0))
        assert (outcome.complete, outcome.failed) == (1, 0)
        run_dir = tmp_path / name / suite.cells[0].id
        assert "ray_node_id" in json.loads((run_dir / "summary.json").read_text())["ran_on"]
        frames[name] = pd.read_parquet(run_dir / "traffic.parquet")[["kind", "src", "dst", "nbytes", "t_arrive_s"]]
    pd.testing.assert_frame_equal(frames["task"], frames["actor"])
