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
import sys
from pathlib import Path
from typing import Any

from testbed.cli import command
from testbed.core.errors import ConfigError
from testbed.core.fileio import check_output_dir
from testbed.experiment.spec import ExperimentSpec, load_experiment
from testbed.topology.schema import read_yaml

SUITE_ONLY = ("resume", "overwrite", "max_parallel", "cpus_per_run", "gpus_per_run", "retries", "replay")
CMD = "command line"


def _run(args: argparse.Namespace) -> int:
    from testbed.suite import is_suite

    _check_flags(args)
    data = read_yaml(args.file)
    if is_suite(data):
        return _run_suite(args)
    given = [f"--{flag.replace('_', '-')}" for flag in SUITE_ONLY if getattr(args, flag) not in (None, False)]
    if given:
        raise ConfigError(CMD, given[0], f"applies to suites only; {args.file} is a single experiment",
                          f"drop {given[0]}, or make a suite (base: + grid:)")
    return _run_single(args)


def _check_flags(args: argparse.Namespace) -> None:
    """Every flag's range, before any file is read or written."""
    if args.resume and args.overwrite:
        raise ConfigError(CMD, "--resume", "cannot be combined with --overwrite",
                          "--resume keeps complete cells, --overwrite wipes them: pick one")
    for flag, lo, hi, strict in (("max_parallel", 1, 10_000, False), ("cpus_per_run", 0, 1024, True),
                                 ("gpus_per_run", 0, 64, False), ("retries", 0, 10, False)):
        value = getattr(args, flag)
        if value is not None and (value < lo or value > hi or (strict and value == lo) or value != value):
            name = f"--{flag.replace('_', '-')}"
            rng = f"{'(' if strict else '['}{lo}, {hi}]"
            raise ConfigError(CMD, name, f"{value:g} is outside {rng}", f"give {name} a value in {rng}")
    if args.address is not None and args.backend == "inprocess":
        raise ConfigError(CMD, "--address", "joins a Ray cluster, but --backend is inprocess",
                          "drop --address or use --backend ray")
    if args.address is not None and not args.address.strip():
        raise ConfigError(CMD, "--address", "is empty", "write --address auto or --address HOST:6379")
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise ConfigError(CMD, "--data-dir", f"{args.data_dir} is not a directory",
                          "give a directory of idx files (see: python -m testbed data status)")
    if args.out is not None and not args.dry_run:
        check_output_dir(args.out)


def _with_data_dir(spec: ExperimentSpec, data_dir: str | None) -> ExperimentSpec:
    """``--data-dir`` for a run whose data set is read from files and whose YAML names no data_dir."""
    from testbed.data import dataset_spec

    if data_dir is None or spec.data_dir is not None or not dataset_spec(spec.dataset).reads_files:
        return spec
    return dataclasses.replace(spec, data_dir=str(Path(data_dir).resolve()))


def _refuse_idle_data_dir(specs: list[ExperimentSpec], data_dir: str | None) -> None:
    """``--data-dir`` must reach at least one run (every setting acts or is refused)."""
    from testbed.data import dataset_spec

    if data_dir is not None and not any(dataset_spec(s.dataset).reads_files for s in specs):
        names = sorted({s.dataset for s in specs})
        raise ConfigError(CMD, "--data-dir", f"no run reads its data from files ({', '.join(names)} "
                          f"{'is' if len(names) == 1 else 'are'} generated), so it would do nothing",
                          "drop --data-dir (it is for mnist and fashion_mnist)")


def _missing_data(named_specs: list[tuple[str, ExperimentSpec]]) -> list[str]:
    """One line per run whose data set this machine cannot load (checked before anything prints)."""
    from testbed.data import dataset_spec

    lines = []
    for name, spec in named_specs:
        try:
            dataset_spec(spec.dataset).locate(spec.data_dir)
        except ConfigError as err:
            lines.append(f"error: {spec.source if name is None else name}: dataset: {err.problem} (fix: {err.fix})")
    return lines


def _refuse_missing_data(named_specs: list[tuple[str, ExperimentSpec]]) -> int:
    lines = _missing_data(named_specs)
    for line in lines:
        print(" ".join(line.split()), file=sys.stderr)
    return 2 if lines else 0


def _run_single(args: argparse.Namespace) -> int:
    from testbed.experiment.launch import run_experiment

    spec = load_experiment(args.file)
    _refuse_idle_data_dir([spec], args.data_dir)
    spec = _with_data_dir(spec, args.data_dir)
    if args.backend:
        spec = dataclasses.replace(spec, backend=args.backend)
    if spec.backend == "ray" and spec.executors.kind != "in_task" and not args.dry_run:
        import testbed.runtime  # noqa: F401  (registers the Ray executor backend)
    if _refuse_missing_data([(None, spec)]):
        return 2
    if args.dry_run:
        from testbed.suite.spec import Cell

        return _dry_run(spec.name, [Cell(id=spec.name, experiment={}, axes={}, spec=spec)], args.quiet)
    out = Path(args.out) if args.out else Path("results") / spec.name
    check_output_dir(out)
    try:
        run_dir = run_experiment(spec, out, progress=not args.quiet, address=args.address)
    except ConfigError as err:
        if err.source != "<input>":
            raise
        raise ConfigError(spec.source, err.field, err.problem, err.fix) from None  # name the file
    summary = json.loads((run_dir / "summary.json").read_text())
    if summary.get("status") != "complete":  # diverged, or the clock could not go on: one line, exit 1
        print(f"{summary['run_id']}: {summary['stop_reason']} -- status failed; the metrics up to there and the "
              f"traffic are in {run_dir}", file=sys.stderr)
        return 1
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
    from testbed.suite.index import cell_status

    suite = load_suite(args.file)
    if args.replay:
        suite = dataclasses.replace(suite, replay=True)
    if args.data_dir is not None:
        _refuse_idle_data_dir([c.spec for c in suite.cells], args.data_dir)
        suite = _suite_with_data_dir(suite, args.data_dir)
    root = Path(args.out or "results") / suite.name
    to_run = [c for c in suite.cells if not (args.resume and cell_status(root / c.id) == "complete")]
    if _refuse_missing_data([(f"{suite.source} [cell {c.id}]", c.spec) for c in to_run]):
        return 2  # every cell without its data set is named, before anything runs or is written
    if args.dry_run:
        return _dry_run(suite.name, list(suite.cells), args.quiet)
    if (args.backend or "ray") == "ray":
        import testbed.runtime  # noqa: F401  (registers the Ray suite backend)
    options = BackendOptions(max_parallel=args.max_parallel, address=args.address,
                             cpus_per_run=args.cpus_per_run or 1.0, gpus_per_run=args.gpus_per_run or 0.0)
    outcome = run_suite(suite, Path(args.out or "results"), backend=args.backend or "ray", options=options,
                        resume=args.resume, overwrite=args.overwrite, quiet=args.quiet, retries=args.retries or 0)
    print(f"{suite.name}: {outcome.complete} complete, {outcome.failed} failed, {outcome.skipped} skipped "
          f"(already complete) of {len(suite.cells)}; index: {outcome.root / 'index.csv'}")
    if outcome.interrupted:
        return 130
    if not args.no_plots and (outcome.complete or outcome.skipped):
        _plot_suite(outcome.root)
    return 1 if outcome.failed else 0


def _suite_with_data_dir(suite: Any, data_dir: str) -> Any:
    cells = []
    for cell in suite.cells:
        spec = _with_data_dir(cell.spec, data_dir)
        experiment = {**cell.experiment, "data_dir": spec.data_dir} if spec.data_dir else cell.experiment
        cells.append(dataclasses.replace(cell, experiment=experiment, spec=spec))
    return dataclasses.replace(suite, cells=tuple(cells))


def _plot_suite(root: Path) -> None:
    """End a suite with its comparison figures and table (as ``python -m testbed plot`` would)."""
    from analysis import load_results, plot_all

    try:
        report = plot_all(load_results(root), root / "plots")
    except Exception as err:  # the results are written: a plotting problem must not end the suite in a traceback
        problem = " ".join(f"{type(err).__name__}: {err}".split())[:300]
        print(f"warning: no plots ({problem}; try: python -m testbed plot {root})", file=sys.stderr)
        return
    print(f"plots: {len(report.written)} file(s) in {root / 'plots'} (summary.md: the table)"
          + (f"; skipped {', '.join(sorted(report.skipped))}" if report.skipped else ""))


def _dry_run(name: str, cells: list[Any], quiet: bool = False) -> int:
    from tqdm import tqdm

    from testbed.suite.estimate import PROBE_ITERATIONS, estimate_cell

    # all probes first (a failing one prints nothing); each trains a few iterations, so a suite of many cells takes
    # minutes: a bar on a terminal (tqdm leaves non-terminal stderr alone, so errors stay one line there)
    estimates = [estimate_cell(cell) for cell in tqdm(cells, desc=f"{name}: dry run, probing", unit="cell",
                                                      leave=False, disable=True if quiet else None)]
    print(f"{name}: {len(cells)} cell(s) (bytes, dollars and virtual s: the whole run replayed from a probe of up "
          f"to {PROBE_ITERATIONS} iterations -- exact; ~ marks an extrapolation from the probe, see below; wall s is "
          "rough: this machine, in process, without Ray's overhead)")
    print(f"{'cell':40s} {'iters':>6s} {'B/iter':>10s} {'total MB':>10s} {'WAN MB':>10s} {'egress $':>9s} "
          f"{'virtual s':>10s} {'wall s':>8s}")
    notes = {}
    for cell, e in zip(cells, estimates, strict=True):
        mark = "~" if e.get("bound") else " "
        if e.get("bound"):
            notes[cell.spec.algorithm] = e["bound"]
        print(f"{cell.id:40s} {e['iterations'] or '?':>6} {e['bytes_per_iteration']:>10.0f} "
              f"{mark}{e['est_bytes'] / 1e6:>9.2f} {mark}{e['est_wan_bytes'] / 1e6:>9.2f} "
              f"{mark}{e['est_egress_usd']:>8.4f} {mark}{e['est_virtual_s']:>9.1f} {e['est_wall_s']:>8.1f}")
    for algorithm, why in sorted(notes.items()):
        print(f"~ {algorithm}: {why}")
    _describe_own_data(cells)
    return 0


def _describe_own_data(cells: list[Any]) -> None:
    """A line per data set read from the researcher's own files: count, shape, bytes, SHA-256."""
    from testbed.data import dataset_spec

    for name in dict.fromkeys(cell.spec.dataset for cell in cells):
        spec = dataset_spec(name)
        if spec.file is not None:
            print(f"data {name}: {spec.description}")


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
    parser.add_argument("--data-dir", help="a directory of idx files for mnist / fashion_mnist "
                                           "(else the experiment's data_dir, $TESTBED_DATA, ...)")
    parser.add_argument("--dry-run", action="store_true", help="estimate the cost of each run; run nothing")
    suite = parser.add_argument_group("suites")
    suite.add_argument("--resume", action="store_true", help="skip complete cells, re-run the rest")
    suite.add_argument("--overwrite", action="store_true", help="wipe existing cell results and start over")
    suite.add_argument("--max-parallel", type=int, help="at most this many runs at once (default: what fits)")
    suite.add_argument("--cpus-per-run", type=float, help="CPUs reserved per run (default 1)")
    suite.add_argument("--gpus-per-run", type=float, help="GPUs reserved per run (default 0)")
    suite.add_argument("--replay", action="store_true",
                       help="train each training configuration once and replay the cells that differ only in "
                            "network and compute (as replay: true in the suite)")
    suite.add_argument("--retries", type=int, help="re-run a cell up to N times when its Ray actor or node died "
                                                   "(never for configuration errors; default 0)")
    parser.set_defaults(handler=_run)
