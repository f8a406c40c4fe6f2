"""Starting or joining Ray, once per process, with the settings the testbed needs.

Without ``address`` a *fresh local* Ray is always started (``address="local"``):
plain ``ray.init()`` would first try ``$RAY_ADDRESS`` and the cluster file
``/tmp/ray/ray_current_cluster``, and a stale file left by a killed cluster made
a local run hang trying to reach it.  With ``address`` (``auto`` = the cluster
``ray start --head`` made on this machine), the head's port is probed first, so a
cluster that is gone is one line within seconds instead of a hang past 90 s.
Actors import ``testbed`` from this checkout: its root is put on the workers'
``PYTHONPATH``.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import ray

from testbed.core.errors import ConfigError
from testbed.core.provenance import COMMAND_ENV

REPO_ROOT = str(Path(__file__).resolve().parents[2])
PROBE_TIMEOUT_S = 10.0
"""How long to wait for the head's GCS port to accept a connection."""


def ensure_ray(address: str | None = None, num_cpus: int | None = None, num_gpus: int | None = None,
               resources: dict[str, float] | None = None) -> dict[str, Any]:
    """Initialise Ray if needed; returns the cluster's resources."""
    if not ray.is_initialized():
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        pythonpath = os.pathsep.join(p for p in (REPO_ROOT, os.environ.get("PYTHONPATH", "")) if p)
        env_vars = {"PYTHONPATH": pythonpath}
        if COMMAND_ENV in os.environ:  # the command line each run records (testbed.core.provenance)
            env_vars[COMMAND_ENV] = os.environ[COMMAND_ENV]
        kwargs: dict[str, Any] = {
            "runtime_env": {"env_vars": env_vars},
            "log_to_driver": False,
            "configure_logging": False,
        }
        if address:
            target = resolve_address(address)
            probe(target, address)
            try:
                ray.init(address=target, **kwargs)
            except (ConnectionError, TimeoutError, RuntimeError, ValueError) as err:
                raise ConfigError("command line", "--address", f"cannot join the Ray cluster at {target} "
                                  f"({' '.join(str(err).split())[:200]})", _FIX) from None
        else:
            stale = os.environ.pop("RAY_ADDRESS", None)  # nor may Ray's own processes go looking for it
            try:
                ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, resources=resources,
                         include_dashboard=False, **kwargs)
            finally:
                if stale is not None:
                    os.environ["RAY_ADDRESS"] = stale
    return ray.cluster_resources()


_FIX = "start it (ray start --head), check HOST:PORT, or drop --address to run on a local Ray"


def resolve_address(address: str) -> str:
    """``auto`` -> the address of the cluster started on this machine (``$RAY_ADDRESS`` or Ray's cluster file)."""
    if address != "auto":
        return address
    found = os.environ.get("RAY_ADDRESS") or _cluster_file_address()
    if not found or found == "auto":
        raise ConfigError("command line", "--address", "auto, but no Ray cluster was started on this machine",
                          "run `ray start --head` first, or drop --address to run on a local Ray")
    return found


def _cluster_file_address() -> str | None:
    try:
        from ray._private.utils import read_ray_address

        return read_ray_address()
    except Exception:
        return None


def probe(target: str, given: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """One line unless ``target``'s host:port accepts a TCP connection within ``timeout_s``."""
    hostport = target.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError("command line", "--address", f"{given!r} is not HOST:PORT",
                          "write e.g. 10.0.0.1:6379 or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as err:
        origin = "" if given == target else f" (from --address {given})"
        raise ConfigError("command line", "--address", f"no Ray cluster answers at {target}{origin}: "
                          f"{err.strerror or type(err).__name__}", _FIX) from None


def node_capacity() -> tuple[float, float]:
    """The most CPUs and GPUs any one alive node of the cluster has."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    cpus = max((float(n.get("Resources", {}).get("CPU", 0)) for n in nodes), default=0.0)
    gpus = max((float(n.get("Resources", {}).get("GPU", 0)) for n in nodes), default=0.0)
    return cpus, gpus


def shutdown_ray() -> None:
    """Stop the Ray this process started (or disconnect from a cluster)."""
    if ray.is_initialized():
        ray.shutdown()
