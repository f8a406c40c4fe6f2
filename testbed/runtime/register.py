"""Registers the Ray executor and the Ray suite backend under the name ``ray``.

Why a module of its own: registration is the one place where the lower layers' registries meet Ray,
and it runs once, when testbed.runtime is imported.
"""

from __future__ import annotations

from testbed.exec.backends import EXECUTOR_BACKENDS
from testbed.exec.executor import Executor
from testbed.exec.spec import ExecutorsSpec
from testbed.runtime.cluster import ensure_ray
from testbed.runtime.ray_executor import Placement, RayExecutor
from testbed.runtime.suite_backend import RayCells
from testbed.suite.backends import BACKENDS


def ray_executor(spec: ExecutorsSpec, nodes: list[str], address: str | None) -> Executor:
    """A RayExecutor for ``nodes`` placed as ``spec`` says (starting or joining Ray first)."""
    ensure_ray(address)
    return RayExecutor(nodes, Placement.parse(spec))


if "ray" not in EXECUTOR_BACKENDS:
    EXECUTOR_BACKENDS.add("ray", ray_executor)
if "ray" not in BACKENDS:
    BACKENDS.add("ray", RayCells)
