"""``python -m testbed version``: print the package version (a smoke test of the CLI)."""

from __future__ import annotations

import argparse

from testbed import __version__
from testbed.cli import command


def _run(args: argparse.Namespace) -> int:
    print(__version__)
    return 0


@command("version", help="print the testbed version")
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(handler=_run)
