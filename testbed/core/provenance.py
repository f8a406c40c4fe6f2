"""How and where a run was made: the command line that started it and the machine it ran on.

Why: a results directory outlives the terminal that made it.  ``python -m testbed report`` shows
each run's command and machine next to its numbers, so a reader can reproduce a run or tell a
laptop run from a cluster one.  The CPU facts (model, vector extensions, the kernel path torch
picked, and the environment variables that force one) are there because quality values move with
them: the same commit re-run on another host gave other quality values (docs/design.md §2), and
without them a moved number cannot be told from a code change.  The CLI puts its command line in
``$TESTBED_COMMAND`` while a command runs, so processes it starts (suite cells in spawned processes
or Ray workers) record the command the user typed rather than their own ``argv``;
:mod:`testbed.experiment.results` writes :func:`run_info` to ``run_info.json`` in every run directory.
"""

from __future__ import annotations

import os
import platform
import shlex
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

COMMAND_ENV = "TESTBED_COMMAND"
KERNEL_ENV = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA")
"""Environment variables that force torch's, MKL's and oneDNN's kernel paths (recorded when set)."""
VECTOR_FLAG_PREFIXES = ("avx", "amx", "fma", "sse4", "neon", "asimd", "sve")
FILENAME = "run_info.json"


@contextmanager
def command_line(argv: Sequence[str]) -> Iterator[str]:
    """Set ``$TESTBED_COMMAND`` to ``python -m testbed ARGV...`` for the duration; yields it."""
    command = shlex.join(["python", "-m", "testbed", *argv])
    previous = os.environ.get(COMMAND_ENV)
    os.environ[COMMAND_ENV] = command
    try:
        yield command
    finally:
        if previous is None:
            os.environ.pop(COMMAND_ENV, None)
        else:
            os.environ[COMMAND_ENV] = previous


def current_command() -> str:
    """The command that is making this run: ``$TESTBED_COMMAND``, else this process's own argv."""
    return os.environ.get(COMMAND_ENV) or shlex.join([os.path.basename(sys.executable), *sys.argv])


def machine() -> dict[str, Any]:
    """Facts about this machine that change results or their timing."""
    import torch

    from testbed import __version__

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    named = gpus and torch.cuda.is_initialized()  # naming a GPU would create a CUDA context here: only if one exists
    return {
        "hostname": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
        "cpu_count": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "cuda_devices": gpus, "cuda_device": torch.cuda.get_device_name(0) if named else None, "testbed": __version__,
        **cpu(),
    }


def cpu() -> dict[str, Any]:
    """The CPU facts that decide which float kernels run: model, vector flags, torch's kernel path.

    Linux hosts name their model and flags in ``/proc/cpuinfo``; elsewhere the model falls back to
    :func:`platform.processor` and the flags are left empty rather than guessed.
    """
    import numpy
    import torch

    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    break  # the first processor's block says it for all of them
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    model = fields.get("model name") or fields.get("Model") or platform.processor() or platform.machine()
    flags = fields.get("flags") or fields.get("Features") or ""
    vector = sorted({f for f in flags.split() if f.startswith(VECTOR_FLAG_PREFIXES)})
    return {"cpu_model": model, "cpu_vector_flags": " ".join(vector),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "numpy": numpy.__version__,
            "kernel_env": {k: os.environ[k] for k in KERNEL_ENV if k in os.environ}}


def run_info() -> dict[str, Any]:
    """The ``run_info.json`` fields: ``command``, ``cwd`` and ``machine``."""
    return {"command": current_command(), "cwd": os.getcwd(), "machine": machine()}
