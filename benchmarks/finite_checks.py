"""What "finite or stopped" costs: the per-message and per-evaluation NaN checks (testbed.core.finite).

Why: issue 24 asks that losses, parameters and messages be checked for NaN/inf "at a cost that stays out
of the hot path".  Two measurements, each paired in one process:

* **runs**: whole in-process runs (ring8 ``ps`` and ``fedavg`` with the mlp2d preset, digits ``ps`` with the
  dcgan preset; ``compute: fixed``), ``Run.execute()``'s process time with the checks on and with
  ``Executor.check_finite`` and the evaluator's check replaced by no-ops, alternating, best of
  ``--repeats``; the ratio on/off is the checks' share of a run.
* **payloads**: :func:`testbed.core.finite.require_finite` alone on one generator's parameters (the
  message a FedAvg client or a PS pull carries), microseconds per call; times a run's message count
  this bounds the checks' share where the paired ratio drowns in a loaded machine's noise.
* **when** (``--when``): one check of a fresh 36k-float gradient vector (a ps worker's G part), thread CPU
  time, made right after the vector is built (what the in-process executor does now, when a call returns)
  and after a stand-in for other nodes' training steps in between (three 256x512x512 matmuls and a 16 MB
  sweep: what a check at the message's send met); medians of ``--calls`` alternating pairs.

Fair CPU: one torch thread, and ``OMP_NUM_THREADS=1`` set before torch is imported.

    OMP_NUM_THREADS=1 python benchmarks/finite_checks.py --repeats 3
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import testbed.exec.executor as executor_module
from benchmarks.common import save_result
from testbed.core.finite import first_non_finite, require_finite
from testbed.exec.executor import InProcessExecutor
from testbed.experiment.run import Run
from testbed.experiment.spec import load_experiment
from testbed.gan import get_params
from testbed.methods.common import evaluator
from testbed.models import build_models, model_config

TOPOLOGY = {"name": "bench", "lan": {"bandwidth": "100Gbps", "latency": 0},
            "datacenters": {"a": {"workers": 4}, "b": {"workers": 4}},
            "links": [{"between": ["a", "b"], "bandwidth": "100Mbps", "latency": "10ms"}]}
COSTS = {"train_step": "10ms", "grad_step": "10ms", "server_update": "1ms", "average": "1ms"}
CASES: dict[str, dict[str, Any]] = {
    "ring8-ps": {"algorithm": "ps", "dataset": {"name": "ring8", "n": 4000}, "model": "mlp2d", "max_iterations": 300},
    "ring8-fedavg": {"algorithm": "fedavg", "dataset": {"name": "ring8", "n": 4000}, "model": "mlp2d",
                     "max_iterations": 30},
    "digits-ps": {"algorithm": "ps", "dataset": "digits", "model": "dcgan", "max_iterations": 20,
                  "training": {"batch_size": 32}},
}


@contextlib.contextmanager
def checks_off() -> Iterator[None]:
    """The run with both checks replaced by no-ops (the baseline)."""
    saved = InProcessExecutor.check_finite, evaluator.first_non_finite, executor_module.first_non_finite
    InProcessExecutor.check_finite = lambda self, *a: None  # type: ignore[method-assign]
    evaluator.first_non_finite = lambda value, path="": None  # type: ignore[assignment]
    executor_module.first_non_finite = lambda value, path="": None  # the check when a call returns
    try:
        yield
    finally:
        InProcessExecutor.check_finite, evaluator.first_non_finite, executor_module.first_non_finite = saved


def run_cpu_s(case: dict[str, Any]) -> tuple[float, int]:
    spec = load_experiment({"name": "bench", "topology": TOPOLOGY, "partition": "iid", "eval_every": 10**6,
                            "eval_samples": 200, "compute": {"model": "fixed", "costs": COSTS}, **case})
    run = Run(spec, InProcessExecutor(), progress=False)
    start = time.process_time()
    run.execute()
    return time.process_time() - start, len(run.engine.accountant)


def payload_us(model: str, shape: tuple[int, ...], calls: int = 200) -> tuple[int, float]:
    generator, _ = build_models(model_config(model), shape, 0)
    params = get_params(generator)
    start = time.perf_counter()
    for _ in range(calls):
        require_finite(params, "bench")
    return sum(v.size for v in params.values()), (time.perf_counter() - start) / calls * 1e6


def when_us(calls: int) -> tuple[float, float]:
    """Median thread-CPU microseconds of one check right after its vector is built, and after a stand-in for
    other nodes' training steps (see the module docstring)."""
    import statistics

    import numpy as np

    a, b, sweep = torch.randn(256, 512), torch.randn(512, 512), np.ones(4_000_000, np.float32)
    grads = [torch.randn(n) for n in (1024, 512, 32768, 512, 1024, 2)]  # 35,842 entries, as mlp2d's G

    def vector() -> np.ndarray:
        return np.concatenate([g.numpy().reshape(-1) for g in grads])

    def other_nodes() -> None:
        for _ in range(3):
            (a @ b).sum()
        sweep.__iadd__(1.0)

    now, later = [], []
    for _ in range(calls):
        other_nodes()
        v = vector()
        t = time.thread_time_ns()
        first_non_finite(v)
        now.append(time.thread_time_ns() - t)
        w = vector()
        other_nodes()
        t = time.thread_time_ns()
        first_non_finite(w)
        later.append(time.thread_time_ns() - t)
    return statistics.median(now) / 1e3, statistics.median(later) / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=list(CASES))
    parser.add_argument("--when", action="store_true", help="only the check-now vs check-later timing")
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.when:
        now_us, later_us = when_us(args.calls)
        print(f"one check of a fresh 35,842-float vector: {now_us:.1f} us right after it is built, {later_us:.1f} us "
              f"after other nodes' steps (ratio {later_us / now_us:.2f}, medians of {args.calls} pairs)")
        result = {"calls": args.calls, "now_us": now_us, "later_us": later_us}
        print(f"wrote {save_result('finite_check_when', result)}")
        return
    rows = []
    for name in args.cases:
        on, off = [], []
        for _ in range(args.repeats):
            cpu_s, messages = run_cpu_s(CASES[name])
            on.append(cpu_s)
            with checks_off():
                off.append(run_cpu_s(CASES[name])[0])
        rows.append({"case": name, "messages": messages, "on_s": min(on), "off_s": min(off),
                     "ratio": min(on) / min(off)})
        print(f"{name:14s} {messages:6d} messages  checks on {min(on):7.3f} s  off {min(off):7.3f} s  "
              f"ratio {min(on) / min(off):.3f}")
    payloads = []
    for model, shape in (("mlp2d", (2,)), ("dcgan", (1, 28, 28))):
        entries, us = payload_us(model, shape)
        payloads.append({"model": model, "entries": entries, "us_per_check": us})
        print(f"require_finite on one {model} generator ({entries:,} entries): {us:.1f} us")
    path = save_result("finite_checks", {"repeats": args.repeats, "runs": rows, "payloads": payloads})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
