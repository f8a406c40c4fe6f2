"""Compressed messages and availability traces on Ray: the same traffic and the same trained values as in process.

That every registered method gives the same traffic log in process and on Ray is
tests/test_conformance.py's ``ray`` check; this adds what only compression needs (packets built on
the sender's actor, residuals kept there) and what only a trace topology needs (read at parse time,
mapped by the run's seed).  One local Ray for the module (2 CPUs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import executed, tiny_topology

ray = pytest.importorskip("ray")

from testbed.exec.executor import InProcessExecutor  # noqa: E402
from testbed.experiment.spec import load_experiment  # noqa: E402
from testbed.runtime.ray_executor import Placement, RayExecutor  # noqa: E402


def test_compressed_ps_on_ray_trains_the_same_values(ray_cluster, experiment) -> None:
    """Compression on Ray: the packet is built on the sender's actor (top-k's residual lives there),
    travels as a Ray object and is decompressed on the receiver's -- if a call ran out of order or on the
    wrong node, the bytes would still match but the trained values would not."""
    spec = load_experiment(experiment({"name": "ps", "servers": 2, "server_at": ["a", "b"]}, max_iterations=3,
                                      network={"compression": {"grads_g": {"topk": 0.1}, "grads_d": {"quantize": 4},
                                                               "params_d": "fp16"}}))
    results = []
    for executor in (InProcessExecutor(), RayExecutor(list(spec.topology.nodes), Placement("per_datacenter"))):
        with executed(spec, executor) as run:
            results.append((run.engine.accountant.frame(), run.generators["ps"]))
    (frame_a, g_a), (frame_b, g_b) = results
    pd.testing.assert_frame_equal(frame_a, frame_b)
    assert g_a and all(np.array_equal(np.asarray(g_a[k]), np.asarray(g_b[k])) for k in g_a)


def traffic(spec, executor) -> pd.DataFrame:
    with executed(spec, executor) as run:
        return run.engine.accountant.frame()


def test_churn_from_an_availability_trace_is_the_same_on_ray(ray_cluster, experiment, tmp_path) -> None:
    """A trace is read where the run is parsed and mapped by the run's seed: the same clients go down at
    the same virtual times whatever hosts the nodes (hierfavg's edges drop them alike)."""
    trace = tmp_path / "fleet.csv"
    trace.write_text("client,down_start,down_end\n0,0.01,0.05\n1,0.02,0.2\n2,0,0.03\n3,0.05,0.5\n4,0.1,0.3\n")
    topology = tiny_topology()
    for dc in ("a", "b"):
        topology["datacenters"][dc]["availability"] = {"trace": str(trace)}
    spec = load_experiment(experiment({"name": "hierfavg", "edge_every": 2, "cloud_every": 1}, topology=topology,
                                      max_iterations=4))
    local = traffic(spec, InProcessExecutor())
    on_ray = traffic(spec, RayExecutor(list(spec.topology.nodes), Placement("pool", 1)))
    assert len(local) > 0
    pd.testing.assert_frame_equal(on_ray, local)


def test_cross_traffic_is_the_same_on_ray(ray_cluster, experiment) -> None:
    """Background flows are drawn from the run's seed inside the network, whatever hosts the nodes."""
    topology = tiny_topology(wan_bandwidth="20Mbps")
    topology["links"][0]["background"] = [{"rate": "5Mbps", "from": "a"},
                                          {"poisson": {"flows_per_s": 30, "mean_size": "20KB"}}]
    spec = load_experiment(experiment({"name": "fedavg", "client_fraction": 0.5}, topology=topology,
                                      max_iterations=3))
    local = traffic(spec, InProcessExecutor())
    on_ray = traffic(spec, RayExecutor(list(spec.topology.nodes), Placement("pool", 1)))
    assert len(local) > 0
    pd.testing.assert_frame_equal(on_ray, local)
