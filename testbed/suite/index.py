"""A suite's results directory: ``results/<suite>/<cell-id>/`` plus ``index.csv``.

The index is a pure function of what is on disk -- each cell's ``summary.json`` --
so it is rebuilt (atomically) after every finished cell and is right after any
crash.  A cell directory is *complete* when its summary says so, *failed* when its
summary records an error, otherwise *pending*: anything pending is wiped before it
runs again, so no half-written directory survives a resume.  The column order is a
contract with the analysis package (``analysis/``): keep it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from testbed.core.fileio import atomic_write, read_json_object
from testbed.suite.spec import Suite

INDEX_NAME = "index.csv"
RESULT_COLUMNS = ("iterations", "virtual_time_s", "wall_time_s", "total_bytes", "wan_bytes", "lan_bytes",
                  "egress_usd", "headline_metric", "headline_value", "error", "replayed_from")
"""``replayed_from``: the cell a replayed cell was re-costed from (``replay: true``), empty for trained cells."""
STATUSES = ("complete", "failed", "pending")


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """A cell's summary, or None when it has none (or a torn one -- never the case with atomic writes)."""
    return read_json_object(run_dir / "summary.json")


def cell_status(run_dir: Path) -> str:
    """``complete`` | ``failed`` | ``pending``."""
    summary = read_summary(run_dir)
    if summary is None or summary.get("status") not in ("complete", "failed"):
        return "pending"
    return str(summary["status"])


def wipe(run_dir: Path) -> None:
    """Remove a cell directory that is not complete, before running the cell again.

    Only ever ``run_dir`` itself, one level below its parent: a name that is not one directory
    (``..``, ``.``; refused at parse time, testbed.core.fields.checked_path_component) raises here too,
    and a symbolic link is unlinked, never followed."""
    if run_dir.is_symlink():
        run_dir.unlink()
        return
    if not run_dir.exists():
        return
    if run_dir.name in ("", ".", "..") or run_dir.resolve().parent != run_dir.parent.resolve():
        raise ValueError(f"refusing to remove {run_dir}: not one directory below {run_dir.parent}")
    shutil.rmtree(run_dir)


def index_rows(suite: Suite, root: Path) -> list[dict[str, Any]]:
    """One row per cell, in the contract's column order."""
    rows = []
    for cell in suite.cells:
        run_dir = root / cell.id
        summary = read_summary(run_dir) or {}
        status = cell_status(run_dir)
        row: dict[str, Any] = {"cell": cell.id, "run_dir": cell.id, "status": status}
        row.update({column: cell.axes.get(column, "") for column in suite.columns})
        headline = summary.get("headline_metric", "")
        row.update({
            "iterations": summary.get("iterations"), "virtual_time_s": summary.get("virtual_time_s"),
            "wall_time_s": summary.get("wall_time_s"), "total_bytes": summary.get("total_bytes"),
            "wan_bytes": summary.get("wan_bytes"), "lan_bytes": summary.get("lan_bytes"),
            "egress_usd": summary.get("egress_usd"), "headline_metric": headline,
            "headline_value": (summary.get("final_quality") or {}).get(headline) if headline else None,
            "error": summary.get("error", "") if status == "failed" else "",
            "replayed_from": Path(summary["replayed_from"]).name if summary.get("replayed_from") else "",
        })
        rows.append(row)
    return rows


def write_index(suite: Suite, root: Path) -> Path:
    """Rebuild ``root/index.csv`` from the cell directories (atomic)."""
    columns = ["cell", "run_dir", "status", *suite.columns, *RESULT_COLUMNS]
    frame = pd.DataFrame(index_rows(suite, root), columns=columns)
    return atomic_write(root / INDEX_NAME, lambda p: frame.to_csv(p, index=False))
