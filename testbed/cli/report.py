"""``python -m testbed report RESULTS_DIR [--out DIR]``: one self-contained HTML page of the results.

Checked before anything is written, as ``plot`` checks: that ``--out`` can be written, the results
path (one line naming it and the fix when it is missing or holds no complete run) and every
complete run's ``traffic.parquet``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from testbed.cli import command
from testbed.cli.plot import _check_traffic_files
from testbed.core.fileio import check_output_dir
from testbed.core.provenance import COMMAND_ENV


def _report(args: argparse.Namespace) -> int:
    from testbed.report import write_report

    out = Path(args.out) if args.out else Path(args.results_dir)
    check_output_dir(out)
    _check_traffic_files(args.results_dir)
    command_line = os.environ.get(COMMAND_ENV) or shlex.join(["python", "-m", "testbed", *sys.argv[1:]])
    path = write_report(args.results_dir, out, command=command_line)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, self-contained: open it in any browser)")
    return 0


@command("report", help="one self-contained HTML page (figures, table, configs, commands, machines, topology)")
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", help="a run directory, a directory of run directories, or a suite directory")
    parser.add_argument("--out", help="directory to write report.html in (default: RESULTS_DIR)")
    parser.set_defaults(handler=_report)
