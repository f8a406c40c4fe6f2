"""``python -m testbed data status``: which data sets this machine can load, and from where."""

from __future__ import annotations

import argparse

from testbed.cli import command


def _run(args: argparse.Namespace) -> int:
    from testbed.data import dataset_status

    for row in dataset_status(args.data_dir):
        state = "available" if row.available else "missing"
        print(f"{row.name:<14} {row.kind:<8} {state:<10} {row.where}")
    return 0


@command("data", "status", help="list the data sets, whether each is available, and from where")
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help="a directory of idx files (else $TESTBED_DATA)")
    parser.set_defaults(handler=_run)
