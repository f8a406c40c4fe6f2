"""Suite cells on a Ray cluster: one task per run, its executors in the run's placement group.

Each cell gets a placement group of one bundle (``cpus_per_run`` CPUs, plus
``gpus_per_run`` GPUs), packed on one node; the cell's engine runs as a Ray task in
that group, and the task's NodeHost actors are captured into it, sharing the
bundle.  With ``executors: in_task`` the task itself trains, so it takes the bundle's GPUs and
trains on CUDA -- or, when its torch sees no CUDA device, the cell fails with one line saying so
(testbed.exec.devices.gpu_device), never a silent CPU run.  Ray starts a run when its group
fits, so as many runs go in parallel as the cluster's resources allow (``--max-parallel`` caps it), landing on whichever
nodes have room.  The task records the Ray node id it ran on in ``summary.json``.
Results are written by the task itself: on a multi-machine cluster the results
directory must be on a filesystem every node sees.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from testbed.core.errors import ConfigError
from testbed.exec.batching import in_process_executor
from testbed.exec.devices import gpu_device
from testbed.runtime.cluster import ensure_ray, node_capacity
from testbed.runtime.ray_executor import Placement, RayExecutor
from testbed.suite.cell import failed_summary
from testbed.suite.options import BackendOptions
from testbed.suite.spec import Cell


@ray.remote(num_cpus=0, max_retries=0)
def _run_cell_task(experiment: dict[str, Any], run_dir: str, cpus: float, gpus: float) -> dict[str, Any]:
    """The engine of one run, inside the run's placement group."""
    import torch

    from testbed.experiment.spec import parse_experiment
    from testbed.suite.cell import run_cell

    torch.set_num_threads(max(1, int(cpus)))
    spec = parse_experiment(experiment, f"cell {experiment.get('name')}", Path("."))
    where = {"ray_node_id": ray.get_runtime_context().get_node_id()}
    if spec.executors.kind == "in_task":  # every node in this task: no actor round trips
        device = gpu_device(gpus, torch.cuda.is_available(), ray.get_gpu_ids())  # CUDA, or one line
        return run_cell(experiment, run_dir, executor=in_process_executor(spec.executors, max(1, int(cpus)), device),
                        where=where)
    placement = Placement.parse(spec.executors)
    groups = len(placement.groups(list(spec.topology.nodes)))
    placement = dataclasses.replace(placement, num_cpus=placement.num_cpus or round(cpus / groups - 5e-5, 4),
                                    num_gpus=placement.num_gpus if placement.num_gpus is not None
                                    else round(gpus / groups - 5e-5, 4) if gpus else 0.0)
    executor = RayExecutor(list(spec.topology.nodes), placement)
    try:
        return run_cell(experiment, run_dir, executor=executor, where=where)
    finally:
        executor.shutdown()


class RayCells:
    """The ``ray`` suite backend (see the module docstring)."""

    def __init__(self, options: BackendOptions) -> None:
        self._started_here = not ray.is_initialized() and not options.address
        resources = ensure_ray(options.address)
        self.cpus, self.gpus = float(options.cpus_per_run), float(options.gpus_per_run)
        node_cpus, node_gpus = node_capacity()
        for flag, want, have, unit in (("--cpus-per-run", self.cpus, node_cpus, "CPUs"),
                                       ("--gpus-per-run", self.gpus, node_gpus, "GPUs")):
            if want > have:  # the run's placement group would wait for ever
                if self._started_here:
                    ray.shutdown()
                raise ConfigError("command line", flag, f"{want:g} {unit} per run, but no node has more than "
                                  f"{have:g}", f"use {flag} {have:g} or less")
        fit = int(resources.get("CPU", 1) // max(self.cpus, 1e-9))
        if self.gpus:
            fit = min(fit, int(resources.get("GPU", 0) // self.gpus))
        self.capacity = max(1, options.max_parallel or fit or 1)
        self._running: dict[ray.ObjectRef, tuple[str, Any]] = {}

    def submit(self, cell: Cell, run_dir: Path) -> None:
        bundle = {"CPU": self.cpus, **({"GPU": self.gpus} if self.gpus else {})}
        group = placement_group([bundle], strategy="STRICT_PACK")
        strategy = PlacementGroupSchedulingStrategy(group, placement_group_capture_child_tasks=True)
        in_task = cell.spec.executors.kind == "in_task"  # the task itself trains: it holds the run's GPUs
        ref = _run_cell_task.options(scheduling_strategy=strategy, num_gpus=self.gpus if in_task else 0).remote(
            cell.experiment, str(Path(run_dir).resolve()), self.cpus, self.gpus)
        self._running[ref] = (cell.id, group)

    def wait(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        if not self._running:
            time.sleep(min(timeout_s, 0.1))
            return []
        done, _ = ray.wait(list(self._running), num_returns=1, timeout=timeout_s)
        out = []
        for ref in done:
            cell_id, group = self._running.pop(ref)
            try:
                out.append((cell_id, ray.get(ref)))
            except Exception as err:
                out.append((cell_id, failed_summary(cell_id, err)))
            remove_placement_group(group)
        return out

    def shutdown(self, cancel: bool) -> None:
        for ref, (_, group) in list(self._running.items()):
            if cancel:
                ray.cancel(ref, force=True, recursive=True)
            remove_placement_group(group)
        self._running.clear()
        if self._started_here:
            ray.shutdown()
