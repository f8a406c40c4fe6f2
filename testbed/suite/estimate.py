"""``--dry-run``: each cell's estimated cost from a two-point probe, without writing anything.

What is estimated, and how: every cell is run in this process for 1 and then 2
global iterations (in-process executor, no quality evaluation, the cell's own
compute model -- so ``calibrated`` cells time their tasks, which is the "short
calibration").  The difference is the per-iteration cost, the rest the one-off
cost (e.g. ``centralized`` shipping raw data), and the run's total is
``one_off + per_iteration x iterations``, where iterations is ``max_iterations``
or, for a time budget, ``max_virtual_time / virtual seconds per iteration``.
Bytes and virtual time are exact for methods whose traffic is the same every
iteration; wall time is rough (the probe's timings on this machine, no evaluation).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from testbed.executor import InProcessExecutor
from testbed.experiment import ExperimentSpec
from testbed.run import Run
from testbed.suite.spec import Cell


class _ProbeRun(Run):
    """A run that skips quality evaluation (the probe measures cost, not quality)."""

    def evaluate(self) -> dict[str, float]:
        self.metrics.append({"iteration": self.iteration})
        return {}


def _probe(spec: ExperimentSpec, iterations: int) -> dict[str, float]:
    spec = dataclasses.replace(spec, max_iterations=iterations, max_virtual_time_s=None, max_bytes=None,
                               eval_every=10**9, backend="inprocess")
    executor = InProcessExecutor()
    start = time.perf_counter()
    try:
        run = _ProbeRun(spec, executor, progress=False)
        run.execute()
    finally:
        executor.shutdown()
    acc = run.engine.accountant
    return {"bytes": acc.total_nbytes, "wan_bytes": acc.wan_nbytes, "egress_usd": acc.egress_usd,
            "virtual_s": run.virtual_time_s, "wall_s": time.perf_counter() - start}


def estimate_cell(cell: Cell) -> dict[str, Any]:
    """Estimated iterations, bytes, WAN bytes, egress, virtual and wall seconds of one cell."""
    one, two = _probe(cell.spec, 1), _probe(cell.spec, 2)
    per = {k: two[k] - one[k] for k in one}
    fixed = {k: one[k] - per[k] for k in one}
    per["wall_s"] = max(per["wall_s"], 0.0)  # wall clock is noisy: one-off = the first probe, slope >= 0
    fixed["wall_s"] = one["wall_s"] - per["wall_s"]
    spec = cell.spec
    iterations = spec.max_iterations
    if spec.max_virtual_time_s is not None and per["virtual_s"] > 0:
        by_time = int(max(0.0, spec.max_virtual_time_s - fixed["virtual_s"]) // per["virtual_s"])
        iterations = by_time if iterations is None else min(iterations, by_time)
    if spec.max_bytes is not None and per["bytes"] > 0:
        by_bytes = int(max(0.0, spec.max_bytes - fixed["bytes"]) // per["bytes"]) + 1
        iterations = by_bytes if iterations is None else min(iterations, by_bytes)
    n = iterations or 0
    return {"cell": cell.id, "algorithm": spec.algorithm, "iterations": iterations,
            "bytes_per_iteration": per["bytes"],
            **{f"est_{k}": fixed[k] + per[k] * n for k in ("bytes", "wan_bytes", "egress_usd", "virtual_s",
                                                            "wall_s")}}
