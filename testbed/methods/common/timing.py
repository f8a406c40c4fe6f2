"""Calibration timing: how long one task of a kind takes on this node's device.

The calibrated compute model (testbed.sim.compute) charges each task the median wall time measured
here before training.  Every node state times its tasks the same way -- on a deep copy of
itself (calibration must not change the state that will train), one warm-up call, then the
median of ``repeats`` calls -- and on a GPU it synchronises CUDA before reading the clock, or it
would time a kernel launch instead of the kernel.  One helper (testbed.exec.timing, which the wire's
timing of compression shares), so no state can get that wrong.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar

from testbed.exec.timing import median_seconds, synchronize

__all__ = ["Calibrated", "median_seconds"]


class Calibrated:
    """Mixin for node states: ``time_task(kind)`` from the state's :meth:`calibration_tasks`."""

    device: str = "cpu"
    calibration_units: ClassVar[dict[str, float]] = {}
    """Tasks of a kind that one calibration call performs (default 1): the result is per task."""

    def calibration_tasks(self) -> dict[str, Callable[[], Any]]:
        """Kind -> a call performing one task of that kind on *this* object (called on a copy)."""
        return {}

    def warm_up(self, kind: str) -> bool:
        """Run one task of ``kind`` on a copy of this state and wait for the device (``compute: measured``
        warms each kind up this way before timing real calls); False if this state has no such task."""
        probe = copy.deepcopy(self)
        tasks = probe.calibration_tasks()
        if kind not in tasks:
            return False
        tasks[kind]()
        synchronize(self.device)
        return True

    def time_task(self, kind: str, repeats: int = 3) -> float:
        """Median wall seconds of one task of ``kind`` on this device, measured on a copy of the state."""
        probe = copy.deepcopy(self)
        tasks = probe.calibration_tasks()
        if kind not in tasks:
            raise KeyError(f"{type(self).__name__} cannot time task kind {kind!r}; it times {sorted(tasks)}")
        return median_seconds(tasks[kind], repeats, self.device) / self.calibration_units.get(kind, 1.0)
