"""Gaia's traffic log is identical on the in-process executor and on Ray for a seed.

Gaia's control flow depends on values (how many parameters are significant, and so
which messages exist and when), so this checks that the filter decides the same on
both backends: same seed, same single torch thread.  One local Ray (2 CPUs) for the module.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import executed, tiny_topology

ray = pytest.importorskip("ray")

from testbed.exec.executor import InProcessExecutor  # noqa: E402
from testbed.experiment.spec import load_experiment  # noqa: E402
from testbed.runtime.ray_executor import Placement, RayExecutor  # noqa: E402


def traffic(spec, executor) -> tuple[pd.DataFrame, list]:
    with executed(spec, executor) as run:
        sent = [run.executor.resolve(run.executor.call(f"{dc}/ps", "sent_log")) for dc in ("a", "b", "c")]
        return run.engine.accountant.frame(), sent


def test_gaia_inprocess_and_ray_traffic_identical(ray_cluster, experiment) -> None:
    # A narrow WAN so selective barriers appear too; a low threshold so every clock sends.
    topology = tiny_topology((2, 2, 2), wan_bandwidth="2Mbps", latency="1ms")
    spec = load_experiment(experiment({"name": "gaia", "threshold": 0.001, "max_clock_gap": 10},
                                      topology=topology, max_iterations=8))
    local_frame, local_sent = traffic(spec, InProcessExecutor())
    ray_frame, ray_sent = traffic(spec, RayExecutor(list(spec.topology.nodes), Placement("per_datacenter")))
    assert {"significant_update", "barrier_index", "clock"} <= set(local_frame.kind)
    assert ray_sent == local_sent
    pd.testing.assert_frame_equal(ray_frame, local_frame)
