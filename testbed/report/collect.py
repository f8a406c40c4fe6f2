"""What the report shows of each run: its summary, resolved config, command line and machine.

Why a module of its own: the figures and the summary table come from :mod:`analysis` (the same code
``python -m testbed plot`` uses); what is left is read straight from each run directory --
``summary.json``, ``config.yaml``, ``run_info.json`` (:mod:`testbed.core.provenance`) -- and a run made
before ``run_info.json`` existed still gets what its summary says (a suite cell's ``ran_on``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from analysis.discover import discover
from testbed.core.fileio import read_json_object
from testbed.core.provenance import FILENAME as RUN_INFO_FILE


@dataclass(frozen=True)
class RunFacts:
    """One run directory as the report shows it (anything missing is None)."""

    name: str
    run_dir: Path
    status: str
    axes: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    config_text: str | None = None
    command: str | None = None
    cwd: str | None = None
    machine: dict[str, Any] | None = None

    @property
    def config(self) -> dict[str, Any] | None:
        """``config.yaml`` parsed (None if missing or not a mapping)."""
        data = yaml.safe_load(self.config_text) if self.config_text else None
        return data if isinstance(data, dict) else None


def collect_runs(root: str | Path) -> list[RunFacts]:
    """Every run under ``root`` (run dir, directory of runs, or suite dir), in discovery order."""
    return [_facts(ref.run_dir, ref.name, ref.axes, ref.index_status) for ref in discover(root).refs]


def _facts(run_dir: Path, name: str, axes: dict[str, Any], index_status: str | None) -> RunFacts:
    summary = read_json_object(run_dir / "summary.json")
    info = read_json_object(run_dir / RUN_INFO_FILE) or {}
    config = run_dir / "config.yaml"
    status = str((summary or {}).get("status") or index_status or "incomplete")
    machine = info.get("machine") or (summary or {}).get("ran_on")
    return RunFacts(name=name, run_dir=run_dir, status=status, axes=dict(axes), summary=summary,
                    config_text=config.read_text() if config.is_file() else None,
                    command=info.get("command"), cwd=info.get("cwd"), machine=machine)
