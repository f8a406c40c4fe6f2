"""``--dry-run`` estimate vs the real run, per cell of a suite (the figures quoted in issue 13's note).

Why: the dry-run's numbers are only useful if they are close; this runs each cell's
probe (exactly what ``--dry-run`` prints) and then the cell itself, in process, and
prints both side by side with the relative error.  Real wall time here is the
in-process executor's; on Ray add actor start-up and per-call overhead.

    python benchmarks/estimate_check.py experiments/digits-all-methods.yaml [--cells a,b] [--out DIR]
    python benchmarks/estimate_check.py SUITE.yaml --real results/<suite>   # compare with runs already made
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testbed.experiment.launch import run_experiment  # noqa: E402
from testbed.suite import load_suite  # noqa: E402
from testbed.suite.estimate import estimate_cell  # noqa: E402

FIELDS = (("bytes", "total_bytes", 1e6, "MB"), ("wan_bytes", "wan_bytes", 1e6, "WAN MB"),
          ("virtual_s", "virtual_time_s", 1, "virtual s"), ("wall_s", "wall_time_s", 1, "wall s"))


def _pct(estimate: float, real: float) -> str:
    if real == 0:
        return "exact" if estimate == 0 else "n/a"
    return f"{(estimate - real) / real * 100:+.0f}%"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite")
    parser.add_argument("--cells", help="comma-separated cell ids (default: all)")
    parser.add_argument("--out", help="where the real runs go (default: a temporary directory)")
    parser.add_argument("--real", help="a results directory of this suite: read its cells' summaries, run nothing")
    args = parser.parse_args()
    suite = load_suite(args.suite)
    out = Path(args.out or tempfile.mkdtemp(prefix="estimate-check-"))
    wanted = set(args.cells.split(",")) if args.cells else None
    print("| cell | " + " | ".join(f"{label} est / real" for *_, label in FIELDS) + " |")
    print("|---|" + "---|" * len(FIELDS))
    for cell in suite.cells:
        if wanted and cell.id not in wanted:
            continue
        start = time.perf_counter()
        estimate = estimate_cell(cell)
        probe_s = time.perf_counter() - start
        if args.real:
            real = json.loads((Path(args.real) / cell.id / "summary.json").read_text())
            if real.get("status") != "complete":
                continue
        else:
            run_dir = run_experiment(cell.spec, out / cell.id, progress=False)
            real = json.loads((run_dir / "summary.json").read_text())
        mark = "~" if estimate["bound"] else ""
        cols = [f"{mark}{estimate[f'est_{key}'] / scale:.2f} / {real[rkey] / scale:.2f} "
                f"({_pct(estimate[f'est_{key}'], real[rkey])})" for key, rkey, scale, _ in FIELDS]
        print(f"| {cell.id} | " + " | ".join(cols) + f" |  <!-- probe {probe_s:.1f} s -->", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
