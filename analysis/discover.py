"""Find the run directories under a results path, and the grid axes a suite's ``index.csv`` names.

Why a module of its own: a results path comes in three shapes -- one run directory, a directory of
run directories, or a suite directory with ``index.csv`` (docs/design.md §3, Results) -- and every later step
(loading, grouping, plotting) should not care which.  This module turns any of them into a list of
:class:`RunRef` (a directory plus what the index says about it), or one ConfigError line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from testbed.core.errors import ConfigError

INDEX_FILE = "index.csv"
RUN_MARKERS = ("summary.json", "config.yaml", "metrics.csv")
INDEX_FIXED_COLUMNS = frozenset({
    "cell", "run_dir", "status", "iterations", "virtual_time_s", "wall_time_s", "total_bytes", "wan_bytes",
    "lan_bytes", "egress_usd", "headline_metric", "headline_value", "error", "replayed_from",
})
"""Columns of ``index.csv`` that are results, not grid axes; every other column is an axis."""

SHAPES_FIX = "give a run directory, a directory of run directories, or a suite directory with index.csv"


@dataclass(frozen=True)
class RunRef:
    """One run to load: its directory, its name in the results, and what the suite index says."""

    run_dir: Path
    name: str
    axes: dict[str, Any] = field(default_factory=dict)
    index_status: str | None = None
    index_error: str | None = None


@dataclass(frozen=True)
class Discovery:
    """The runs found under a results path; ``axes`` is the index's grid-axis columns (or None)."""

    root: Path
    refs: tuple[RunRef, ...]
    axes: tuple[str, ...] | None


def discover(root: str | Path) -> Discovery:
    """Find every run under ``root`` (a run dir, a directory of run dirs, or a suite dir)."""
    root = Path(root)
    if not root.exists():
        raise ConfigError(root, "RESULTS_DIR", "does not exist", SHAPES_FIX)
    if not root.is_dir():
        raise ConfigError(root, "RESULTS_DIR", "is a file, not a directory", SHAPES_FIX)
    if (root / INDEX_FILE).is_file():
        return _from_index(root)
    if _is_run_dir(root):
        return Discovery(root, (RunRef(root, root.name),), None)
    dirs = sorted({p.parent for marker in RUN_MARKERS for p in root.rglob(marker) if _is_run_dir(p.parent)})
    dirs = [d for d in dirs if not any(parent in dirs for parent in d.parents)]
    if not dirs:
        raise ConfigError(root, "RESULTS_DIR", "holds no run directory (no summary.json, config.yaml or "
                          "metrics.csv below it)",
                          f"run experiments first (python -m testbed run X.yaml --out DIR), or {SHAPES_FIX}")
    return Discovery(root, tuple(RunRef(d, d.relative_to(root).as_posix()) for d in dirs), None)


def _is_run_dir(path: Path) -> bool:
    return any((path / marker).is_file() for marker in RUN_MARKERS)


def _from_index(root: Path) -> Discovery:
    path = root / INDEX_FILE
    try:
        index = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as err:
        raise ConfigError(path, "index.csv", f"cannot be read ({str(err).splitlines()[0]})",
                          "re-run the suite to rewrite its index") from None
    missing = [c for c in ("cell", "status") if c not in index.columns]
    if missing:
        raise ConfigError(path, missing[0], "column missing", "an index.csv needs cell, run_dir, status columns")
    if index.empty:
        raise ConfigError(path, "index.csv", "lists no cells", "run the suite first (python -m testbed run SUITE.yaml)")
    axes = tuple(c for c in index.columns if c not in INDEX_FIXED_COLUMNS)
    refs = []
    for row in index.to_dict("records"):
        cell = str(row["cell"])
        refs.append(RunRef(
            run_dir=_resolve_run_dir(root, cell, row.get("run_dir")), name=cell,
            axes={a: row[a] for a in axes}, index_status=str(row["status"]),
            index_error=None if pd.isna(row.get("error")) else str(row.get("error"))))
    return Discovery(root, tuple(refs), axes)


def _resolve_run_dir(root: Path, cell: str, run_dir: Any) -> Path:
    """``run_dir`` as written (absolute, relative to the suite, or to the cwd); else ``root/cell``."""
    if isinstance(run_dir, str) and run_dir:
        for candidate in (Path(run_dir), root / run_dir, root / Path(run_dir).name):
            if candidate.is_dir():
                return candidate
    return root / cell
