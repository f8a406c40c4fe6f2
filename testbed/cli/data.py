"""``python -m testbed data status [FILE]``: which data sets this machine can load, and from where; ``data
import-trace``: FedScale's client behaviour trace as an availability CSV (testbed.topology.fedscale_trace).

A ``--data-dir`` that is not a directory is one line, not a table that quietly shows the other copies.
With an experiment or suite file, the data sets *it* uses -- a researcher's own files included --
are described instead: count, sample shape, size in bytes, labels, how values are scaled, and the
files' SHA-256 (what ``config.yaml`` will record).
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
    if args.file is not None:
        for line in experiment_data_lines(args.file, args.data_dir):
            print(line)
        return 0
    for row in dataset_status(args.data_dir):
        state = "available" if row.available else "missing"
        print(f"{row.name:<14} {row.kind:<8} {state:<10} {row.where}")
    print("own files: dataset: {name: npz|npy|images, ...} in an experiment; "
          "describe them with: python -m testbed data status EXPERIMENT.yaml")
    return 0


def experiment_data_lines(path: str, data_dir: str | None) -> list[str]:
    """One line per data set an experiment or suite file uses (ConfigError if one is unusable)."""
    from testbed.data import dataset_spec
    from testbed.experiment.spec import load_experiment
    from testbed.suite import is_suite, load_suite
    from testbed.topology.schema import read_yaml

    specs = [c.spec for c in load_suite(path).cells] if is_suite(read_yaml(path)) else [load_experiment(path)]
    lines = []
    for name in dict.fromkeys(spec.dataset for spec in specs):
        spec = dataset_spec(name)
        where = "" if spec.file is not None else f"; {spec.locate(data_dir)}"
        lines.append(f"{name}: {spec.description}{where}")
    return lines


@command("data", "status", help="list the data sets, whether each is available, and from where")
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", default=None, metavar="FILE",
                        help="an experiment or suite YAML: describe the data sets it uses (count, shape, bytes, "
                             "SHA-256)")
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
