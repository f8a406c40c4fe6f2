"""Compression on Ray: the same traffic and the same trained values as in process.

Why: on Ray the packet is built on the sender's actor, travels as a Ray object and is decompressed
on the receiver's actor, and top-k's residual lives in the sender's actor -- if a call ran out of
order or on the wrong node, the bytes would still match but the values would not.  One local Ray
(2 CPUs), one actor per datacenter.
"""

from __future__ import annotations

import numpy as np
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


def test_topk_ps_on_ray_matches_in_process(cluster, experiment) -> None:
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
        results.append((run.engine.accountant.frame(), run.generators))
    (frame_a, gens_a), (frame_b, gens_b) = results
    pd.testing.assert_frame_equal(frame_a, frame_b)
    state_a, state_b = gens_a["ps"], gens_b["ps"]
    assert state_a and all(np.array_equal(np.asarray(state_a[k]), np.asarray(state_b[k])) for k in state_a)
