"""``python -m testbed plot RESULTS_DIR``: comparison figures and the summary table (DESIGN.md §8)."""

from __future__ import annotations

import argparse
from pathlib import Path

from testbed.cli import command


def _plot(args: argparse.Namespace) -> int:
    from analysis import load_results, plot_all
    from analysis.registry import all_figures
    from testbed.errors import ConfigError

    only = args.only.split(",") if args.only else None
    unknown = sorted(set(only or ()) - set(all_figures()))
    if unknown:
        raise ConfigError(None, "--only", f"unknown figure(s) {unknown}", f"use some of {sorted(all_figures())}")
    results = load_results(args.results_dir)
    out = Path(args.out) if args.out else Path(args.results_dir) / "plots"
    report = plot_all(results, out, pdf=args.pdf, latex=args.latex, only=only)
    complete = int((results.runs["status"] == "complete").sum())
    print(f"{complete} complete run(s) of {len(results.runs)}; wrote {len(report.written)} file(s) to {out}")
    for path in report.written:
        print(f"  {path}")
    for name, reason in report.skipped.items():
        print(f"  skipped {name}: {reason}")
    return 0


@command("plot", help="comparison figures and summary table for a run dir, a dir of runs, or a suite dir")
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", help="a run directory, a directory of run directories, or a suite directory")
    parser.add_argument("--out", help="where to write (default: RESULTS_DIR/plots)")
    parser.add_argument("--pdf", action="store_true", help="also write each figure as PDF")
    parser.add_argument("--latex", action="store_true", help="also write summary.tex (booktabs table)")
    parser.add_argument("--only", help="comma-separated figure names, e.g. quality_vs_time,wan_bytes")
    parser.set_defaults(handler=_plot)
