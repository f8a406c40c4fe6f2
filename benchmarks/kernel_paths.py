"""What is deterministic where: the same runs on the CPU's default kernel path and on a forced AVX2 one.

Virtual time and every byte whose size does not depend on the values come from the seed, the
compute-cost table and the topology only, so they must be identical on any machine; the trained
values are bit-identical only on one machine and one kernel path, because the libraries pick their
vectorised kernels (AVX-512, AVX2, ...) at start-up and those may round differently.  Three
libraries choose: ATen's own kernels (``ATEN_CPU_CAPABILITY``), MKL's matrix products
(``MKL_ENABLE_INSTRUCTIONS``) and oneDNN's convolutions (``ONEDNN_MAX_CPU_ISA``).  This runs one seed
of every method in fresh processes -- on the default path, and forced to AVX2 either in ATen only
(``--paths aten``) or in all three (``all``: what a machine without AVX-512 would run) -- and prints,
per method: whether the traffic log (kind, source, destination, bytes, send and arrival times) and
the virtual time are identical, the final quality on each path, and the largest absolute difference
between the paths' final generator parameters.

    python benchmarks/kernel_paths.py [--paths aten,all] [--iterations ring8=600,digits=100]

Small runs (ring8 on an MLP and digits on a small DCGAN; three single-worker datacenters plus a
two-worker one; fixed compute costs), one seed: a measurement of the spread, not a study.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

METHODS = {
    "local": "local",
    "centralized": {"name": "centralized", "server_at": "a"},
    "ps": {"name": "ps", "server_at": "a"},
    "fedavg": {"name": "fedavg", "local_epochs": 0.5, "server_at": "a"},  # ~4 local steps a round
    "fedsgd": {"name": "fedsgd", "server_at": "a"},
    "mdgan": {"name": "mdgan", "server_at": "a"},
    "gaia": {"name": "gaia", "threshold": 0.05, "decay": False},
    "sqm": {"name": "sqm", "server_at": "a"},
}


WORKLOADS = {
    "ring8": {"dataset": {"name": "ring8", "n": 4000}, "model": {"name": "mlp2d", "hidden": 64},
              "training": {"batch_size": 128, "lr_g": 2e-3, "lr_d": 2e-3, "r1_gamma": 0.05,
                           "lr_final_fraction": 0.05}},
    "digits": {"dataset": {"name": "digits", "n": 1000}, "model": {"name": "dcgan", "channels": 16, "latent_dim": 32},
               "training": {"batch_size": 32, "lr_g": 2e-3, "lr_d": 2e-3}},
}
"""ring8 on an MLP (matrix products and element-wise ops only) and digits on a small DCGAN (convolutions
and BatchNorm, whose statistics are reductions)."""


def experiment(algorithm: dict | str, workload: str, iterations: int) -> dict:
    """A small run of ``workload`` over four datacenters on a WAN, fixed compute costs."""
    names = ["a", "b", "c", "d"]
    links = [{"between": [x, y], "bandwidth": "100Mbps", "latency": "20ms"} for x, y in itertools.pairwise(names)]
    fedavg = isinstance(algorithm, dict) and algorithm["name"] == "fedavg"
    return {
        "name": "kernel-paths",
        "topology": {"name": "four", "lan": {"bandwidth": "10Gbps", "latency": "0.1ms"},
                     "datacenters": {"a": {"workers": 1}, "b": {"workers": 1}, "c": {"workers": 1},
                                     "d": {"workers": 2}}, "links": links},
        **WORKLOADS[workload], "partition": "iid", "algorithm": algorithm,
        "max_iterations": max(1, iterations // 4) if fedavg else iterations,
        "eval_every": 10**6, "eval_samples": 2000 if workload == "ring8" else 500, "seed": 0,
        "compute": {"model": "fixed", "default": "1ms"},
    }


def child(method: str, workload: str, iterations: int, out: Path) -> None:
    """Run ``method`` in this process (its kernel path set by the environment) and save what to compare."""
    sys.path.insert(0, str(ROOT))
    import numpy as np
    import torch

    from testbed.exec.executor import InProcessExecutor
    from testbed.experiment.run import Run
    from testbed.experiment.spec import load_experiment

    run = Run(load_experiment(experiment(METHODS[method], workload, iterations)), InProcessExecutor(), progress=False)
    run.execute()
    frame = run.engine.accountant.frame()
    rows = [(r.kind, r.src, r.dst, int(r.nbytes), f"{r.t_send_s:.9f}", f"{r.t_arrive_s:.9f}")
            for r in frame.itertuples(index=False)]
    arrays = {f"{label}/{key}": tensor.numpy() for label, sd in run.generators.items() for key, tensor in sd.items()
              if tensor.is_floating_point()}
    np.savez(out.with_suffix(".npz"), **arrays)
    out.write_text(json.dumps({
        "capability": torch.backends.cpu.get_cpu_capability(), "quality": run.metrics[-1][run.headline],
        "headline": run.headline, "virtual_time_s": run.virtual_time_s, "iterations": run.iteration,
        "traffic": hashlib.sha256(json.dumps(rows).encode()).hexdigest(), "messages": len(rows)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", default="ring8=600,digits=100",
                        help="iterations per workload (FedAvg: a quarter as many rounds)")
    parser.add_argument("--paths", default="aten,all", help="forced paths: aten (ATen only), all (ATen, MKL, oneDNN)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    iterations = {k: int(v) for k, v in (item.split("=") for item in args.iterations.split(","))}
    if args.child:
        child(args.child, args.workload, iterations[args.workload], Path(args.out))
        return
    import numpy as np

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for key in ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA"):
        env.pop(key, None)
    paths = {"aten": {"ATEN_CPU_CAPABILITY": "avx2"},
             "all": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}}
    chosen = args.paths.split(",")
    for workload in args.workloads.split(","):
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for method in args.methods.split(","):
                results = {}
                for label, extra in [("default", {}), *((p, paths[p]) for p in chosen)]:
                    out = Path(tmp) / f"{method}-{label}.json"
                    subprocess.run([sys.executable, __file__, "--child", method, "--workload", workload,
                                    "--iterations", args.iterations, "--out", str(out)], env={**env, **extra},
                                   check=True)
                    results[label] = (json.loads(out.read_text()), np.load(out.with_suffix(".npz")))
                rows.append((method, results))
                print(f"{workload} {method}: done", file=sys.stderr, flush=True)
        base = rows[0][1]["default"][0]
        print(f"\n{workload} ({json.dumps(WORKLOADS[workload]['model'])}, {iterations[workload]} iterations, "
              f"seed 0): default path {base['capability']}; quality = {base['headline']}")
        for label in chosen:
            print(f"\nforced: {' '.join(f'{k}={v}' for k, v in paths[label].items())}")
            print("| method | traffic log | virtual time | quality, default | quality, forced | max abs param diff |")
            print("|---|---|---|---|---|---|")
            for method, results in rows:
                (a, pa), (b, pb) = results["default"], results[label]
                diff = max(float(np.max(np.abs(pa[k].astype(np.float64) - pb[k]))) for k in pa.files)
                same_traffic = "identical" if a["traffic"] == b["traffic"] else \
                    f"differs ({a['messages']} vs {b['messages']} messages)"
                same_time = "identical" if a["virtual_time_s"] == b["virtual_time_s"] else \
                    f"{a['virtual_time_s']:.4f} vs {b['virtual_time_s']:.4f} s"
                print(f"| {method} | {same_traffic} | {same_time} | {a['quality']:.4g} | {b['quality']:.4g} | "
                      f"{diff:.3g} |")


if __name__ == "__main__":
    main()
