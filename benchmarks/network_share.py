"""What share of a real run's CPU goes to the network model?  Gaia on geo-11, in-process.

Why Gaia on geo-11: it is the workload where the network core weighed most (25 % of the CPU with
the first implementation): 22 workers each send significance-filtered updates to all 21 others, so
a run pushes thousands of small flows per virtual second through 462 routes.  Compute is ``fixed``
(no calibration), so the virtual clock, hence the flows, are the same on every machine and with
either network implementation.

The network's CPU is the process time spent inside the engine's calls to ``FlowNetwork``
(``start_flow``, ``advance``, ``next_event_s``, ``end_flows``, ``link_busy_s``, ``freeze_meters``),
measured by wrapping them; the total is the process time of ``Run.execute()`` (after imports and data
set-up).  The engine builds its network with ``testbed.sim.cross_traffic.make_network``, so that is where
the timed class goes in (an older tree that built ``FlowNetwork`` in the engine is patched there).

Used by ``bench_network.py --gaia-iterations``, and on its own to compare two trees side by side --
each run in a subprocess with that tree first on ``sys.path``, the trees alternating, so the before ->
after ratio is paired (same machine, same minutes)::

    git archive main | tar -x -C /tmp/before
    python benchmarks/network_share.py --roots /tmp/before . --iterations 60 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


TIMED_METHODS = ("start_flow", "advance", "next_event_s", "end_flows", "link_busy_s", "freeze_meters")


def _timed(network_cls: type, clock: list[float]) -> type:
    """A subclass of ``network_cls`` whose public calls add their process time to ``clock[0]``."""

    def wrap(method: Any) -> Any:
        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            t0 = time.process_time()
            try:
                return method(self, *args, **kwargs)
            finally:
                clock[0] += time.process_time() - t0

        return timed

    methods = {name: wrap(getattr(network_cls, name)) for name in TIMED_METHODS if hasattr(network_cls, name)}
    return type("Timed", (network_cls,), methods)


def gaia_network_share(network_cls: type | None = None, iterations: int = 60, seed: int = 0) -> dict[str, float]:
    """Run Gaia on geo-11 for ``iterations`` with ``network_cls`` (default: the tree's own) as the engine's network.

    Returns total and network CPU seconds, their ratio, the number of flows and the virtual time.
    """
    import testbed.sim.engine as engine_module
    from testbed.exec.executor import InProcessExecutor
    from testbed.experiment.run import Run
    from testbed.experiment.spec import load_experiment

    try:
        import testbed.sim.cross_traffic as builder  # where today's engine gets its network class
    except ImportError:
        builder = engine_module
    if not hasattr(builder, "make_network") or not hasattr(builder, "FlowNetwork"):
        builder = engine_module
    spec = load_experiment({
        "name": "gaia-geo11-network-share", "topology": str(ROOT / "topologies" / "geo-11.yaml"),
        "dataset": "ring8", "partition": "iid", "model": {"name": "mlp2d", "hidden": 64, "depth": 2},
        "algorithm": {"name": "gaia", "threshold": 0.01, "decay": True},
        "training": {"batch_size": 64, "lr_g": 1e-3, "lr_d": 1e-3, "r1_gamma": 0.05},
        "max_iterations": iterations, "eval_every": 10**9, "eval_samples": 200, "seed": seed,
        "compute": {"model": "fixed", "costs": {"grad_step": "2ms", "server_update": "1ms"}},
    })
    clock = [0.0]
    original = builder.FlowNetwork
    builder.FlowNetwork = _timed(network_cls or original, clock)
    try:
        executor = InProcessExecutor()
        try:
            run = Run(spec, executor, progress=False)
            t0 = time.process_time()
            run.execute()
            total_s = time.process_time() - t0
        finally:
            executor.shutdown()
    finally:
        builder.FlowNetwork = original
    if clock[0] == 0.0:
        raise RuntimeError("the timed network was never called: the engine builds its network elsewhere")
    flows = run.engine.network._next_flow_id
    return {"cpu_s": total_s, "network_cpu_s": clock[0], "network_share": clock[0] / total_s,
            "flows": flows, "virtual_s": run.virtual_time_s}


def _child(root: str, iterations: int, seed: int) -> None:
    """In a subprocess: measure the tree at ``root`` (warm-up run first) and print the figures as JSON."""
    sys.path.insert(0, root)
    gaia_network_share(None, 2, seed)  # warm-up: first-call costs land in no figure
    share = gaia_network_share(None, iterations, seed)
    print(json.dumps(share))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--roots", nargs="+", default=[str(ROOT)], help="trees to measure, alternating")
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3, help="keep the run with the least network CPU per tree")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.iterations, args.seed)
        return 0
    best: dict[str, dict[str, Any]] = {}
    for _ in range(args.repeats):
        for root in args.roots:
            load = os.getloadavg()[0]
            out = subprocess.run([sys.executable, __file__, "--child", str(Path(root).resolve()), "--iterations",
                                  str(args.iterations), "--seed", str(args.seed)],
                                 check=True, capture_output=True, text=True).stdout
            share = json.loads(out.strip().splitlines()[-1]) | {"loadavg_1min": round(load, 2)}
            print(f"{root}: network {share['network_cpu_s']:.2f} of {share['cpu_s']:.2f} CPU-s = "
                  f"{share['network_share']:.1%} ({share['flows']:,} flows, {share['virtual_s']:.2f} virtual s; "
                  f"load {load:.1f})", flush=True)
            if root not in best or share["network_cpu_s"] < best[root]["network_cpu_s"]:
                best[root] = share
    print(json.dumps(best, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
