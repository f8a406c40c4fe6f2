"""Starting or joining Ray, once per process, with the settings the testbed needs.

A local Ray is started unless ``address`` names an existing cluster (``auto`` for
the one ``ray start --head`` made).  Actors import ``testbed`` from this checkout:
its root is put on the workers' ``PYTHONPATH``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ray

REPO_ROOT = str(Path(__file__).resolve().parents[2])


def ensure_ray(address: str | None = None, num_cpus: int | None = None, num_gpus: int | None = None,
               resources: dict[str, float] | None = None) -> dict[str, Any]:
    """Initialise Ray if needed; returns the cluster's resources."""
    if not ray.is_initialized():
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        pythonpath = os.pathsep.join(p for p in (REPO_ROOT, os.environ.get("PYTHONPATH", "")) if p)
        kwargs: dict[str, Any] = {
            "runtime_env": {"env_vars": {"PYTHONPATH": pythonpath}},
            "log_to_driver": False,
            "configure_logging": False,
        }
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=num_cpus, num_gpus=num_gpus, resources=resources,
                     include_dashboard=False, **kwargs)
    return ray.cluster_resources()


def shutdown_ray() -> None:
    """Stop the Ray this process started (or disconnect from a cluster)."""
    if ray.is_initialized():
        ray.shutdown()
