"""Speed-up: how many virtual seconds the testbed emulates per wall second.

A study of "which method for which WAN" needs many runs; if emulating an hour of
geo-distributed training took an hour, nobody would run the grid.  Runs ps and
fedavg on wan-3dc and geo-11 (ring8, mlp2d, calibrated compute, in-process) and
prints virtual seconds / wall second.  Goal (issue 8): >= 60.

    python benchmarks/speedup.py [--iterations 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import save_result  # noqa: E402

from testbed.exec.executor import InProcessExecutor  # noqa: E402
from testbed.experiment.run import Run  # noqa: E402
from testbed.experiment.spec import load_experiment  # noqa: E402

METHODS = {"ps": {"name": "ps", "consistency": "sequential"},
           "fedavg": {"name": "fedavg", "client_fraction": 0.5, "local_epochs": 1}}


def measure(topology: str, method: str, iterations: int) -> dict:
    spec = load_experiment({
        "name": f"speedup-{topology}-{method}", "topology": str(ROOT / "topologies" / f"{topology}.yaml"),
        "dataset": "ring8", "model": "mlp2d", "algorithm": METHODS[method],
        "training": {"batch_size": 256, "lr_g": 1e-3, "lr_d": 1e-3}, "max_iterations": iterations,
        "eval_every": 10**9, "eval_samples": 100, "compute": {"model": "calibrated"},
    })
    run = Run(spec, InProcessExecutor(), progress=False)
    start = time.perf_counter()
    run.execute()
    wall = time.perf_counter() - start
    return {"topology": topology, "method": method, "iterations": run.iteration, "virtual_s": run.virtual_time_s,
            "wall_s": wall, "virtual_per_wall": run.virtual_time_s / wall,
            "compute_costs_s": run.engine.compute_model.costs()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100)
    args = parser.parse_args()
    rows = []
    print(f"{'topology':<10} {'method':<7} {'iters':>5} {'virtual s':>10} {'wall s':>8} {'virtual/wall':>12}")
    for topology in ("wan-3dc", "geo-11"):
        for method in METHODS:
            row = measure(topology, method, args.iterations)
            rows.append(row)
            print(f"{topology:<10} {method:<7} {row['iterations']:>5} {row['virtual_s']:>10.1f} "
                  f"{row['wall_s']:>8.1f} {row['virtual_per_wall']:>12.1f}")
    print(f"wrote {save_result('speedup', {'command': ' '.join(sys.argv), 'rows': rows})}")


if __name__ == "__main__":
    main()
