"""Train once, re-cost anywhere: the CPU of replaying a run against the CPU of training it (issue 23).

Two workloads, as the issue names them: a digits-DCGAN parameter-server run (``experiments/digits-all-methods.yaml``'s
``ps`` cell: wan-3dc, 12 workers, 150 BSP iterations) and a ring8 quickstart cell (``experiments/quickstart.yaml``'s
``ps`` cell: wan-3dc-lite, 3 workers, 1,500 iterations).  Each repeat, in one process and alternating:

1. train the experiment (``run_experiment``: fixed costs, evaluation, every file written) -- its CPU seconds;
2. ``Run.execute`` twice more, with and without the op trace (``Run.recorder = None``) -- the recorder's share
   of a run's CPU;
3. replay the first run on its own network and on a second one (WAN bandwidth x 0.1, latency x 2) through
   ``replay_experiment`` (load, replay, check, write: what ``python -m testbed replay`` does) -- its CPU
   seconds; the ratio train / replay is paired with the training of the same repeat.

Each measured step starts after a full garbage collection.  Also reported: messages (flows) per CPU-second of
the replay's engine alone (``ReplayRun.execute``) and the size of ``ops.parquet`` against ``traffic.parquet``.
Process CPU time (``time.process_time``), one torch thread.

    python benchmarks/replay.py [--repeats 3] [--only digits|ring8]
    python benchmarks/replay.py --recorder      # CPU per recorded operation, alone (the paired figure is noisy)
"""

from __future__ import annotations

import argparse
import copy
import gc
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import save_result  # noqa: E402

from testbed.exec.executor import InProcessExecutor, set_torch_threads  # noqa: E402
from testbed.experiment.launch import replay_experiment, run_experiment  # noqa: E402
from testbed.experiment.replay import ReplayRun  # noqa: E402
from testbed.experiment.replay_source import Changes, load_source, replay_compute, retarget  # noqa: E402
from testbed.experiment.run import Run  # noqa: E402
from testbed.experiment.spec import parse_experiment  # noqa: E402
from testbed.sim.optrace import recorded_reads  # noqa: E402
from testbed.suite.spec import load_suite  # noqa: E402

WORKLOADS = {"digits": ("experiments/digits-all-methods.yaml", "ps"),
             "ring8": ("experiments/quickstart.yaml", "ps_seed=0")}
ELSEWHERE = Changes(bandwidth_scale=0.1, latency_scale=2.0)


def cell_experiment(workload: str) -> dict:
    path, cell_id = WORKLOADS[workload]
    suite = load_suite(ROOT / path)
    experiment = copy.deepcopy(next(c for c in suite.cells if c.id == cell_id).experiment)
    experiment.pop("executors", None)  # in process, one executor: the training CPU is all in this process
    experiment["backend"] = "inprocess"
    return experiment


def cpu(fn) -> float:
    """Process CPU seconds of ``fn()``, after a full garbage collection (so that one step does not pay for
    the garbage of the one before: a replay right after a training would otherwise sweep its heap)."""
    gc.collect()
    start = time.process_time()
    fn()
    return time.process_time() - start


def untraced(experiment: dict) -> float:
    run = Run(parse_experiment(experiment, "bench", ROOT), InProcessExecutor(), progress=False)
    run.recorder = None
    return cpu(run.execute)


def traced(experiment: dict) -> float:
    run = Run(parse_experiment(experiment, "bench", ROOT), InProcessExecutor(), progress=False)
    return cpu(run.execute)


def engine_only(run_dir: Path) -> tuple[float, int]:
    """CPU of the replay's engine alone, and its messages."""
    source = load_source(run_dir)
    spec = parse_experiment(retarget(source, ELSEWHERE), "bench", ROOT)
    session_reads, node_reads = recorded_reads(source.ops)
    replay = ReplayRun(spec, session_reads, node_reads, replay_compute(spec, source))
    return cpu(replay.execute), len(replay.engine.accountant)


def replay(run_dir: Path, changes: Changes, out: Path) -> None:
    """What ``python -m testbed replay`` does: load and check the run, replay, verify, write."""
    source = load_source(run_dir)
    replay_experiment(source, retarget(source, changes), out, target_src="bench", changes=changes.to_dict())


def bench(workload: str, repeats: int, root: Path) -> dict:
    experiment = cell_experiment(workload)
    rows = []
    for i in range(repeats):
        run_dir = root / f"{workload}-{i}"
        train_s = cpu(lambda d=run_dir: run_experiment(parse_experiment(experiment, "bench", ROOT), d,
                                                        progress=False))
        execute_traced_s = traced(experiment)
        execute_untraced_s = untraced(experiment)
        replays = {name: cpu(lambda c=changes, out=root / f"{workload}-{i}-{name}", d=run_dir: replay(d, c, out))
                   for name, changes in (("same", Changes()), ("elsewhere", ELSEWHERE))}
        engine_s, messages = engine_only(run_dir)
        row = {"train_cpu_s": train_s, "execute_traced_cpu_s": execute_traced_s,
               "execute_untraced_cpu_s": execute_untraced_s,
               "trace_overhead": execute_traced_s / execute_untraced_s - 1,
               "replay_same_cpu_s": replays["same"], "replay_elsewhere_cpu_s": replays["elsewhere"],
               "ratio_same": train_s / replays["same"], "ratio_elsewhere": train_s / replays["elsewhere"],
               "replay_engine_cpu_s": engine_s, "messages": messages, "flows_per_cpu_s": messages / engine_s,
               "ops_nbytes": (run_dir / "ops.parquet").stat().st_size,
               "operations": len(load_source(run_dir).ops),
               "traffic_nbytes": (run_dir / "traffic.parquet").stat().st_size}
        row["ops_over_traffic"] = row["ops_nbytes"] / row["traffic_nbytes"]
        rows.append(row)
        print(f"{workload} #{i}: train {train_s:.1f} CPU-s, replay {replays['same']:.2f} (same) / "
              f"{replays['elsewhere']:.2f} (elsewhere) CPU-s -> {row['ratio_same']:.0f}x / "
              f"{row['ratio_elsewhere']:.0f}x; "
              f"op trace {100 * row['trace_overhead']:+.1f} % of Run.execute CPU "
              f"({execute_untraced_s:.1f} -> {execute_traced_s:.1f}), ops.parquet {row['ops_nbytes']:,} B = "
              f"{100 * row['ops_over_traffic']:.0f} % of traffic.parquet; replay engine {messages:,} messages, "
              f"{row['flows_per_cpu_s']:,.0f} per CPU-s", flush=True)
        shutil.rmtree(run_dir, ignore_errors=True)
    medians = {key: statistics.median(r[key] for r in rows) for key in rows[0]}
    return {"experiment": experiment["name"], "repeats": rows, "median": medians}


def recorder_cost(n: int = 200_000) -> dict:
    """CPU microseconds per recorded operation: n sends, receptions and computations, as a run makes them."""
    from testbed.sim.optrace import OpRecorder

    recorder = OpRecorder()
    nodes = [f"dc/w{i}" for i in range(12)]

    def record() -> None:
        for seq in range(n):
            src, dst = nodes[seq % 12], nodes[(seq + 1) % 12]
            recorder.sent(seq, src, dst, "grads_g", 1000, None)
            recorder.received(dst, src, "grads_g", seq)
            recorder.compute(src, "grad_step", 1.0)
    total = cpu(record) + cpu(recorder.frame)
    return {"operations": 3 * n, "cpu_s": total, "us_per_operation": 1e6 * total / (3 * n)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=sorted(WORKLOADS))
    parser.add_argument("--recorder", action="store_true", help="only the recorder's CPU per operation")
    args = parser.parse_args()
    if args.recorder:
        cost = recorder_cost()
        print(f"op trace: {cost['us_per_operation']:.2f} CPU-us per operation ({cost['operations']:,} recorded "
              f"and framed in {cost['cpu_s']:.2f} CPU-s)")
        return
    set_torch_threads(1)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workload in [args.only] if args.only else list(WORKLOADS):
            results[workload] = bench(workload, args.repeats, Path(tmp))
    print(f"results: {save_result('replay', results)}")


if __name__ == "__main__":
    main()
