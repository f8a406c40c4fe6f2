"""Where cells run: local worker processes (``inprocess``) or Ray (``ray``), behind one interface.

A backend takes cells (``submit``), reports finished ones (``wait``) and can be
stopped (``shutdown``); the scheduler does the rest.  ``inprocess`` runs cells in a
pool of spawned local processes, each with the in-process executor -- no Ray, for
laptops and CI.  On Linux each child asks the kernel to kill it when the suite's
process dies (``PR_SET_PDEATHSIG``), so a SIGKILLed suite leaves no orphan still
writing into a directory that ``--resume`` is about to wipe.  The Ray backend lives
in :mod:`testbed.runtime.suite_backend` and registers itself here as ``ray`` when testbed.runtime is
imported (only ``testbed/runtime`` imports Ray; nothing here imports it).
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

from testbed.core.errors import ConfigError
from testbed.core.registry import Registry
from testbed.suite.cell import failed_summary, run_cell
from testbed.suite.options import BackendOptions
from testbed.suite.spec import Cell


class Backend(Protocol):
    """Runs cells; at most :attr:`capacity` at once."""

    capacity: int

    def submit(self, cell: Cell, run_dir: Path) -> None:
        """Start running ``cell`` into ``run_dir``."""

    def wait(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        """Cells that finished within ``timeout_s``: ``(cell id, summary)``."""

    def shutdown(self, cancel: bool) -> None:
        """Stop; with ``cancel``, kill running cells (their directories stay pending)."""


def _die_with_parent(threads: int) -> None:
    """Pool initializer: die when the suite process dies; one share of the CPU threads."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the suite process decides what Ctrl-C does
    import torch

    torch.set_num_threads(threads)


class LocalProcesses:
    """Cells in spawned local processes, each with the in-process executor."""

    def __init__(self, options: BackendOptions) -> None:
        cores = os.cpu_count() or 1
        self.capacity = max(1, options.max_parallel or int(cores // max(options.cpus_per_run, 1e-9)) or 1)
        self._threads = max(1, cores // self.capacity)
        self._pool = self._new_pool()
        self._futures: dict[cf.Future, str] = {}

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.capacity, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_die_with_parent, initargs=(self._threads,))

    def submit(self, cell: Cell, run_dir: Path) -> None:
        try:
            future = self._pool.submit(run_cell, cell.experiment, str(run_dir))
        except BrokenProcessPool:  # a worker process was killed: the pool is done, start another
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            future = self._pool.submit(run_cell, cell.experiment, str(run_dir))
        self._futures[future] = cell.id

    def wait(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        if not self._futures:
            return []
        done, _ = cf.wait(list(self._futures), timeout=timeout_s, return_when=cf.FIRST_COMPLETED)
        out = []
        for future in done:
            cell_id = self._futures.pop(future)
            try:
                out.append((cell_id, future.result()))
            except Exception as err:
                out.append((cell_id, failed_summary(cell_id, err)))
        return out

    def shutdown(self, cancel: bool) -> None:
        if cancel:
            # ProcessPoolExecutor has no public way to kill busy workers before Python 3.14.
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.kill()
        self._pool.shutdown(wait=True, cancel_futures=cancel)


BACKENDS: Registry[Callable[[BackendOptions], Backend]] = Registry("suite backend")
BACKENDS.add("inprocess", LocalProcesses)


def suite_backend(name: str) -> Callable[[BackendOptions], Backend]:
    """The suite backend registered as ``name``; ``ray`` before testbed.runtime is imported says so."""
    if name in BACKENDS:
        return BACKENDS[name]
    if name == "ray":
        raise ConfigError("command line", "--backend", "the 'ray' suite backend is not loaded in this process",
                          "run the suite with `python -m testbed run`, or `import testbed.runtime` first")
    return BACKENDS[name]  # an unknown name: the registry's error lists the known ones
