"""Draw every registered figure and write the summary table for one results path.

Why: the CLI and notebooks want one call -- results in, files out, and a list of what was skipped
and why (a figure that does not apply is reported, never silently missing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from analysis.load import Results
from analysis.registry import NotApplicable, all_figures
from analysis.style import save
from analysis.table import write_summary


@dataclass
class PlotReport:
    """The files written and the figures skipped (name -> reason)."""

    written: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def plot_all(results: Results, out_dir: str | Path, pdf: bool = False, latex: bool = False,
             only: list[str] | None = None) -> PlotReport:
    """Write each figure (``name.png``, ``name.pdf`` with ``pdf``) and ``summary.{csv,md[,tex]}``."""
    out_dir = Path(out_dir)
    report = PlotReport()
    for name, spec in all_figures().items():
        if only and name not in only:
            continue
        try:
            fig = spec.build(results)
        except NotApplicable as reason:
            report.skipped[name] = str(reason)
            continue
        report.written += save(fig, out_dir, name, pdf)
    report.written += write_summary(results, out_dir, latex)
    return report
