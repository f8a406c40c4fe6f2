"""What share of a real run's CPU goes to the network model?  Gaia on geo-11, in-process.

Why Gaia on geo-11: it is the workload where the network core weighed most (25 % of the CPU with
the first implementation): 22 workers each send significance-filtered updates to all 21 others, so
a run pushes thousands of small flows per virtual second through 462 routes.  Compute is ``fixed``
(no calibration), so the virtual clock, hence the flows, are the same on every machine and with
either network implementation.

The network's CPU is the process time spent inside the engine's calls to ``FlowNetwork``
(``start_flow``, ``advance``, ``next_event_s``, ``link_busy_s``), measured by wrapping them; the
total is the process time of ``Run.execute()`` (after imports and data set-up).  Used by
``bench_network.py --gaia-iterations``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


TIMED_METHODS = ("start_flow", "advance", "next_event_s", "link_busy_s")


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

    return type("Timed", (network_cls,), {name: wrap(getattr(network_cls, name)) for name in TIMED_METHODS})


def gaia_network_share(network_cls: type, iterations: int = 60, seed: int = 0) -> dict[str, float]:
    """Run Gaia on geo-11 for ``iterations`` with ``network_cls`` as the engine's network.

    Returns total and network CPU seconds, their ratio, the number of flows and the virtual time.
    """
    import testbed.sim.engine as engine_module
    from testbed.exec.executor import InProcessExecutor
    from testbed.experiment.run import Run
    from testbed.experiment.spec import load_experiment

    spec = load_experiment({
        "name": "gaia-geo11-network-share", "topology": str(ROOT / "topologies" / "geo-11.yaml"),
        "dataset": "ring8", "partition": "iid", "model": {"name": "mlp2d", "hidden": 64, "depth": 2},
        "algorithm": {"name": "gaia", "threshold": 0.01, "decay": True},
        "training": {"batch_size": 64, "lr_g": 1e-3, "lr_d": 1e-3, "r1_gamma": 0.05},
        "max_iterations": iterations, "eval_every": 10**9, "eval_samples": 200, "seed": seed,
        "compute": {"model": "fixed", "costs": {"grad_step": "2ms", "server_update": "1ms"}},
    })
    clock = [0.0]
    original = engine_module.FlowNetwork
    engine_module.FlowNetwork = _timed(network_cls, clock)
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
        engine_module.FlowNetwork = original
    flows = run.engine.network._next_flow_id
    return {"cpu_s": total_s, "network_cpu_s": clock[0], "network_share": clock[0] / total_s,
            "flows": flows, "virtual_s": run.virtual_time_s}
