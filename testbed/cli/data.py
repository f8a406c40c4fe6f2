"""``python -m testbed data status``: which data sets this machine can load, and from where.

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
