"""The same experiment and seed give identical traffic on the in-process backend and on Ray.

Virtual time depends only on the fixed compute costs and the network model, so the
traffic log (times and bytes) must match exactly -- run twice on each backend.
One local Ray for the module (2 CPUs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_topology

ray = pytest.importorskip("ray")

from testbed.exec.executor import InProcessExecutor  # noqa: E402
from testbed.experiment.run import Run  # noqa: E402
from testbed.experiment.spec import load_experiment  # noqa: E402
from testbed.runtime.cluster import ensure_ray, shutdown_ray  # noqa: E402
from testbed.runtime.ray_executor import Placement, RayExecutor  # noqa: E402

COSTS = {"mdgan_generate": "1ms", "mdgan_d_step": "10ms", "mdgan_feedback": "2ms", "mdgan_backprop": "3ms",
         "sq_query": "10ms", "sq_fake": "2ms", "sq_step": "3ms"}


@pytest.fixture(scope="module")
def cluster():
    ensure_ray(num_cpus=2)
    yield
    shutdown_ray()


def traffic(spec, executor) -> pd.DataFrame:
    run = Run(spec, executor, progress=False)
    try:
        run.execute()
    finally:
        executor.shutdown()
    return run.engine.accountant.frame()


@pytest.mark.parametrize("algorithm", [{"name": "ps", "consistency": "eventual"}, {"name": "fedavg",
                                                                                   "client_fraction": 0.5}])
def test_inprocess_and_ray_traffic_identical(cluster, experiment, algorithm) -> None:
    spec = load_experiment(experiment(algorithm, max_iterations=3))
    nodes = list(spec.topology.nodes)
    frames = [traffic(spec, InProcessExecutor()) for _ in range(2)]
    frames += [traffic(spec, RayExecutor(nodes, Placement("per_datacenter"))) for _ in range(2)]
    assert len(frames[0]) > 0
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])


# MD-GAN and SQ learning: one actor (``pool: 1``) hosts every node, since each actor start costs
# seconds on this machine (values still travel between nodes as Ray objects).
@pytest.mark.parametrize("algorithm", [{"name": "mdgan", "swap_every_epochs": 0.25, "disc_steps": 2},
                                       {"name": "sqm", "server_at": "b"}])
def test_mdgan_and_sqm_traffic_identical_on_one_actor(cluster, experiment, algorithm) -> None:
    spec = load_experiment(experiment(algorithm, topology=tiny_topology((2, 1)), max_iterations=5,
                                      compute={"model": "fixed", "costs": COSTS}))
    local = traffic(spec, InProcessExecutor())
    on_ray = traffic(spec, RayExecutor(list(spec.topology.nodes), Placement("pool", 1)))
    assert len(local) > 0
    pd.testing.assert_frame_equal(on_ray, local)
    if algorithm["name"] == "mdgan":  # swaps happened (every ceil(133 * 0.25 / 16) = 3 iterations)
        assert (local.kind == "swap_d").sum() == 3


def test_compressed_ps_on_ray_trains_the_same_values(cluster, experiment) -> None:
    """Compression on Ray: the packet is built on the sender's actor (top-k's residual lives there),
    travels as a Ray object and is decompressed on the receiver's -- if a call ran out of order or on the
    wrong node, the bytes would still match but the trained values would not."""
    spec = load_experiment(experiment({"name": "ps", "servers": 2, "server_at": ["a", "b"]}, max_iterations=3,
                                      network={"compression": {"grads_g": {"topk": 0.1}, "grads_d": {"quantize": 4},
                                                               "params_d": "fp16"}}))
    results = []
    for executor in (InProcessExecutor(), RayExecutor(list(spec.topology.nodes), Placement("per_datacenter"))):
        run = Run(spec, executor, progress=False)
        try:
            run.execute()
        finally:
            executor.shutdown()
        results.append((run.engine.accountant.frame(), run.generators["ps"]))
    (frame_a, g_a), (frame_b, g_b) = results
    pd.testing.assert_frame_equal(frame_a, frame_b)
    assert g_a and all(np.array_equal(np.asarray(g_a[k]), np.asarray(g_b[k])) for k in g_a)
