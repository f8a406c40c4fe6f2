"""``python -m testbed plot RESULTS_DIR``: comparison figures and the summary table (docs/design.md).

Before anything is drawn, every complete run's ``traffic.parquet`` is opened: a
corrupt one (a disk that filled up, a copy cut short) or one of another schema is one line
naming the file and what to do, not a pyarrow traceback from deep inside the loader; every other
file's shape is checked as it is loaded (analysis.runfiles).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from testbed.cli import command
from testbed.core.fileio import check_output_dir


def _plot(args: argparse.Namespace) -> int:
    from analysis import load_results, plot_all
    from analysis.registry import all_figures
    from testbed.core.errors import ConfigError

    only = args.only.split(",") if args.only else None
    unknown = sorted(set(only or ()) - set(all_figures()))
    if unknown:
        raise ConfigError("command line", "--only", f"unknown figure(s) {unknown}",
                          f"use some of {sorted(all_figures())}")
    out = Path(args.out) if args.out else Path(args.results_dir) / "plots"
    _check_traffic_files(args.results_dir)
    check_output_dir(out)
    results = load_results(args.results_dir)
    report = plot_all(results, out, pdf=args.pdf, latex=args.latex, only=only)
    complete = int((results.runs["status"] == "complete").sum())
    print(f"{complete} complete run(s) of {len(results.runs)}; wrote {len(report.written)} file(s) to {out}")
    for path in report.written:
        print(f"  {path}")
    for name, reason in report.skipped.items():
        print(f"  skipped {name}: {reason}")
    return 0


def _check_traffic_files(root: str) -> None:
    """ConfigError naming the first complete run whose ``traffic.parquet`` cannot be read or is not a traffic
    log (its schema; analysis.runfiles), before anything is drawn or written."""
    from analysis.discover import discover
    from analysis.runfiles import check_parquet_schema
    from testbed.core.fileio import read_json_object

    for ref in discover(root).refs:
        path = ref.run_dir / "traffic.parquet"
        complete = (read_json_object(ref.run_dir / "summary.json") or {}).get("status") == "complete"
        if complete and path.is_file():  # a bad or missing summary is the loader's to report
            check_parquet_schema(path)


@command("plot", help="comparison figures and summary table for a run dir, a dir of runs, or a suite dir")
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", help="a run directory, a directory of run directories, or a suite directory")
    parser.add_argument("--out", help="where to write (default: RESULTS_DIR/plots)")
    parser.add_argument("--pdf", action="store_true", help="also write each figure as PDF")
    parser.add_argument("--latex", action="store_true", help="also write summary.tex (booktabs table)")
    parser.add_argument("--only", help="comma-separated figure names, e.g. quality_vs_time,wan_bytes")
    parser.set_defaults(handler=_plot)
