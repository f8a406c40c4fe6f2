"""Executor backends by name (``backend:`` of an experiment): where a run's node states live.

Why a registry: the engine and the run must not know that Ray exists.  ``inprocess`` is registered
here; the Ray package (testbed.runtime) registers ``ray`` when it is imported -- the command line
imports it when a run or suite asks for Ray -- so no layer below it ever imports Ray, not even lazily.
"""

from __future__ import annotations

from collections.abc import Callable

from testbed.core.errors import ConfigError
from testbed.core.registry import Registry
from testbed.exec.batching import in_process_executor
from testbed.exec.executor import Executor
from testbed.exec.spec import ExecutorsSpec

ExecutorFactory = Callable[[ExecutorsSpec, list[str], "str | None"], Executor]
"""``(executors spec, node ids, cluster address) -> Executor``."""

EXECUTOR_BACKENDS: Registry[ExecutorFactory] = Registry("executor backend")
EXECUTOR_BACKENDS.add("inprocess", lambda spec, nodes, address: in_process_executor(spec, spec.torch_threads or 1))


def executor_backend(name: str, src: str) -> ExecutorFactory:
    """The factory registered as ``name``; a name that is valid but not loaded says what to import."""
    if name in EXECUTOR_BACKENDS:
        return EXECUTOR_BACKENDS[name]
    raise ConfigError(src, "backend", f"the {name!r} executor backend is not loaded in this process",
                      "run it with `python -m testbed run`, or `import testbed.runtime` first (it registers 'ray')")
