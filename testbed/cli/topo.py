"""``python -m testbed topo check|show``: validate a topology, or draw its map."""

from __future__ import annotations

import argparse
from pathlib import Path

from testbed.cli import command
from testbed.core.errors import ConfigError
from testbed.core.fileio import check_output_dir
from testbed.topology.schema import load_topology

IMAGE_SUFFIXES = (".png", ".pdf", ".svg")


def _check(args: argparse.Namespace) -> int:
    topology = load_topology(args.file)
    print(topology.summary())
    return 0


@command("topo", "check", help="validate a topology YAML and print a summary (exit 2 on bad input)")
def _configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="topology YAML, e.g. topologies/wan-3dc.yaml")
    parser.set_defaults(handler=_check)


def _show(args: argparse.Namespace) -> int:
    from testbed.topology.drawing import draw_topology

    out = Path(args.out or f"{Path(args.file).stem}.png")
    if out.is_dir():
        raise ConfigError("command line", "--out", f"{out} is a directory", "give a file name, e.g. map.png")
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise ConfigError("command line", "--out", f"{out.name}: unknown picture format {out.suffix or '(none)'}",
                          f"end the name with one of {', '.join(IMAGE_SUFFIXES)}")
    check_output_dir(out.parent, "--out")
    topology = load_topology(args.file)
    draw_topology(topology, out)
    print(f"wrote {out}")
    return 0


@command("topo", "show", help="draw a topology's map (links labelled with bandwidth/latency) to a PNG")
def _configure_show(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="topology YAML")
    parser.add_argument("--out", help="output PNG (default: <name>.png)")
    parser.set_defaults(handler=_show)
