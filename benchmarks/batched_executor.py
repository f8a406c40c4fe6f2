"""Batched logical workers (``executors: {batch: true}``): CPU per iteration, unbatched vs batched.

Why: issue 15 item 3 asks for >= 1.5x less CPU for the digits DCGAN with 12 workers.  Two measurements,
each paired in one process (the same workers, the same seeds, unbatched and batched alternating):

* **steps**: K ``GanWorker`` s (digits, the ``dcgan`` preset, batch 32 as in
  experiments/digits-all-methods.yaml) hosted on an :class:`InProcessExecutor` and on a
  :class:`BatchingExecutor`; one iteration is one ``train_steps(1)`` call on every worker, then a
  resolve (what ``local`` dispatches).  CPU = ``time.process_time`` per iteration.
* **run** (``--run local ps``): whole cells of experiments/digits-all-methods.yaml (wan-3dc, 12
  workers, ``compute: fixed``), ``Run.execute()``'s process time with batch off and on, and a check
  that both runs have the same traffic (messages, bytes) and virtual time.

Fair CPU: one torch thread, and ``OMP_NUM_THREADS=1`` set before torch is imported.

    OMP_NUM_THREADS=1 python benchmarks/batched_executor.py --workers 1 12 100 --iterations 20 --repeats 3 \
        --run local ps
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import save_result
from testbed.exec.batching import BatchingExecutor
from testbed.exec.executor import InProcessExecutor
from testbed.methods.common.setup import NodeSetup
from testbed.methods.common.training import Training
from testbed.methods.common.worker import GanWorker


def digits_setup(workers: int) -> NodeSetup:
    """The digits DCGAN of experiments/digits-all-methods.yaml for ``workers`` workers."""
    return NodeSetup(dataset="digits", partition="iid", num_workers=workers, groups=(0,) * workers, model="dcgan",
                     model_overrides=(), training=Training(batch_size=32, lr_g=2e-4, lr_d=2e-4), seed=0)


def step_cpu_s(executor: InProcessExecutor, workers: int, iterations: int) -> float:
    """CPU seconds per iteration (one train step at every worker) after two warm-up iterations."""
    nodes = [f"w{i}" for i in range(workers)]
    setup = digits_setup(workers)
    for i, node in enumerate(nodes):
        executor.host(node, GanWorker, setup, i)

    def iteration() -> None:
        handles = [executor.call(node, "train_steps", 1) for node in nodes]
        for handle in handles:
            executor.resolve(handle)

    for _ in range(2):
        iteration()
    start = time.process_time()
    for _ in range(iterations):
        iteration()
    return (time.process_time() - start) / iterations


def steps_case(workers: int, iterations: int, repeats: int) -> dict[str, Any]:
    """Best-of-``repeats`` CPU per iteration, unbatched and batched alternating."""
    plain, batched = [], []
    for _ in range(repeats):
        plain.append(step_cpu_s(InProcessExecutor(), workers, iterations))
        batched.append(step_cpu_s(BatchingExecutor(), workers, iterations))
    return {"workers": workers, "iterations": iterations, "unbatched_cpu_s": min(plain),
            "batched_cpu_s": min(batched), "ratio": min(plain) / min(batched), "all_unbatched": plain,
            "all_batched": batched}


ALGORITHMS = {"local": "local", "ps": {"name": "ps", "consistency": "sequential", "server_at": "us-east"}}
"""The cells of experiments/digits-all-methods.yaml that ``--run`` can time."""


def run_case(algorithm: str, iterations: int) -> dict[str, Any]:
    """A cell of digits-all-methods (12 workers), whole-run CPU with batch off and on."""
    from testbed.core.yamlio import read_yaml_file
    from testbed.experiment.run import Run
    from testbed.experiment.spec import load_experiment

    root = Path(__file__).resolve().parents[1]
    data = read_yaml_file(root / "experiments/digits-all-methods.yaml")["base"]
    data.update({"name": f"digits-{algorithm}", "algorithm": ALGORITHMS[algorithm], "max_iterations": iterations,
                 "eval_every": iterations})
    out: dict[str, Any] = {"algorithm": algorithm, "iterations": iterations}
    rows = {}
    for batch in (False, True):
        spec = load_experiment({**data, "executors": {"batch": batch}}, base_dir=root)
        executor = BatchingExecutor() if batch else InProcessExecutor()
        run = Run(spec, executor, progress=False)
        start = time.process_time()
        run.execute()
        out["batched_cpu_s" if batch else "unbatched_cpu_s"] = time.process_time() - start
        frame = run.engine.accountant.frame()
        rows[batch] = (run.metrics[-1], len(frame), int(frame["nbytes"].sum()), run.virtual_time_s)
    out["ratio"] = out["unbatched_cpu_s"] / out["batched_cpu_s"]
    same = rows[False][1:] == rows[True][1:]
    out["same_traffic_and_time"] = same
    out["metrics"] = {str(k): v[0] for k, v in rows.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 12])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--run", nargs="*", choices=sorted(ALGORITHMS), default=None,
                        help="also whole digits runs, 12 workers (default: local)")
    parser.add_argument("--run-iterations", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results: dict[str, Any] = {"steps": []}
    print("K workers | unbatched CPU-s/it | batched CPU-s/it | ratio")
    for workers in args.workers:
        iterations = max(2, args.iterations * 12 // max(workers, 12))  # keep K = 100 short
        case = steps_case(workers, iterations, args.repeats)
        results["steps"].append(case)
        print(f"{workers:9d} | {case['unbatched_cpu_s']:18.4f} | {case['batched_cpu_s']:16.4f} | {case['ratio']:.2f}x",
              flush=True)
    results["runs"] = []
    for algorithm in [] if args.run is None else args.run or ["local"]:
        case = run_case(algorithm, args.run_iterations)
        results["runs"].append(case)
        print(f"digits {algorithm} run, 12 workers, {case['iterations']} it: {case['unbatched_cpu_s']:.2f} -> "
              f"{case['batched_cpu_s']:.2f} CPU-s, {case['ratio']:.2f}x; same traffic and virtual time: "
              f"{case['same_traffic_and_time']}", flush=True)
    print(f"wrote {save_result('batched_executor', results)}")


if __name__ == "__main__":
    main()
