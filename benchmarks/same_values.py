"""Do two checkouts run the overhead benchmark's ps and fedavg runs to the same values? (issue 27 item 3)

Why: a change that only cuts the emulation's own cost must not move a single value, and the golden
traffic file hashes bytes and times, not values.  This runs overhead_breakdown.py's two runs (wan-3dc,
ring8, mlp2d, in process) with an evaluation every 5 iterations in each checkout, one subprocess each,
and prints digests of every metrics row (wall times left out), the traffic log (the accountant's frame)
and the final generators (every parameter's and buffer's bytes).

    python benchmarks/same_values.py /tmp/ovh-before .  [--ps-iterations 60] [--fedavg-iterations 12]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def digest(value: Any) -> str:
    """A sha256 prefix of nested dicts / lists of arrays, tensors and plain values (keys sorted)."""
    import numpy as np

    h = hashlib.sha256()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k in sorted(v):
                h.update(str(k).encode())
                walk(v[k])
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        elif isinstance(v, np.ndarray):
            h.update(v.tobytes() + str(v.dtype).encode())
        elif hasattr(v, "detach"):
            h.update(v.detach().cpu().numpy().tobytes())
        else:
            h.update(repr(v).encode())

    walk(value)
    return h.hexdigest()[:16]


def run_digests(root: Path, iterations: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Digests of ps's and fedavg's runs with ``root``'s testbed (imported in this process)."""
    sys.path[:0] = [str(root), str(HERE)]
    import overhead_breakdown as ob

    from testbed.exec.executor import InProcessExecutor, set_torch_threads
    from testbed.experiment.run import Run
    from testbed.experiment.spec import load_experiment

    set_torch_threads(1)
    out = {}
    for method, its in iterations.items():
        spec = load_experiment({
            "name": f"overhead-breakdown-{method}", "topology": str(root / "topologies" / "wan-3dc.yaml"),
            "dataset": "ring8", "model": "mlp2d", "algorithm": ob.METHODS[method],
            "training": {"batch_size": 256, "lr_g": 1e-3, "lr_d": 1e-3}, "max_iterations": its,
            "eval_every": 5, "eval_samples": 500,
            "compute": {"model": "fixed", "default": "3ms", "costs": {"train_step": "10ms", "grad_step": "10ms"}},
        })
        run = Run(spec, InProcessExecutor(), progress=False)
        run.execute()
        rows = [{k: v for k, v in row.items() if "wall" not in k} for row in run.metrics]
        traffic = run.engine.accountant.frame().to_csv().encode()
        out[method] = {"rows": len(rows), "metrics": digest(rows), "messages": len(run.engine.accountant),
                       "traffic": hashlib.sha256(traffic).hexdigest()[:16], "generators": digest(run.generators)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs=2, type=Path, help="the two checkouts (e.g. before and after)")
    parser.add_argument("--ps-iterations", type=int, default=60)
    parser.add_argument("--fedavg-iterations", type=int, default=12)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # a subprocess: digests of one checkout
    args = parser.parse_args()
    iterations = {"ps": args.ps_iterations, "fedavg": args.fedavg_iterations}
    if args.one:
        print(json.dumps(run_digests(args.one.resolve(), iterations)))
        return
    results = []
    for root in args.roots:
        out = subprocess.run([sys.executable, __file__, *map(str, args.roots), "--one", str(root),
                              "--ps-iterations", str(args.ps_iterations),
                              "--fedavg-iterations", str(args.fedavg_iterations)],
                             capture_output=True, text=True, check=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    for method in iterations:
        a, b = (r[method] for r in results)
        print(f"{method:<7} {json.dumps(a)}\n{'':<7} {'the same' if a == b else 'DIFFERENT: ' + json.dumps(b)}")


if __name__ == "__main__":
    main()
