"""The ``executors:`` setting of an experiment: where a run's logical nodes are hosted.

Why its own module: the placement is read by the experiment parser (validation), the run (which
executor to build) and the Ray runtime (how many actors, what each asks for); one frozen
:class:`ExecutorsSpec` and its :attr:`~ExecutorsSpec.kind` keep the three agreeing.  Plain data,
no Ray import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from testbed.core.errors import ConfigError
from testbed.core.fields import checked_bool, checked_number, without_nulls

EXECUTOR_KEYS = {"placement", "pool", "num_cpus", "num_gpus", "torch_threads", "batch"}
PLACEMENTS = ("per_datacenter", "per_worker", "in_task")
"""``in_task``: every node of the run lives in the run's own process (on Ray: the cell's task, inside its
placement group) -- no actors.  For small models, where an actor round trip (~1-3 ms on a 2-core machine)
costs more than a training step, this is what keeps a suite of many small runs fast; runs still spread
over a cluster one per placement group."""


RANGES: dict[str, tuple[type, float, float]] = {
    "pool": (int, 1, 100_000), "torch_threads": (int, 1, 1024),
    "num_cpus": (float, 0, 1024), "num_gpus": (float, 0, 64),
}
"""Each number's range, safe on any machine: torch segfaults on ~100,000 threads (1,024 ran here), Ray refuses
negative resources (``num_cpus: -1`` used to reach it), a pool of more actors than workers is idle."""


@dataclass(frozen=True)
class ExecutorsSpec:
    """The ``executors:`` setting, parsed.

    ``placement``: a name of :data:`PLACEMENTS`; ``pool_size``: that many actors, nodes dealt round
    robin (overrides ``placement``); ``num_cpus`` / ``num_gpus``: what each actor asks Ray for (None:
    an even share); ``torch_threads``: torch's threads per executor (None: 1 in process, Ray's
    default on actors); ``batch``: defer calls and run same-kind calls of many nodes as one batched
    computation (testbed.exec.batching; in process only, not with ``compute: measured``).  ``written``: the
    keys the YAML gave, in its order (None: no ``executors`` setting), so :meth:`to_dict` dumps the
    setting as it was written.
    """

    placement: str = "per_datacenter"
    pool_size: int | None = None
    num_cpus: float | None = None
    num_gpus: float | None = None
    torch_threads: int | None = None
    batch: bool = False
    written: tuple[str, ...] | None = None

    @property
    def kind(self) -> str:
        """The placement in force: ``pool`` when a pool size is given, else the named placement."""
        return "pool" if self.pool_size is not None else self.placement

    def to_dict(self) -> dict[str, Any] | None:
        """The setting as ``config.yaml`` holds it (None when the experiment has none)."""
        if self.written is None:
            return None
        values = {"placement": self.placement, "pool": self.pool_size, "num_cpus": self.num_cpus,
                  "num_gpus": self.num_gpus, "torch_threads": self.torch_threads, "batch": self.batch}
        return {key: values[key] for key in self.written}


def parse_executors(value: Any, src: str) -> ExecutorsSpec:
    """``per_datacenter`` | ``per_worker`` | ``in_task`` | {placement|pool, num_cpus, num_gpus, torch_threads,
    batch}."""
    if value is None:
        return ExecutorsSpec()
    if isinstance(value, str):
        value = {"placement": value}
    value = without_nulls(value)
    if value == {}:
        return ExecutorsSpec()
    if not isinstance(value, dict):
        raise ConfigError(src, "executors", "expected a placement name or a mapping", "write executors: {pool: 4}")
    for key in value:
        if key not in EXECUTOR_KEYS:
            raise ConfigError(src, f"executors.{key}", "unknown key",
                              f"remove it or use one of {sorted(EXECUTOR_KEYS)}")
    if value.get("placement", "per_datacenter") not in PLACEMENTS:
        raise ConfigError(src, "executors.placement", f"unknown placement {value['placement']!r}",
                          f"use one of {list(PLACEMENTS)} or pool: N")
    numbers = {key: checked_number(value[key], src, f"executors.{key}", *RANGES[key])
               for key in RANGES if value.get(key) is not None}
    batch = checked_bool(value.get("batch", False), src, "executors.batch", "write batch: true")
    return ExecutorsSpec(placement=value.get("placement", "per_datacenter"), pool_size=numbers.get("pool"),
                         num_cpus=numbers.get("num_cpus"), num_gpus=numbers.get("num_gpus"),
                         torch_threads=numbers.get("torch_threads"), batch=batch, written=tuple(value))


def check_batch(spec: ExecutorsSpec, backend: str, compute_model: str, src: str) -> None:
    """Refuse ``batch: true`` where batching cannot apply (testbed.exec.batching): ``compute: measured``
    needs each call's own wall time when it is dispatched, and Ray actors run calls elsewhere."""
    if not spec.batch:
        return
    if compute_model == "measured":
        raise ConfigError(src, "executors.batch", "batched calls run deferred, so compute: measured cannot time "
                          "each one", "use compute: calibrated or fixed, or drop executors.batch")
    if backend == "ray" and spec.kind != "in_task":
        raise ConfigError(src, "executors.batch", f"batching runs in process, not on Ray actors ({spec.kind})",
                          "use placement: in_task on Ray, --backend inprocess, or drop executors.batch")
