"""``python -m testbed run EXPERIMENT.yaml``: run one experiment and write its run directory."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from testbed.cli import command
from testbed.experiment import load_experiment


def _run(args: argparse.Namespace) -> int:
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


@command("run", help="run an experiment YAML (one run directory under --out)")
def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="experiment YAML, e.g. experiments/ring8-ps.yaml")
    parser.add_argument("--out", help="run directory (default: results/<name>)")
    parser.add_argument("--backend", choices=["inprocess", "ray"], help="override the YAML's backend")
    parser.add_argument("--address", help="Ray cluster address ('auto' joins `ray start --head`)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_run)
