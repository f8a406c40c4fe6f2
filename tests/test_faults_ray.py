"""Faults on Ray: a stale cluster file does not touch a local run; a killed actor leaves partial results.

One local Ray for the module, started the way a plain ``python -m testbed run`` starts it --
while ``$RAY_ADDRESS`` and Ray's cluster file both point at a cluster that is gone (the
state a killed ``ray start --head`` leaves behind).  Then a run whose executor actor is
killed mid-training must end as a failed cell that kept its metrics and traffic, marked
partial and flagged as an infrastructure failure (what ``--retries`` re-runs).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

ray = pytest.importorskip("ray")

from testbed.runtime.cluster import ensure_ray, shutdown_ray  # noqa: E402
from testbed.runtime.ray_executor import Placement, RayExecutor  # noqa: E402
from testbed.suite.cell import is_infrastructure, run_cell  # noqa: E402


def _dead_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="module")
def stale_then_local():
    """Start the module's Ray under a stale cluster file and $RAY_ADDRESS; returns (stale, seconds)."""
    stale = _dead_address()
    ray_tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))  # short: Ray's socket paths have a length limit
    (ray_tmp / "ray").mkdir()
    (ray_tmp / "ray" / "ray_current_cluster").write_text(stale)
    saved = {k: os.environ.get(k) for k in ("RAY_TMPDIR", "RAY_ADDRESS")}
    os.environ.update(RAY_TMPDIR=str(ray_tmp), RAY_ADDRESS=stale)  # both: what a killed cluster leaves
    try:
        from ray._private.services import canonicalize_bootstrap_address

        would_join = canonicalize_bootstrap_address(None)  # what a plain ray.init() would have joined
        assert would_join is not None and would_join.endswith(stale.rpartition(":")[2])
        start = time.monotonic()
        ensure_ray(num_cpus=2)
        elapsed = time.monotonic() - start
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield stale, elapsed
    shutdown_ray()
    shutil.rmtree(ray_tmp, ignore_errors=True)


def test_stale_cluster_file_does_not_affect_a_local_run(stale_then_local) -> None:
    stale, elapsed = stale_then_local
    assert ray.is_initialized() and elapsed < 60
    assert not ray.get_runtime_context().gcs_address.endswith(":" + stale.rpartition(":")[2])
    assert ray.cluster_resources().get("CPU") == 2


def test_killed_actor_leaves_a_failed_cell_with_partial_metrics(stale_then_local, experiment, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from testbed.experiment.run import Run
    from testbed.experiment.spec import load_experiment

    cell = experiment({"name": "ps"}, max_iterations=60, eval_every=5, eval_samples=100, backend="ray")
    spec = load_experiment(cell)
    executor = RayExecutor(list(spec.topology.nodes), Placement(num_cpus=0.5))
    complete_iteration = Run.complete_iteration

    def kill_at_eight(self: Run) -> None:
        complete_iteration(self)
        if self.iteration == 8:
            ray.kill(next(iter(executor._actors.values())))  # the eval node's actor, too: no way round it

    monkeypatch.setattr(Run, "complete_iteration", kill_at_eight)
    run_dir = tmp_path / "ps"
    try:
        summary = run_cell(cell, run_dir, executor=executor)
    finally:
        executor.shutdown()
    assert summary["status"] == "failed" and summary["partial"] is True
    assert summary["infrastructure"] is True, summary["error"]
    assert "Actor" in summary["error"] and "\n" not in summary["error"]
    assert 8 <= summary["iterations"] < 60 and summary["total_bytes"] > 0
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk["status"] == "failed" and on_disk["partial"] is True
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert list(metrics.iteration[:2]) == [0, 5]  # what was measured before the actor died
    traffic = pd.read_parquet(run_dir / "traffic.parquet")
    assert len(traffic) > 0 and traffic.nbytes.sum() <= summary["total_bytes"]
    assert (run_dir / "config.yaml").is_file()


def test_ray_deaths_are_infrastructure_and_config_errors_are_not() -> None:
    from ray import exceptions

    from testbed.core.errors import ConfigError

    assert is_infrastructure(exceptions.RayActorError())
    assert is_infrastructure(exceptions.WorkerCrashedError())
    assert is_infrastructure(exceptions.NodeDiedError("node gone"))
    try:
        try:
            raise exceptions.RayActorError()
        except exceptions.RayActorError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert is_infrastructure(outer)
    assert not is_infrastructure(ConfigError("x.yaml", "partition", "bad", "fix"))
    assert not is_infrastructure(ValueError("nan loss"))
