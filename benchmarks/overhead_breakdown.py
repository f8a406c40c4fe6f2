"""Where a run's CPU goes beyond the training compute itself, by category (issue 15, "Overhead").

The emulator must cost little beyond the GAN steps it executes: every CPU-second spent copying
parameters, scheduling SimPy events or solving the network is a second the study waits for.  This
runs ps and fedavg on topologies/wan-3dc.yaml (ring8, mlp2d, batch 256, ``compute: fixed`` so
virtual time is cheap, in-process executor) under a CPU-time sampling profiler and attributes every
sample to one category by the innermost testbed function on the stack:

* training   -- torch forward / backward / optimiser steps (the models, losses, step functions)
* copies     -- parameter and gradient copies and conversions (get/set_params, flatten, astype ...)
* batches    -- drawing local batches
* aggregate  -- the servers' numpy averaging of pushes / client models
* rebuild    -- building models and Adam during training (FedAvg clients)
* engine     -- SimPy, the methods' processes, the executor, the run loop
* network    -- the flow model (network, maxmin, tcp, link schedules)
* accounting -- the byte accountant
* evaluation -- the evaluator (outside virtual time)
* setup      -- hosting nodes, loading data, building the engine

The sampler is a thread that reads the main thread's stack every ``--interval-ms`` and weights
each sample by the main thread's CPU time since the previous one, so the shares add up to the
main thread's CPU and the sampler's own CPU (its thread) is left out.  torch releases the GIL
inside its operators, so a sample taken during a matmul or a backward pass sees the Python frame
that called it (a signal-based sampler would only run at the next function entry, and charge a
backward pass to whatever function came next).  Shares come from a sampled run; CPU seconds for
before/after ratios come from unsampled runs (``--paired``).  "CPU beyond training compute" is 100 % minus the training
share, over the whole ``Run.execute()`` (after an unmeasured 2-iteration warm-up run of each method, so
one-time lazy imports are not counted); the "training phase" figure leaves setup and evaluation out.
``--paired`` also checks that every run of both checkouts ends with the same metrics row (a change that
only cuts the emulation's cost must not move a single value).

    python benchmarks/overhead_breakdown.py [--ps-iterations 150] [--fedavg-iterations 40]
    python benchmarks/overhead_breakdown.py --root /tmp/before   # the same, importing another checkout
    python benchmarks/overhead_breakdown.py --counts [--root /tmp/before]   # events, messages ... per step
    python benchmarks/overhead_breakdown.py --workload dcgan --ps-iterations 30 --fedavg-iterations 8

``--workload dcgan`` runs the same methods on 28x28 MNIST with the dcgan preset: the emulation's messages and
events are the same, the training step ~50x dearer, so it shows what the overhead is on a model a researcher
trains (the default, mlp2d on ring8, is the stress case the issue's goals are set on).  Each row also gives
the CPU beyond training per ps worker step or fedavg round, in microseconds (machine-dependent).

``--counts`` runs each method once under cProfile (50 ps iterations, 40 fedavg rounds) and prints exact call
counts -- SimPy events, process resumptions, messages, flows, max-min solves, traffic records, executor
calls, tensor/numpy conversions, finite checks -- per ps worker step (12 workers x iterations) and per
fedavg round: machine-independent figures to set beside the CPU shares.

``--bare`` cross-checks the ps share without the sampler: unsampled ps runs alternate with the same
number of worker steps' training compute alone -- each of the run's 12 worker states, in turn, computing
D's and G's gradients with ``autograd.grad`` as ``PsWorker.flat_grads`` does, on a fixed batch, with no
messages, loads, cuts, batch draws or server steps -- and "beyond bare training" is 1 - bare / run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
CATEGORIES = ("training", "copies", "batches", "aggregate", "rebuild", "engine", "network", "accounting",
              "evaluation", "setup", "other")
OVERRIDES = {  # (module, qualname) whose callees all count to this category, outermost first
    ("testbed.experiment.run", "Run.evaluate"): "evaluation",
    ("testbed.experiment.run", "Run.final_generators"): "evaluation",
    ("testbed.exec.executor", "construct"): "setup", ("testbed.experiment.run", "Run._compute_model"): "setup",
    ("testbed.sim.engine", "Engine.__init__"): "setup",
    ("testbed.methods.common.setup", "NodeSetup.gan_state"): "rebuild",
    ("testbed.gan.state", "make_adam"): "rebuild", ("testbed.gan.state", "make_gan_state"): "rebuild",
}
MODULE_PREFIXES = [  # innermost testbed frame's module -> category (first matching prefix)
    ("testbed.quality", "evaluation"), ("testbed.methods.common.evaluator", "evaluation"),
    ("testbed.sim.network", "network"), ("testbed.sim.maxmin", "network"), ("testbed.sim.tcp", "network"),
    ("testbed.sim.link_schedule", "network"), ("testbed.sim.accounting", "accounting"),
    ("testbed.gan.flat", "copies"), ("testbed.gan.params", "copies"), ("testbed.models", "training"),
    ("testbed.gan", "training"), ("testbed.data", "setup"), ("testbed.topology.model", "setup"),
    ("testbed.experiment.spec", "setup"),
]
FUNCTIONS = {  # (module, qualname) -> category, checked before the module prefixes
    ("testbed.gan.params", "average_params"): "aggregate",
    ("testbed.gan.steps", "_grads_of.<locals>.<dictcomp>"): "copies", ("testbed.gan.steps", "as_tensor"): "copies",
    ("testbed.gan.flat", "FlatLayout.grad_vector"): "training",  # the autograd call; its concat is below
    ("testbed.methods.common.worker", "GanWorker._batch"): "batches",
    ("testbed.methods.common.worker", "GanWorker._batches"): "batches",  # train_steps' batches, several at a time
    ("testbed.methods.common.worker", "GanWorker.train_steps"): "training",
    ("testbed.methods.common.setup", "scale_lr"): "training",
    ("testbed.methods.common.setup", "NodeSetup.lr_scale"): "training",
    ("testbed.methods.ps.state", "ParamShard._step"): "aggregate",
    ("testbed.methods.fedavg.state", "Aggregator.average"): "aggregate",
}
COPY_MODULES = ("testbed.methods.common.worker", "testbed.methods.ps.state", "testbed.methods.fedavg.state",
                "testbed.methods.common.setup", "testbed.methods.fedavg.scratch")
"""Node states' own lines: loading and unloading parameters."""


def frame_key(frame: FrameType, root: str) -> tuple[str, str] | None:
    """(dotted module, qualname) of a frame in the testbed package, else None."""
    path = frame.f_code.co_filename
    if not path.startswith(root):
        return None
    module = "testbed." + path[len(root):].removesuffix(".py").replace("/", ".").removesuffix(".__init__")
    return module, frame.f_code.co_qualname


def categorise(frame: FrameType | None, root: str) -> tuple[str, str]:
    """(category, innermost testbed function) of the stack ending at ``frame`` (see the module docstring)."""
    category, keys = _categorise(frame, root)
    return category, ":".join(keys[0]) if keys else "-"


def _categorise(frame: FrameType | None, root: str) -> tuple[str, list[tuple[str, str]]]:
    keys = []
    while frame is not None:
        key = frame_key(frame, root)
        if key is not None:
            keys.append(key)
        frame = frame.f_back
    for key in reversed(keys):  # outermost override wins
        if key in OVERRIDES:
            return OVERRIDES[key], keys
        if key[0].startswith("testbed.methods.") and key[1].endswith(".setup") and key[0].count(".") == 2:
            return "setup", keys  # an Algorithm's setup(): hosting its nodes
        if key[1].endswith("__init__") and key[0].startswith("testbed.methods."):
            return "setup", keys  # a node state's constructor
    if not keys:
        return "other", keys
    module, qualname = keys[0]
    for name in (qualname, qualname.split(".<locals>")[0]):  # a comprehension counts as its function
        if (module, name) in FUNCTIONS:
            return FUNCTIONS[(module, name)], keys
    for prefix, category in MODULE_PREFIXES:
        if module == prefix or module.startswith(prefix + "."):
            return category, keys
    return ("copies" if module in COPY_MODULES else "engine"), keys


class Sampler:
    """A thread sampling the main thread's stack, each sample weighted by the main thread's CPU since the last."""

    def __init__(self, root: str, interval_s: float) -> None:
        self.root, self.interval_s = root, interval_s
        self.cpu_s: dict[str, float] = defaultdict(float)
        self.by_function: dict[tuple[str, str], float] = defaultdict(float)
        self.samples = 0
        self._main = threading.main_thread().ident
        self._clock = time.pthread_getcpuclockid(self._main)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        last = time.clock_gettime(self._clock)
        while not self._stop.wait(self.interval_s):
            frame = sys._current_frames().get(self._main)
            now = time.clock_gettime(self._clock)
            category, function = categorise(frame, self.root)
            self.cpu_s[category] += now - last
            self.by_function[category, function] += now - last
            self.samples += 1
            last = now
            del frame

    def __enter__(self) -> Sampler:
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(1e-4)  # the main thread hands the GIL over promptly when a sample is due
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        sys.setswitchinterval(self._switch)


METHODS = {"ps": {"name": "ps", "consistency": "sequential"},
           "fedavg": {"name": "fedavg", "client_fraction": 0.5, "local_epochs": 1}}


WORKLOADS = {"mlp2d": ("ring8", "mlp2d"), "dcgan": ({"name": "mnist", "n": 12000}, "dcgan")}
"""``--workload``: (data set, model).  ``mlp2d`` (the default, the issue's stress case: a step of a few ms) or
``dcgan`` (28x28 MNIST, a model a researcher trains: a step two orders of magnitude dearer, the same messages)."""


def make_run(method: str, iterations: int, root: Path, workload: str = "mlp2d") -> Any:
    """The benchmark's run of ``method`` on wan-3dc (not started)."""
    from testbed.exec.executor import InProcessExecutor
    from testbed.experiment.run import Run
    from testbed.experiment.spec import load_experiment

    dataset, model = WORKLOADS[workload]
    spec = load_experiment({
        "name": f"overhead-breakdown-{method}", "topology": str(root / "topologies" / "wan-3dc.yaml"),
        "dataset": dataset, "model": model, "algorithm": METHODS[method],
        "training": {"batch_size": 256, "lr_g": 1e-3, "lr_d": 1e-3}, "max_iterations": iterations,
        "eval_every": 10**9, "eval_samples": 100,
        "compute": {"model": "fixed", "default": "3ms", "costs": {"train_step": "10ms", "grad_step": "10ms"}},
    })
    return Run(spec, InProcessExecutor(), progress=False)


def run_once(method: str, iterations: int, root: Path, interval_s: float | None = None,
             workload: str = "mlp2d") -> dict[str, Any]:
    """One run of ``method`` on wan-3dc: its process CPU seconds and, if ``interval_s``, the sampled shares."""
    run = make_run(method, iterations, root, workload)
    start = time.process_time()
    if interval_s is None:
        run.execute()
        return {"method": method, "cpu_s": time.process_time() - start, "final_metrics": run.metrics[-1]}
    with Sampler(str(root / "testbed") + "/", interval_s) as sampler:
        run.execute()
    total = time.process_time() - start
    attributed = sum(sampler.cpu_s.values())
    shares = {c: sampler.cpu_s.get(c, 0.0) / attributed for c in CATEGORIES}
    phase = 1.0 - shares["setup"] - shares["evaluation"]
    return {"method": method, "workload": workload, "iterations": run.iteration, "virtual_s": run.virtual_time_s,
            "cpu_s": total, "main_thread_cpu_s": attributed, "samples": sampler.samples, "shares": shares,
            "beyond_training": 1.0 - shares["training"],
            "beyond_training_phase": (phase - shares["training"]) / phase if phase > 0 else float("nan"),
            "final_metrics": run.metrics[-1],
            "top_functions": [(c, f, s / attributed) for (c, f), s in
                              sorted(sampler.by_function.items(), key=lambda kv: -kv[1])[:25]]}


COUNTED = {  # what --counts reports: (module path suffix, function name) pairs, counted together
    "SimPy events processed": [("simpy/core.py", "step")],
    "process resumptions": [("simpy/events.py", "_resume")],
    "messages sent": [("sim/engine.py", "transmit")],
    "flows started": [("sim/network.py", "start_flow")],
    "max-min solves": [("sim/maxmin.py", "update")],
    "traffic records": [("sim/accounting.py", f) for f in ("record_send", "record_arrival", "record_lost")],
    "executor calls": [("exec/executor.py", "call")],
    "tensor -> numpy": [("~", "<method 'numpy' of 'torch._C.TensorBase' objects>")],
    "numpy -> tensor": [("~", "<built-in method torch.as_tensor>"), ("~", "<built-in method torch.from_numpy>")],
    "finite checks (arrays)": [("core/finite.py", "_array_finite")],
}


def counts(method: str, iterations: int, root: Path) -> dict[str, float]:
    """Exact call counts of one run (cProfile) per ps worker step or per fedavg round (see the docstring)."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    run_once(method, iterations, root)
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    per = iterations * (12 if method == "ps" else 1)  # wan-3dc: 12 workers, one step each per ps iteration
    return {name: sum(row[1] for (path, _, func), row in stats.items()
                      if any(path.endswith(suffix) and func == f for suffix, f in keys)) / per
            for name, keys in COUNTED.items()}


def bare_ps_cpu_s(iterations: int, root: Path, workload: str = "mlp2d") -> tuple[float, int]:
    """CPU seconds of ``iterations`` x 12 ps worker steps' gradient computation alone, and the step count
    (see the module docstring's ``--bare``)."""
    import torch

    from testbed.gan.losses import g_loss
    from testbed.gan.steps import _d_objective, sample_latent

    run = make_run("ps", 1, root, workload)
    run.execute()  # builds the worker states
    workers = [w for w in run.executor._states.values() if hasattr(w, "flat_grads")]
    jobs = [(w, w.layouts(), w._batch()) for w in workers]
    t = workers[0].setup.training
    start = time.process_time()
    for _ in range(iterations):
        for w, (layout_g, layout_d), real in jobs:
            total, _ = _d_objective(w.state, real, None, t.r1_gamma, w.gen, stats=False)
            torch.autograd.grad(total, layout_d.params, allow_unused=True)
            loss = g_loss(w.state.D, w.state.G(sample_latent(t.batch_size, w.state.latent_dim, w.gen)))
            torch.autograd.grad(loss, layout_g.params, allow_unused=True)
    return time.process_time() - start, iterations * len(jobs)


def paired(args: argparse.Namespace, roots: list[Path]) -> dict[str, Any]:
    """Unsampled CPU seconds of each method, alternating the checkouts run by run (one subprocess each)."""
    cpu: dict[str, dict[str, list[float]]] = {str(r): defaultdict(list) for r in roots}
    metrics: dict[str, list[str]] = defaultdict(list)  # each run's last metrics row (wall times left out)
    for _ in range(args.repeats):
        for root in roots:
            out = subprocess.run([sys.executable, __file__, "--root", str(root), "--cpu-only", "--methods",
                                  *args.methods, "--workload", args.workload, "--ps-iterations",
                                  str(args.ps_iterations), "--fedavg-iterations", str(args.fedavg_iterations)],
                                 capture_output=True, text=True, check=True).stdout
            for method, row in json.loads(out.strip().splitlines()[-1]).items():
                cpu[str(root)][method].append(row["cpu_s"])
                metrics[method].append(json.dumps(row["metrics"], sort_keys=True))
    base, other = (str(r) for r in roots)
    ratios = {m: statistics.median(b / a for a, b in zip(cpu[base][m], cpu[other][m], strict=True))
              for m in args.methods}
    same = {m: len(set(metrics[m])) == 1 for m in args.methods}
    for m in args.methods:
        print(f"{m:<7} CPU s {base}: {statistics.median(cpu[base][m]):.2f}  {other}: "
              f"{statistics.median(cpu[other][m]):.2f}  ratio (median of pairs) {ratios[m]:.3f}  "
              f"last metrics row {'identical in' if same[m] else 'DIFFERS between'} all {len(metrics[m])} runs")
    return {"cpu_s": cpu, "ratio_other_over_base": ratios, "metrics_identical": same,
            "metrics": {m: sorted(set(v)) for m, v in metrics.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ps-iterations", type=int, default=150)
    parser.add_argument("--fedavg-iterations", type=int, default=40)
    parser.add_argument("--interval-ms", type=float, default=1.0)
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--root", type=Path, default=HERE.parent, help="checkout whose testbed to import")
    parser.add_argument("--top", type=int, default=0, help="print the N costliest (category, function) pairs")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--cpu-only", action="store_true",
                        help="unsampled runs; print {method: {cpu_s, metrics (the last row)}} as JSON")
    parser.add_argument("--paired", type=Path, help="a second checkout (e.g. the code before a change): "
                        "alternate unsampled runs of --root and it, and print CPU ratios")
    parser.add_argument("--repeats", type=int, default=3, help="pairs of runs for --paired")
    parser.add_argument("--counts", action="store_true", help="exact per-step call counts (cProfile), no shares")
    parser.add_argument("--bare", action="store_true", help="ps runs against their training compute alone, alternating")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="mlp2d",
                        help="data set and model (default mlp2d on ring8; dcgan: 28x28 MNIST, offline data needed)")
    args = parser.parse_args()
    root = args.root.resolve()
    sys.path[:0] = [str(root), str(HERE)]
    from common import save_result

    from testbed.exec.executor import set_torch_threads

    set_torch_threads(1)
    iterations = {"ps": args.ps_iterations, "fedavg": args.fedavg_iterations}
    if args.paired:
        result = paired(args, [root, args.paired.resolve()])
        print(f"wrote {save_result('overhead_paired', {'command': ' '.join(sys.argv), **result})}")
        return
    for method in args.methods:  # warm-up: lazy imports (torch.optim's first Adam ...) are no emulation cost
        run_once(method, 2, root, workload=args.workload)
    if args.bare:
        rows = []
        for _ in range(args.repeats):
            run_s = run_once("ps", args.ps_iterations, root, workload=args.workload)["cpu_s"]
            bare_s, steps = bare_ps_cpu_s(args.ps_iterations, root, args.workload)
            rows.append({"run_cpu_s": run_s, "bare_cpu_s": bare_s, "steps": steps, "beyond": 1 - bare_s / run_s})
            print(f"ps run {run_s:.2f} CPU-s, its {steps} worker steps' gradients alone {bare_s:.2f}: "
                  f"{100 * (1 - bare_s / run_s):.1f} % beyond bare training", flush=True)
        print(f"median {100 * statistics.median(r['beyond'] for r in rows):.1f} %; "
              f"wrote {save_result('overhead_bare', {'command': ' '.join(sys.argv), 'rows': rows})}")
        return
    if args.counts:
        found = {m: counts(m, {"ps": 50, "fedavg": 40}[m], root) for m in args.methods}
        print(f"{'per ps worker step / fedavg round':<26}" + "".join(f"{m:>9}" for m in args.methods))
        for name in COUNTED:
            print(f"{name:<26}" + "".join(f"{found[m][name]:>9.2f}" for m in args.methods))
        print(f"wrote {save_result('overhead_counts', {'command': ' '.join(sys.argv), 'root': str(root), **found})}")
        return
    if args.cpu_only:
        runs = {m: run_once(m, iterations[m], root, workload=args.workload) for m in args.methods}
        print(json.dumps({m: {"cpu_s": r["cpu_s"], "metrics": {k: v for k, v in r["final_metrics"].items()
                                                                 if "wall" not in k}}
                          for m, r in runs.items()}, default=float))
        return
    rows = [run_once(m, iterations[m], root, args.interval_ms / 1000, args.workload) for m in args.methods]
    print(f"{'method':<7} {'CPU s':>6} " + " ".join(f"{c[:8]:>8}" for c in CATEGORIES) + "  beyond  (training phase)")
    for row in rows:
        cells = " ".join(f"{100 * row['shares'][c]:>7.1f}%" for c in CATEGORIES)
        print(f"{row['method']:<7} {row['cpu_s']:>6.2f} {cells}"
              f"  {100 * row['beyond_training']:5.1f}%  ({100 * row['beyond_training_phase']:.1f}%)")
    for row in rows:  # the emulation's cost in CPU time, which a dearer model does not grow (copies aside)
        ps = row["method"] == "ps"
        per, unit = (12 * row["iterations"], "ps worker step") if ps else (row["iterations"], "round")
        row["beyond_cpu_us_per_" + unit.split()[-1]] = beyond_us = 1e6 * row["beyond_training"] * row["cpu_s"] / per
        engine = sum(row["shares"][c] for c in ("engine", "network", "accounting"))
        print(f"{row['method']:<7} beyond training: {beyond_us:,.0f} CPU-us per {unit}; "
              f"engine + network + accounting alone {100 * engine:.1f} % of the run")
    for row in rows if args.top else []:
        print(f"-- {row['method']}: top functions (share of CPU)")
        for category, function, share in row["top_functions"][:args.top]:
            print(f"   {100 * share:5.1f}%  {category:<10} {function}")
    payload = {"command": " ".join(sys.argv), "root": str(root), "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2, default=float))
    name = "overhead_breakdown" + ("" if args.workload == "mlp2d" else "_" + args.workload)
    print(f"wrote {save_result(name, payload)}")


if __name__ == "__main__":
    main()
