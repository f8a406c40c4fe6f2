"""Re-score every finished run of a study from its saved generator alone: the second path to its numbers.

Why: a study's quality numbers come from ``summary.json`` (the evaluator inside the run).  A reviewer
asks whether they are the trained generator's: this rebuilds each run's generator(s) from
``generator.pt`` (the same code as ``python -m testbed sample``), draws the evaluator's samples (its
seed, its ``eval_samples``), scores them with ``testbed.quality.evaluate_samples`` and compares every
metric with ``final_quality_by_generator``.  Replayed runs carry their source's generator and are
checked like any other.  A run that did not complete (``status: failed``: it diverged, or its clock could
not go on) is counted and left out: its ``generator.pt`` is the generator at the stop, while its recorded
quality is its last evaluation's, from before the stop, so the two are not the same generator.  Prints one
line per suite and writes ``<out>`` (one row per run and generator) if given; exits 1 if any metric differs
by more than ``--tol``.

    python scripts/second_path.py /work/results-regime/regime-map /work/results-regime/regime-map-b \
        --out /tmp/second-path.csv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testbed.experiment.generator_file import load_generator_file, sample_saved  # noqa: E402
from testbed.quality.evaluate import evaluate_samples  # noqa: E402


def rescore(run_dir: Path) -> list[dict[str, object]]:
    """One row per saved generator: the largest |recorded - re-scored| over its metrics, and which metric."""
    summary = json.loads((run_dir / "summary.json").read_text())
    n = int(yaml.safe_load((run_dir / "config.yaml").read_text())["eval_samples"])
    payload = load_generator_file(run_dir)
    rows = []
    for label in payload["generators"]:
        recorded = summary["final_quality_by_generator"][label]
        _, samples = sample_saved(run_dir, n, label=label)
        scored = evaluate_samples(samples, payload["dataset"], n)
        diffs = {k: abs(float(recorded[k]) - float(scored[k])) for k in recorded if k in scored}
        worst = max(diffs, key=diffs.get)
        rows.append({"run": run_dir.name, "generator": label, "metrics": len(diffs), "worst_metric": worst,
                     "max_abs_diff": diffs[worst], "recorded": recorded[worst], "rescored": scored[worst]})
    return rows


def completed(run_dir: Path) -> bool:
    """Whether the run's summary says ``status: complete`` (its recorded final quality is its saved generator's)."""
    return json.loads((run_dir / "summary.json").read_text()).get("status") == "complete"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suites", nargs="+", type=Path, help="suite result directories (cells inside)")
    parser.add_argument("--out", type=Path, default=None, help="write every row as csv")
    parser.add_argument("--tol", type=float, default=1e-9, help="largest difference accepted (default 1e-9)")
    args = parser.parse_args(argv)
    rows = []
    for suite in args.suites:
        saved = sorted(p.parent for p in suite.glob("*/generator.pt"))
        runs = [run for run in saved if completed(run)]
        suite_rows = [row for run in runs for row in rescore(run)]
        worst = max((r["max_abs_diff"] for r in suite_rows), default=float("nan"))
        left_out = f" ({len(saved) - len(runs)} that did not complete left out)" if len(saved) > len(runs) else ""
        print(f"{suite}: {len(runs)} runs{left_out}, {len(suite_rows)} generators re-scored from generator.pt; "
              f"largest |recorded - re-scored| over every metric: {worst:.3g}")
        rows += suite_rows
    frame = pd.DataFrame(rows)
    if args.out:
        frame.to_csv(args.out, index=False)
    bad = frame[frame["max_abs_diff"] > args.tol] if len(frame) else frame
    for row in bad.itertuples():
        print(f"DIFFERS: {row.run} [{row.generator}] {row.worst_metric}: recorded {row.recorded}, "
              f"re-scored {row.rescored}")
    return 1 if len(bad) else 0


if __name__ == "__main__":
    sys.exit(main())
