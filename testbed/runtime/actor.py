"""The Ray actor that hosts many logical nodes' state (models, optimisers, data shard).

Starting an actor that imports torch costs ~270 MB and a second or more, so one
actor hosts many logical nodes (a whole datacenter by default).  Calls return the
value(s), their payload sizes and the call's wall time as separate objects, so
the engine can learn a message's size or a task's duration without pulling the
(possibly large) value to the driver.
"""

from __future__ import annotations

import os
import time
from typing import Any

import ray

from testbed.core.payload import payload_nbytes
from testbed.core.tree import map_leaves
from testbed.exec.devices import describe_device, gpu_device, use_deterministic
from testbed.exec.executor import construct, set_torch_threads, split_returns


def _resolve_nested(value: Any) -> Any:
    """Ray resolves only top-level ObjectRef arguments; resolve the ones inside lists/dicts too."""
    return map_leaves(value, ray.get, lambda v: isinstance(v, ray.ObjectRef))


@ray.remote
class NodeHost:
    """Hosts the states of the logical nodes placed on it and runs their methods."""

    def __init__(self, name: str, torch_threads: int = 1, required_gpus: float = 0.0) -> None:
        import torch

        set_torch_threads(torch_threads)
        self.name = name
        gpu_ids, cuda = ray.get_gpu_ids(), torch.cuda.is_available()
        if required_gpus > 0:  # asked for (executors.num_gpus, --gpus-per-run): CUDA, or one line saying why not
            self.device = gpu_device(required_gpus, cuda, gpu_ids, "executors.num_gpus", f"actor {name}")
        else:  # an even share of the cluster's GPUs, not asked for: CUDA where usable (recorded either way)
            self.device = "cuda" if gpu_ids and cuda else "cpu"
        self._states: dict[str, Any] = {}

    def info(self) -> dict[str, Any]:
        """Where this actor runs and what it was given (for placement tests and logs)."""
        ctx = ray.get_runtime_context()
        return {"name": self.name, "device": self.device, "device_info": describe_device(self.device),
                "node_id": ctx.get_node_id(),
                "gpu_ids": [str(g) for g in ray.get_gpu_ids()], "pid": os.getpid(),
                "nodes": sorted(self._states)}

    def set_deterministic(self, flag: bool) -> bool:
        """``training.deterministic`` in this actor's process (testbed.exec.devices.use_deterministic)."""
        return use_deterministic(flag)

    def host(self, node_id: str, factory: Any, args: tuple, kwargs: dict[str, Any]) -> None:
        self._states[node_id] = construct(factory, self.device, args, kwargs)

    def call(self, node_id: str, method: str, num_returns: int, args: tuple, kwargs: dict[str, Any]) -> Any:
        """Returns ``(*values, *nbytes, elapsed_s)``: 2 * num_returns + 1 objects."""
        args = _resolve_nested(args)
        kwargs = _resolve_nested(kwargs)
        start = time.perf_counter()
        value = getattr(self._states[node_id], method)(*args, **kwargs)
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        values = split_returns(value, num_returns, method)
        return (*values, *(_safe_nbytes(v) for v in values), elapsed)


def _safe_nbytes(value: Any) -> int:
    try:
        return payload_nbytes(value)
    except TypeError:
        return -1
