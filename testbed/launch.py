"""Launching one experiment: pick its executor, run it, write its run directory (or what it measured).

Why apart from testbed.run: the Run is the training itself and knows nothing of files;
writing results (testbed.results) reads a finished Run.  This module joins the two, so
neither imports the other's consumer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed.batching import in_process_executor
from testbed.executor import Executor
from testbed.executors_spec import check_batch
from testbed.experiment import ExperimentSpec
from testbed.results import write_partial, write_run
from testbed.run import Run


def make_executor(spec: ExperimentSpec, address: str | None = None) -> Executor:
    """The executor the spec asks for (Ray is imported only when chosen)."""
    check_batch(spec.executors, spec.backend, spec.compute.model, spec.source)  # the backend may come from the CLI
    if spec.backend == "ray" and spec.executors.kind != "in_task":
        from testbed.runtime.cluster import ensure_ray
        from testbed.runtime.ray_executor import Placement, RayExecutor

        ensure_ray(address)
        placement = Placement.parse(spec.executors)
        nodes = list(spec.topology.nodes)
        return RayExecutor(nodes, placement)
    return in_process_executor(spec.executors, spec.executors.torch_threads or 1)


def run_experiment(spec: ExperimentSpec, out_dir: str | Path, *, executor: Executor | None = None,
                   progress: bool = True, address: str | None = None,
                   extra_summary: dict[str, Any] | None = None) -> Path:
    """Run one experiment and write its run directory; returns the directory.  ``extra_summary``:
    fields added to ``summary.json`` in the same write (e.g. where a suite cell ran)."""
    own = executor is None
    executor = executor or make_executor(spec, address)
    try:
        run = Run(spec, executor, progress=progress)
        try:
            run.execute()
        except Exception as err:
            if run.engine is not None:  # training had started: keep what it measured
                write_partial(run, Path(out_dir), err, extra_summary)
            raise
        return write_run(run, Path(out_dir), extra_summary)
    finally:
        if own:
            executor.shutdown()
