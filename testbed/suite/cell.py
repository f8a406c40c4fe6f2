"""Running one cell, in whichever process the backend picked: success or a failed summary.

A cell that raises does not stop its suite: its directory is wiped and gets a
``summary.json`` with ``status: failed`` and the error on one line, so the index
shows it and ``--resume`` retries it.  Where the run happened (host, Ray node id)
is added to the summary, so a suite on a cluster can be audited.
"""

from __future__ import annotations

import json
import os
import socket
import traceback
from pathlib import Path
from typing import Any

from testbed.fileio import atomic_write_text
from testbed.suite.index import read_summary, wipe


def run_cell(experiment: dict[str, Any], run_dir: str | Path, *, executor: Any = None,
             where: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one cell's experiment into ``run_dir``; returns its summary (``status`` complete or failed)."""
    from testbed.experiment import parse_experiment
    from testbed.run import run_experiment

    run_dir = Path(run_dir)
    wipe(run_dir)
    location = {"hostname": socket.gethostname(), "pid": os.getpid(), **(where or {})}
    try:
        spec = parse_experiment(experiment, f"cell {experiment.get('name')}", Path("."))
        run_experiment(spec, run_dir, executor=executor, progress=False)
        summary = read_summary(run_dir) or {}
        summary["ran_on"] = location
        atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
        return summary
    except Exception as err:
        error = " ".join(f"{type(err).__name__}: {err}".split())
        wipe(run_dir)
        summary = {"run_id": experiment.get("name"), "status": "failed", "error": error, "ran_on": location,
                   "traceback": traceback.format_exc()}
        atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2))
        return summary
