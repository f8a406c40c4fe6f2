"""Launching one experiment: pick its executor, run it, write its run directory (or what it measured).

Why apart from testbed.experiment.run: the Run is the training itself and knows nothing of files;
writing results (testbed.experiment.results) reads a finished Run.  This module joins the two, so
neither imports the other's consumer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed.exec.backends import executor_backend
from testbed.exec.executor import Executor
from testbed.exec.spec import check_batch
from testbed.experiment.results import prepare_run_dir, write_partial, write_run
from testbed.experiment.run import Run
from testbed.experiment.spec import ExperimentSpec


def make_executor(spec: ExperimentSpec, address: str | None = None) -> Executor:
    """The executor the spec asks for, from the backend registry (testbed.exec.backends: Ray registers
    itself there when testbed.runtime is imported; ``in_task`` placement runs in this process)."""
    check_batch(spec.executors, spec.backend, spec.compute.model, spec.source)  # the backend may come from the CLI
    name = "inprocess" if spec.executors.kind == "in_task" else spec.backend
    return executor_backend(name, spec.source)(spec.executors, list(spec.topology.nodes), address)


def run_experiment(spec: ExperimentSpec, out_dir: str | Path, *, executor: Executor | None = None,
                   progress: bool = True, address: str | None = None,
                   extra_summary: dict[str, Any] | None = None) -> Path:
    """Run one experiment and write its run directory; returns the directory.  ``extra_summary``:
    fields added to ``summary.json`` in the same write (e.g. where a suite cell ran).  An earlier run in
    ``out_dir`` is removed first (testbed.experiment.results.prepare_run_dir); anything else there is refused."""
    prepare_run_dir(Path(out_dir))
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
