"""Running one cell, in whichever process the backend picked: success or a failed summary.

A cell that raises does not stop its suite: it gets a ``summary.json`` with
``status: failed`` and the error on one line, so the index shows it and
``--resume`` retries it.  A run that had started training keeps what it measured
(``metrics.csv``, traffic; ``partial: true``), anything else is wiped.  Failures of
the machinery rather than the experiment (a Ray actor or node that died, a killed
worker process) are flagged ``infrastructure: true``: only those ``--retries`` repeats.
Where the run happened (host, Ray node id) is added to the summary, so a suite on
a cluster can be audited.
"""

from __future__ import annotations

import json
import os
import socket
import traceback
from pathlib import Path
from typing import Any

from testbed.core.errors import ConfigError
from testbed.core.fileio import atomic_write_text
from testbed.suite.index import read_summary, wipe

INFRASTRUCTURE_ERRORS = frozenset({
    "RayActorError", "ActorDiedError", "ActorUnavailableError", "NodeDiedError", "WorkerCrashedError",
    "LocalRayletDiedError", "OwnerDiedError", "ObjectLostError", "ObjectReconstructionFailedError",
    "RaySystemError", "BrokenProcessPool", "TaskUnschedulableError", "ActorUnschedulableError",
})
"""Exception class names that say the cluster, not the experiment, failed."""


def is_infrastructure(err: BaseException) -> bool:
    """True when ``err`` (or what it wraps) is a death of an actor, node or worker process."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if any(cls.__name__ in INFRASTRUCTURE_ERRORS for cls in type(err).__mro__):
            return True
        err = err.__cause__ or err.__context__
    return False


def failed_summary(run_id: Any, err: BaseException, location: dict[str, Any] | None = None) -> dict[str, Any]:
    """The summary of a cell that raised ``err`` (one-line error, infrastructure flag)."""
    return {"run_id": run_id, "status": "failed", "error": " ".join(f"{type(err).__name__}: {err}".split()),
            "infrastructure": is_infrastructure(err), **({"ran_on": location} if location else {})}


def replay_cell(source_dir: Path, experiment: dict[str, Any], run_dir: Path) -> dict[str, Any] | None:
    """Re-cost one cell from the complete cell in ``source_dir`` (``replay: true``); its summary, or None when
    the replay is refused (not exact here) and the cell must be trained instead.  Nothing is left behind then."""
    from testbed.experiment.exactness import ReplayRefusedError
    from testbed.experiment.launch import replay_experiment
    from testbed.experiment.replay_source import load_source

    wipe(run_dir)
    location = {"hostname": socket.gethostname(), "pid": os.getpid()}
    try:
        replay_experiment(load_source(source_dir), experiment, run_dir, target_src=f"cell {experiment.get('name')}",
                          changes={"from_cell": source_dir.name}, extra_summary={"ran_on": location})
        return read_summary(run_dir) or {}
    except ReplayRefusedError:
        wipe(run_dir)
        return None
    except Exception as err:
        wipe(run_dir)
        summary = {**failed_summary(experiment.get("name"), err, location), "traceback": traceback.format_exc()}
        atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
        return summary


def run_cell(experiment: dict[str, Any], run_dir: str | Path, *, executor: Any = None,
             where: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one cell's experiment into ``run_dir``; returns its summary (``status`` complete or failed)."""
    from testbed.experiment.launch import run_experiment
    from testbed.experiment.spec import parse_experiment

    run_dir = Path(run_dir)
    wipe(run_dir)
    location = {"hostname": socket.gethostname(), "pid": os.getpid(), **(where or {})}
    try:
        spec = parse_experiment(experiment, f"cell {experiment.get('name')}", Path("."))
        run_experiment(spec, run_dir, executor=executor, progress=False, extra_summary={"ran_on": location})
        return read_summary(run_dir) or {}
    except Exception as err:
        if isinstance(err, ConfigError) and err.source == "<input>":  # say which cell, not "<input>"
            err = ConfigError(f"cell {experiment.get('name')}", err.field, err.problem, err.fix)
        summary = failed_summary(experiment.get("name"), err, location)
        partial = read_summary(run_dir) or {}
        if partial.get("partial"):  # the run wrote what it had measured before it died
            summary = {**partial, **summary, "partial": True}
        else:
            wipe(run_dir)
        summary["traceback"] = traceback.format_exc()
        atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
        return summary
