"""Overhead: the testbed running ``local`` with one worker vs a bare PyTorch loop.

The emulation must not distort what it measures: the same GAN steps (ring8 MLP
and digits DCGAN, fixed iterations) as a plain single-process loop, then through
the testbed (engine + executor + accountant) in-process and on Ray.  Paired runs,
median of --repeats; prints the wall-time ratio.  Goals (issue 8): <= 1.10x
in-process, <= 1.25x on Ray.

    python benchmarks/overhead.py [--iterations 300] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import save_result  # noqa: E402

from testbed.exec.executor import set_torch_threads  # noqa: E402
from testbed.experiment.launch import make_executor  # noqa: E402
from testbed.experiment.run import Run  # noqa: E402
from testbed.experiment.spec import load_experiment  # noqa: E402
from testbed.methods.common.worker import GanWorker  # noqa: E402

WORKLOADS = {"ring8-mlp": ("ring8", "mlp2d", 256), "digits-dcgan": ("digits", "dcgan", 64)}


def experiment(workload: str, iterations: int, backend: str) -> dict:
    dataset, model, batch = WORKLOADS[workload]
    return {"name": f"overhead-{workload}", "topology": {"datacenters": {"dc": {"workers": 1}}},
            "dataset": dataset, "model": model, "algorithm": "local", "training": {"batch_size": batch},
            "max_iterations": iterations, "eval_every": 10**9, "eval_samples": 100,
            "compute": {"model": "fixed", "costs": {"train_step": "10ms"}}, "backend": backend}


def bare_loop(workload: str, iterations: int) -> float:
    """The same steps the testbed's worker takes, called directly: no engine, no executor."""
    spec = load_experiment(experiment(workload, iterations, "inprocess"))
    worker = GanWorker(Run(spec, make_executor(spec), progress=False).setup, 0)
    start = time.perf_counter()
    worker.train_steps(iterations)  # builds the models lazily on the first step, as in the testbed
    return time.perf_counter() - start


def testbed_loop(workload: str, iterations: int, backend: str) -> float:
    """Wall seconds of the training phase of ``local`` with one worker (Run.train_wall_s)."""
    spec = load_experiment(experiment(workload, iterations, backend))
    executor = make_executor(spec)
    try:
        run = Run(spec, executor, progress=False)
        run.execute()
        return run.train_wall_s
    finally:
        executor.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=["inprocess", "ray"])
    args = parser.parse_args()
    set_torch_threads(1)
    rows = []
    for workload in WORKLOADS:
        for backend in args.backends:
            ratios, bare_times, bed_times = [], [], []
            for _ in range(args.repeats):
                bare = bare_loop(workload, args.iterations)
                bed = testbed_loop(workload, args.iterations, backend)
                bare_times.append(bare)
                bed_times.append(bed)
                ratios.append(bed / bare)
            row = {"workload": workload, "backend": backend, "iterations": args.iterations,
                   "bare_s_median": statistics.median(bare_times), "testbed_s_median": statistics.median(bed_times),
                   "ratio_median": statistics.median(ratios), "ratios": ratios}
            rows.append(row)
            print(f"{workload:<13} {backend:<9} bare {row['bare_s_median']:.3f} s  testbed "
                  f"{row['testbed_s_median']:.3f} s  ratio {row['ratio_median']:.3f}x")
    print(f"wrote {save_result('overhead', {'command': ' '.join(sys.argv), 'rows': rows})}")


if __name__ == "__main__":
    main()
