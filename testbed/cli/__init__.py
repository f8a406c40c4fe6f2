"""The ``python -m testbed`` command line: a registry of subcommands.

Each module in this package defines one or more subcommands with
:func:`command`; :func:`main` imports every module here, so adding a command
is adding a file -- no central ``if name == ...`` chain.  Bad user input
(:class:`testbed.core.errors.ConfigError`, a usage error, a file the OS refuses) becomes
one line on stderr and exit 2 -- never argparse's usage block, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from testbed.core.errors import ConfigError
from testbed.core.provenance import command_line
from testbed.core.registry import Registry


class UsageError(Exception):
    """argparse's complaint about the command line, raised instead of printing usage and exiting."""

    def __init__(self, prog: str, message: str) -> None:
        self.prog, self.message = prog, message
        super().__init__(f"{prog}: {message}")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are :class:`UsageError` (one line, said by :func:`main`)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


Handler = Callable[[argparse.Namespace], int]
Configure = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Command:
    """A subcommand: its words (``("topo", "check")``), help, arguments, handler."""

    words: tuple[str, ...]
    help: str
    configure: Configure
    handler: Handler


COMMANDS: Registry[Command] = Registry("command")
"""Every subcommand, by its words joined with spaces (``"topo check"``)."""


def command(*words: str, help: str) -> Callable[[Configure], Configure]:
    """Register ``configure(parser)`` as a subcommand; it sets ``handler`` via defaults.

    Usage::

        @command("topo", "check", help="validate a topology file")
        def _configure(parser):
            parser.add_argument("file")
            parser.set_defaults(handler=_run)
    """

    def register(configure: Configure) -> Configure:
        COMMANDS.add(" ".join(words), Command(words, help, configure, handler=lambda args: 0))
        return configure

    return register


def _load_command_modules() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every registered subcommand."""
    _load_command_modules()
    parser = Parser(
        prog="python -m testbed",
        description="geo-GAN testbed: emulate geo-distributed GAN training on a modelled WAN.",
    )
    groups: dict[tuple[str, ...], argparse._SubParsersAction] = {
        (): parser.add_subparsers(dest="command", metavar="COMMAND")
    }
    parsers: dict[tuple[str, ...], argparse.ArgumentParser] = {}
    for cmd in sorted(COMMANDS.values(), key=lambda c: (len(c.words), c.words)):
        words = cmd.words
        for depth in range(1, len(words)):
            prefix = words[:depth]
            if prefix not in groups:
                group_parser = groups[prefix[:-1]].add_parser(prefix[-1], help=f"{prefix[-1]} commands")
                parsers[prefix] = group_parser
                groups[prefix] = group_parser.add_subparsers(dest="_".join(prefix), metavar="COMMAND")
        sub = groups[words[:-1]].add_parser(words[-1], help=cmd.help, description=cmd.help)
        cmd.configure(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except UsageError as err:
        _say_error(f"{err.prog}: {err.message} (see: {err.prog} --help)")
        return 2
    handler = getattr(args, "handler", None)
    if handler is None:
        words = [w for w in (sys.argv[1:] if argv is None else argv) if not w.startswith("-")]
        if not words:
            parser.print_help()
            return 0
        _say_error(f"python -m testbed {' '.join(words)}: choose a command (see: python -m testbed "
                   f"{' '.join(words)} --help)")
        return 2
    try:
        with command_line(sys.argv[1:] if argv is None else argv):  # recorded in each run's run_info.json
            return int(handler(args) or 0)
    except ConfigError as err:
        _say_error(str(err))
        return 2
    except PermissionError as err:
        _say_error(f"{err.filename or 'a file'}: permission denied (fix: make it writable/readable, "
                   "or pass another --out)")
        return 2
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError) as err:
        _say_error(f"{err.filename or 'a path'}: {err.strerror or err} (fix: check the path)")
        return 2
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
            raise
        _say_error(f"{err.filename or 'results'}: {err.strerror} (fix: free space or pass another --out)")
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _say_error(text: str) -> None:
    """One line, however the message was built."""
    print("error: " + " ".join(text.split()), file=sys.stderr)
