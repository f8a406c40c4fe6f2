"""Compute models: how long a task takes in *virtual* time on a given node.

The virtual clock only stays deterministic if compute durations do not come from
the wall clock, so the default (``calibrated``) times each task kind a few times on
the executor's own device *before* training, keeps the median, and from then on
charges ``cost / speed`` for every call (``speed`` from the topology models slower
or faster workers).  ``fixed`` takes the table from YAML (tests; replaying a run
exactly); ``measured`` times every call for real (non-deterministic; for studies
of real interference).  ``scale`` multiplies every duration (a faster or slower
accelerator than the one calibrated: the ``compute_scale`` sweep).  Models are
registered by name; the ``compute:`` setting that picks one is a :class:`ComputeSpec`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from testbed.core.registry import Registry
from testbed.core.units import exact_quantity
from testbed.exec.executor import Executor


class ComputeModel(ABC):
    """Virtual duration of one task on one node."""

    name: str = ""
    needs_measurement: bool = False
    scale: float = 1.0
    """Every duration is multiplied by this (``compute.scale``)."""

    @abstractmethod
    def duration_s(self, kind: str, speed: float, measured_s: float | None = None) -> float:
        """Virtual seconds for a task of ``kind`` on a node of relative ``speed``."""

    def costs(self) -> dict[str, float]:
        """The cost table (seconds per task kind at speed 1), for ``compute_costs.json``."""
        return {}


@dataclass
class CostTable(ComputeModel):
    """Seconds per task kind at speed 1.0; ``source`` says fixed (YAML) or calibrated."""

    costs_s: dict[str, float] = field(default_factory=dict)
    source: str = "fixed"
    default_s: float | None = None
    scale: float = 1.0

    def __post_init__(self) -> None:
        self.name = self.source
        for kind, cost in self.costs_s.items():
            if cost < 0:
                raise ValueError(f"compute cost of {kind!r} must be >= 0, got {cost}")

    def duration_s(self, kind: str, speed: float, measured_s: float | None = None) -> float:
        cost = self.costs_s.get(kind, self.default_s)
        if cost is None:
            raise KeyError(f"no compute cost for task kind {kind!r}; known: {sorted(self.costs_s)} "
                           f"(add it under compute.costs, or set compute.default)")
        return cost * self.scale / speed if self.scale != 1.0 else cost / speed

    def costs(self) -> dict[str, float]:
        return dict(self.costs_s)


@dataclass
class MeasuredCompute(ComputeModel):
    """Each call's own wall time (divided by the node's speed)."""

    name: str = "measured"
    needs_measurement: bool = True
    seen_s: dict[str, list[float]] = field(default_factory=dict)
    scale: float = 1.0

    def duration_s(self, kind: str, speed: float, measured_s: float | None = None) -> float:
        if measured_s is None:
            raise ValueError("the measured compute model needs the call's measured time")
        self.seen_s.setdefault(kind, []).append(measured_s)
        return measured_s * self.scale / speed

    def costs(self) -> dict[str, float]:
        import statistics

        return {kind: statistics.median(v) for kind, v in self.seen_s.items()}


class WarmUp:
    """``compute: measured`` warms each task kind up once per executor process before timing its calls.

    The first call of a kind would otherwise charge CUDA's start-up, kernel loading and the allocator's
    first growth as virtual time.  The warm-up is the node state's calibration task of that kind, run on
    a copy of the state (testbed.methods.common.timing.Calibrated.warm_up), before the real call."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.done: set[tuple[str, str]] = set()
        """(executor process, task kind) pairs warmed up."""

    def __call__(self, node_id: str, kind: str) -> None:
        key = (self.executor.process_of(node_id), kind)
        if key in self.done:
            return
        self.done.add(key)
        try:
            self.executor.resolve(self.executor.call(node_id, "warm_up", kind))
        except AttributeError:  # a state that is not a testbed.methods.common.timing.Calibrated: nothing to warm
            pass


def calibrate(time_task: Callable[[str], float], kinds: list[str]) -> CostTable:
    """Build a calibrated table from ``time_task(kind) -> median seconds`` per kind."""
    return CostTable({kind: float(time_task(kind)) for kind in kinds}, source="calibrated")


COMPUTE_MODELS: Registry[Callable[..., ComputeModel]] = Registry("compute model")
COMPUTE_MODELS.add("fixed", lambda costs=None, default=None, scale=1.0: CostTable(dict(costs or {}), "fixed", default,
                                                                                 scale))
COMPUTE_MODELS.add("calibrated", lambda costs=None, default=None, scale=1.0: CostTable(dict(costs or {}), "calibrated",
                                                                                      default, scale))
COMPUTE_MODELS.add("measured", lambda costs=None, default=None, scale=1.0: MeasuredCompute(scale=scale))


def make_compute_model(name: str, **params: Any) -> ComputeModel:
    """A compute model by registered name (``fixed``, ``calibrated``, ``measured``)."""
    return COMPUTE_MODELS[name](**params)


@dataclass(frozen=True)
class ComputeSpec:
    """The experiment's ``compute:`` setting, parsed (:func:`testbed.experiment.spec.load_experiment`).

    ``costs_s``: seconds per task kind at speed 1, in the order written; ``default_s``: the cost of
    a kind not listed (None: such a kind is an error, or calibrated); ``repeats``: how many times
    calibration times each task kind; ``scale``: every duration times this.
    """

    model: str = "calibrated"
    costs_s: tuple[tuple[str, float], ...] = ()
    default_s: float | None = None
    repeats: int = 3
    scale: float = 1.0

    def build(self) -> ComputeModel:
        """A fresh compute model for one run (a calibrated table fills in as the run calibrates)."""
        return make_compute_model(self.model, costs=dict(self.costs_s), default=self.default_s, scale=self.scale)

    def to_dict(self) -> dict[str, Any]:
        """The setting as ``config.yaml`` holds it."""
        out: dict[str, Any] = {"model": self.model, "costs": {k: exact_quantity(v, "s") for k, v in self.costs_s}}
        if self.default_s is not None:
            out["default"] = exact_quantity(self.default_s, "s")
        out["repeats"] = self.repeats
        if self.scale != 1.0:  # config.yaml of a run without a scale stays as it was
            out["scale"] = self.scale
        return out
