"""``python -m testbed replay RUN_DIR``: a finished run re-costed on another network or compute profile.

Train once, re-cost anywhere: the run's op trace (``ops.parquet``) is re-executed on the engine, the flow
network and the compute model of the new setting -- no training, no data -- and a normal run directory
is written (``--out``, default ``<RUN_DIR>-replay``): time, bytes and dollars measured by the replay,
quality copied from the run at the same iterations.  Exact (equal to a full run of the new setting) for
timing-independent methods; otherwise refused in one line unless ``--approximate`` (see
docs/design.md §7).  Every check happens before anything is written.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from testbed.cli import command
from testbed.core.errors import ConfigError
from testbed.core.fileio import check_output_dir

CMD = "command line"
SCALES = ("bandwidth_scale", "latency_scale", "compute_scale")


def _check(args: argparse.Namespace) -> Path:
    """Every flag, before any file is read: returns the output directory."""
    for name in SCALES:
        value = getattr(args, name)
        flag = f"--{name.replace('_', '-')}"
        if value is not None and not (math.isfinite(value) and 0 < value <= 1e6):
            raise ConfigError(CMD, flag, f"{value:g} is outside (0, 1e6]", f"give {flag} a positive factor, e.g. 0.5")
    for flag, path in (("--topology", args.topology), ("--compute", args.compute)):
        if path is not None and not Path(path).is_file():
            raise ConfigError(CMD, flag, f"{path} is not a file", f"give {flag} a YAML file")
    run_dir = Path(args.run_dir)
    out = Path(args.out) if args.out else run_dir.with_name(run_dir.name + "-replay")
    if out.resolve() == run_dir.resolve():
        raise ConfigError(CMD, "--out", "is the run directory itself", "write the replay somewhere else")
    if out.exists() and any(out.iterdir()):
        raise ConfigError(CMD, "--out", f"{out} exists and is not empty", "give a new directory with --out")
    check_output_dir(out)
    return out


def _run(args: argparse.Namespace) -> int:
    from testbed.experiment.launch import replay_experiment
    from testbed.experiment.replay_source import Changes, load_source, retarget

    out = _check(args)
    source = load_source(args.run_dir)
    changes = Changes(topology=args.topology, bandwidth_scale=args.bandwidth_scale, latency_scale=args.latency_scale,
                      compute_scale=args.compute_scale, compute=args.compute)
    target = retarget(source, changes)
    where = " + ".join(f for f in (args.topology, args.compute) if f) or str(Path(args.run_dir) / "config.yaml")
    run_dir = replay_experiment(source, target, out, target_src=where, approximate=args.approximate,
                                changes=changes.to_dict())
    summary = json.loads((run_dir / "summary.json").read_text())
    kind = "exact" if summary["replay"]["exact"] else "APPROXIMATE"
    print(f"{summary['run_id']}: {kind} replay of {args.run_dir} on {summary['topology']} -- "
          f"{summary['iterations']} iterations, {summary['virtual_time_s']:.1f} s virtual, "
          f"WAN {summary['wan_bytes'] / 1e6:.2f} MB, ${summary['egress_usd']:.4f} egress "
          f"({summary['wall_time_s']:.1f} s to replay)")
    if not summary["replay"]["exact"]:
        why = summary["replay"]["not_exact"][:1] or [summary["replay"]["divergence"]]
        print(f"approximate: {why[0]}")
    print(f"results in {run_dir}")
    return 0


@command("replay", help="re-cost a finished run on another network or compute profile, without training")
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a finished run directory (it holds ops.parquet)")
    parser.add_argument("--topology", help="another topology YAML with the run's workers (same ids, same order)")
    parser.add_argument("--bandwidth-scale", type=float, help="every WAN link's bandwidth times this")
    parser.add_argument("--latency-scale", type=float, help="every WAN link's latency times this")
    parser.add_argument("--compute-scale", type=float, help="every computation's duration times this")
    parser.add_argument("--compute", help="a YAML file with a compute: block (e.g. {model: fixed, costs: ...})")
    parser.add_argument("--out", help="where to write the replayed run (default RUN_DIR-replay; must be new)")
    parser.add_argument("--approximate", action="store_true",
                        help="replay a run whose operations depend on timing anyway (marked approximate)")
    parser.set_defaults(handler=_run)
