"""``python -m testbed run FILE``: run one experiment, or a whole suite (a file with ``grid:``/``base:``).

A single experiment writes one run directory (``--out``, default ``results/<name>``).
A suite writes ``<--out>/<suite>/<cell>/`` per cell plus ``index.csv`` (default
``--out results``); see :mod:`testbed.suite`.  Suites default to the Ray backend (a
local Ray unless ``--address``); ``--backend inprocess`` uses local processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from testbed.cli import command
from testbed.experiment import load_experiment
from testbed.topology_schema import read_yaml


def _run(args: argparse.Namespace) -> int:
    from testbed.suite import is_suite

    if is_suite(read_yaml(args.file)):
        return _run_suite(args)
    for flag in ("resume", "overwrite", "dry_run"):
        if getattr(args, flag):
            print(f"note: --{flag.replace('_', '-')} applies to suites only; {args.file} is a single experiment")
    return _run_single(args)


def _run_single(args: argparse.Namespace) -> int:
    from testbed.run import run_experiment

    spec = load_experiment(args.file)
    if args.backend:
        spec = dataclasses.replace(spec, backend=args.backend)
    out = Path(args.out) if args.out else Path("results") / spec.name
    run_dir = run_experiment(spec, out, progress=not args.quiet, address=args.address)
    summary = json.loads((run_dir / "summary.json").read_text())
    quality = summary["final_quality"].get(summary["headline_metric"])
    print(f"{summary['run_id']}: {summary['algorithm']} on {summary['topology']} -- "
          f"{summary['iterations']} iterations, "
          f"{summary['virtual_time_s']:.1f} s virtual, {summary['wall_time_s']:.1f} s wall, "
          f"WAN {summary['wan_bytes'] / 1e6:.2f} MB, ${summary['egress_usd']:.4f} egress, "
          f"{summary['headline_metric']} = {quality:.4g}")
    print(f"results in {run_dir}")
    return 0


def _run_suite(args: argparse.Namespace) -> int:
    from testbed.suite import BackendOptions, load_suite, run_suite

    suite = load_suite(args.file)
    if args.dry_run:
        return _dry_run(suite)
    options = BackendOptions(max_parallel=args.max_parallel, address=args.address,
                             cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run)
    outcome = run_suite(suite, Path(args.out or "results"), backend=args.backend or "ray", options=options,
                        resume=args.resume, overwrite=args.overwrite, quiet=args.quiet)
    print(f"{suite.name}: {outcome.complete} complete, {outcome.failed} failed, {outcome.skipped} skipped "
          f"(already complete) of {len(suite.cells)}; index: {outcome.root / 'index.csv'}")
    if outcome.interrupted:
        return 130
    if not args.no_plots and (outcome.complete or outcome.skipped):
        _plot_suite(outcome.root)
    return 1 if outcome.failed else 0


def _plot_suite(root: Path) -> None:
    """End a suite with its comparison figures and table (as ``python -m testbed plot`` would)."""
    from analysis import load_results, plot_all

    report = plot_all(load_results(root), root / "plots")
    print(f"plots: {len(report.written)} file(s) in {root / 'plots'} (summary.md: the table)"
          + (f"; skipped {', '.join(sorted(report.skipped))}" if report.skipped else ""))


def _dry_run(suite: object) -> int:
    from testbed.suite.estimate import estimate_cell

    print(f"{suite.name}: {len(suite.cells)} cells (estimates from a 1- and 2-iteration probe of each cell; "
          "wall time excludes quality evaluation)")
    print(f"{'cell':40s} {'iters':>6s} {'B/iter':>10s} {'total MB':>10s} {'WAN MB':>10s} {'egress $':>9s} "
          f"{'virtual s':>10s} {'wall s':>8s}")
    for cell in suite.cells:
        e = estimate_cell(cell)
        print(f"{cell.id:40s} {e['iterations'] or '?':>6} {e['bytes_per_iteration']:>10.0f} "
              f"{e['est_bytes'] / 1e6:>10.2f} {e['est_wan_bytes'] / 1e6:>10.2f} {e['est_egress_usd']:>9.4f} "
              f"{e['est_virtual_s']:>10.1f} {e['est_wall_s']:>8.1f}")
    return 0


@command("run", help="run an experiment YAML, or a suite YAML (base: + grid:) cell by cell")
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="experiment or suite YAML, e.g. experiments/quickstart.yaml")
    parser.add_argument("--out", help="experiment: its run directory (default results/<name>); "
                                      "suite: the results root (default results/, cells in results/<suite>/)")
    parser.add_argument("--backend", choices=["inprocess", "ray"],
                        help="experiment: override the YAML's backend; suite: where cells run (default ray)")
    parser.add_argument("--address", help="Ray cluster address ('auto' joins `ray start --head`)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars (one line per finished cell)")
    parser.add_argument("--no-plots", action="store_true", help="suite: skip writing the comparison plots at the end")
    suite = parser.add_argument_group("suites")
    suite.add_argument("--resume", action="store_true", help="skip complete cells, re-run the rest")
    suite.add_argument("--overwrite", action="store_true", help="wipe existing cell results and start over")
    suite.add_argument("--dry-run", action="store_true", help="list the cells and their estimated cost")
    suite.add_argument("--max-parallel", type=int, help="at most this many runs at once (default: what fits)")
    suite.add_argument("--cpus-per-run", type=float, default=1.0, help="CPUs reserved per run (default 1)")
    suite.add_argument("--gpus-per-run", type=float, default=0.0, help="GPUs reserved per run (default 0)")
    parser.set_defaults(handler=_run)
