"""Which device an executor trains on, chosen in one place and recorded with every run.

Why: a run that asked for a GPU and silently trained on the CPU reports the wrong wall times and
values that differ from a GPU run's, and nothing in its results said so.  So the choice is made
here -- a CUDA device only when one is really usable, and a request for a GPU that cannot be met
is one ConfigError line, never a quiet fall-back -- and every executor reports
:func:`describe_device` of what it uses, which ``summary.json`` and ``run_info.json`` record
(``devices``: ``cpu``, or ``cuda:N`` with the card's name).  :func:`use_deterministic` is what
``training.deterministic: true`` switches on in every executor process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from testbed.core.errors import ConfigError


def describe_device(device: str) -> dict[str, str]:
    """``{"device": "cpu"}``, or ``{"device": "cuda:N", "name": <the card's name>}`` for a CUDA device."""
    import torch

    dev = torch.device(device)
    if dev.type != "cuda":
        return {"device": dev.type}
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    return {"device": f"cuda:{index}", "name": torch.cuda.get_device_name(index)}


def gpu_device(gpus: float, cuda_available: bool, gpu_ids: Sequence[Any], field: str = "--gpus-per-run",
               who: str = "the run's task") -> str:
    """The device of an executor given ``gpus`` GPUs (``--gpus-per-run`` for ``executors: in_task``, an
    actor's ``executors.num_gpus`` or share): ``cuda`` when it really sees one, ``cpu`` when none was
    asked for, and a ConfigError naming ``field`` when one was asked for but cannot be used there."""
    if gpus <= 0:
        return "cpu"
    if cuda_available and len(gpu_ids) > 0:
        return "cuda"
    why = f"torch in {who} has no CUDA" if not cuda_available else f"Ray gave {who} no GPU"
    raise ConfigError("command line" if field.startswith("--") else "experiment", field,
                      f"{gpus:g} GPU asked for, but {why}, so it would train on the CPU",
                      f"install a CUDA build of torch on the cluster's nodes, or drop {field}")


def use_deterministic(flag: bool) -> bool:
    """Switch torch's deterministic algorithms on or off in this process; returns the previous setting.

    On: ``torch.use_deterministic_algorithms(True)`` (an op without a deterministic kernel raises
    instead of running; CUDA's ``index_add_`` -- Gaia's mirror updates -- and scatter/gather take their
    deterministic paths), cuDNN deterministic without autotuning, and the cuBLAS workspace that
    deterministic CUDA GEMMs need (``CUBLAS_WORKSPACE_CONFIG``, read when CUDA starts: set it in the
    environment to cover a process whose CUDA is already running)."""
    import torch

    previous = torch.are_deterministic_algorithms_enabled()
    if flag:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(flag)
    torch.backends.cudnn.deterministic = flag
    torch.backends.cudnn.benchmark = False
    return previous
