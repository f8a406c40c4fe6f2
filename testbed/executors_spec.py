"""The ``executors:`` setting of an experiment: where a run's logical nodes are hosted.

Why its own module: the placement is read by the experiment parser (validation), the run (which
executor to build) and the Ray runtime (how many actors, what each asks for); one definition of
the names and of :func:`placement_kind` keeps the three agreeing.  Plain data, no Ray import.
"""

from __future__ import annotations

from typing import Any

from testbed.errors import ConfigError
from testbed.fields import checked_number

EXECUTOR_KEYS = {"placement", "pool", "num_cpus", "num_gpus", "torch_threads"}
PLACEMENTS = ("per_datacenter", "per_worker", "in_task")
"""``in_task``: every node of the run lives in the run's own process (on Ray: the cell's task, inside its
placement group) -- no actors.  For small models, where an actor round trip (~1-3 ms on a 2-core machine)
costs more than a training step, this is what keeps a suite of many small runs fast; runs still spread
over a cluster one per placement group."""


def placement_kind(executors: Any) -> str:
    """The ``executors`` setting's placement name: ``pool`` when a pool size is given, else the named
    placement (``per_datacenter`` by default)."""
    if isinstance(executors, str):
        return executors
    if isinstance(executors, dict):
        return "pool" if "pool" in executors else str(executors.get("placement", "per_datacenter"))
    return "per_datacenter"


def parse_executors(value: Any, src: str) -> Any:
    """``per_datacenter`` | ``per_worker`` | ``in_task`` | {placement|pool, num_cpus, num_gpus, torch_threads}."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {"placement": value}
    if not isinstance(value, dict):
        raise ConfigError(src, "executors", "expected a placement name or a mapping", "write executors: {pool: 4}")
    for key in value:
        if key not in EXECUTOR_KEYS:
            raise ConfigError(src, f"executors.{key}", "unknown key",
                              f"remove it or use one of {sorted(EXECUTOR_KEYS)}")
    if value.get("placement", "per_datacenter") not in PLACEMENTS:
        raise ConfigError(src, "executors.placement", f"unknown placement {value['placement']!r}",
                          f"use one of {list(PLACEMENTS)} or pool: N")
    for key in ("pool", "torch_threads"):
        if key in value:
            checked_number(value[key], src, f"executors.{key}", int, 1, 10**9)
    return value
