"""``python -m testbed data status``: which data sets this machine can load, and from where; ``data
import-trace``: FedScale's client behaviour trace as an availability CSV (testbed.topology.fedscale_trace).

A ``--data-dir`` that is not a directory is one line, not a table that quietly shows the other copies.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from testbed.cli import command
from testbed.core.errors import ConfigError


def _run(args: argparse.Namespace) -> int:
    from testbed.data import dataset_status

    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise ConfigError("command line", "--data-dir", f"{args.data_dir} is not a directory",
                          "give a directory of idx files, or leave --data-dir out to see the installed copies")

    for row in dataset_status(args.data_dir):
        state = "available" if row.available else "missing"
        print(f"{row.name:<14} {row.kind:<8} {state:<10} {row.where}")
    return 0


@command("data", "status", help="list the data sets, whether each is available, and from where")
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help="a directory of idx files (else $TESTBED_DATA)")
    parser.set_defaults(handler=_run)


def _import_trace(args: argparse.Namespace) -> int:
    import time

    from testbed.core.fields import checked_quantity
    from testbed.core.units import parse_seconds
    from testbed.topology.fedscale_trace import down_intervals, read_fedscale, write_trace_csv

    horizon_s = None
    if args.horizon is not None:
        horizon_s = checked_quantity(args.horizon, "<command line>", "--horizon", parse_seconds, "h", positive=True)
    start = time.perf_counter()
    data = read_fedscale(args.fedscale)
    clients, down_start, down_end = down_intervals(data, args.fedscale, horizon_s)
    out = write_trace_csv(args.out, clients, down_start, down_end)
    print(f"{out}: {len(data)} clients, {down_start.size} down intervals "
          f"({time.perf_counter() - start:.1f} s); use it as availability: {{trace: {out}}}")
    return 0


@command("data", "import-trace", help="convert FedScale's client behaviour trace into an availability CSV")
def _configure_import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fedscale", required=True, metavar="FILE",
                        help="FedScale's client_behave_trace (a pickled dict, or the same as JSON)")
    parser.add_argument("--out", required=True, metavar="FILE.csv",
                        help="the CSV to write (client,down_start,down_end)")
    parser.add_argument("--horizon", default=None, metavar="TIME",
                        help="repeat each client's pattern (period finish_time) up to this time, e.g. 168h "
                             "(default: one period)")
    parser.set_defaults(handler=_import_trace)
