"""What the user asked of a suite backend on the command line.

Why a module of its own: the Ray suite backend (testbed.runtime) and the local one both take these
options; keeping them apart from the backends lets the Ray package import them without a circle.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackendOptions:
    """``--max-parallel``, ``--address``, ``--cpus-per-run``, ``--gpus-per-run``."""

    max_parallel: int | None = None
    address: str | None = None
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
