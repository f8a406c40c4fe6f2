"""Build the page: load the results, draw the pictures, lay out the sections, write one file.

Why: the CLI and tests want one call -- a results path in, ``report.html`` out -- that fails with
one ConfigError line (via :mod:`analysis`'s loaders) before anything is written.
"""

from __future__ import annotations

from pathlib import Path

from analysis import load_results
from testbed.core.fileio import atomic_write_text
from testbed.report.collect import collect_runs
from testbed.report.figures import draw_pictures
from testbed.report.html import page
from testbed.report.sections import body

REPORT_FILE = "report.html"


def render_report(results_dir: str | Path, command: str = "python -m testbed report") -> str:
    """The whole HTML page for ``results_dir`` (a run dir, a directory of runs, or a suite dir)."""
    results = load_results(results_dir)
    runs = collect_runs(results_dir)
    pictures = draw_pictures(results, runs)
    return page(f"Results: {results.root.name}", body(results, runs, pictures, command))


def write_report(results_dir: str | Path, out_dir: str | Path, command: str = "python -m testbed report") -> Path:
    """Write ``out_dir/report.html`` for ``results_dir``; returns its path."""
    text = render_report(results_dir, command)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(out / REPORT_FILE, text)
