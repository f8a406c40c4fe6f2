"""The same experiment and seed give identical traffic on the in-process backend and on Ray.

Virtual time depends only on the fixed compute costs and the network model, so the
traffic log (times and bytes) must match exactly -- run twice on each backend.
One local Ray for the module (2 CPUs).
"""

from __future__ import annotations

import pandas as pd
import pytest

ray = pytest.importorskip("ray")

from testbed.executor import InProcessExecutor  # noqa: E402
from testbed.experiment import load_experiment  # noqa: E402
from testbed.run import Run  # noqa: E402
from testbed.runtime.cluster import ensure_ray, shutdown_ray  # noqa: E402
from testbed.runtime.ray_executor import Placement, RayExecutor  # noqa: E402


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
