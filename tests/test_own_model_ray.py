"""A custom model on own data, on Ray: the actors import the researcher's module and read the file.

Why: on Ray every actor rebuilds data and models from the run's setup in its own process, so the
data file must resolve from its reference and the model module from ``import_dir`` there too.  One
small run (ps, one actor per datacenter) must give the in-process run's traffic and trained values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import executed
from own_files import write_model, write_npz
from test_own_model import own_experiment

ray = pytest.importorskip("ray")

from testbed.exec.executor import InProcessExecutor  # noqa: E402
from testbed.experiment.spec import load_experiment  # noqa: E402
from testbed.runtime.ray_executor import Placement, RayExecutor  # noqa: E402


def test_custom_model_on_own_data_runs_on_ray_as_in_process(ray_cluster: None, tmp_path: Path) -> None:
    write_npz(tmp_path / "shapes.npz", n=120, labels=False)
    write_model(tmp_path, "owngan")
    spec = load_experiment(own_experiment(tmp_path, "ps"))
    results = []
    for executor in (InProcessExecutor(), RayExecutor(list(spec.topology.nodes), Placement("per_datacenter"))):
        with executed(spec, executor) as run:
            results.append((run.engine.accountant.frame(), run.generators["ps"], run.metrics[-1]["fid"]))
    (frame_a, g_a, fid_a), (frame_b, g_b, fid_b) = results
    assert len(frame_a) > 0
    pd.testing.assert_frame_equal(frame_a, frame_b)
    assert g_a and all(np.array_equal(np.asarray(g_a[k]), np.asarray(g_b[k])) for k in g_a)
    assert fid_a == fid_b
