"""Scale: FedAvg with 1,000 and 10,000 logical clients on 2 executors.

Cross-device federated studies need thousands of clients, but each executor
actor costs ~270 MB, so many logical clients share few actors (``pool: 2``) and
stateless clients drop their models between rounds.  Prints wall seconds per
round and the peak RSS of all processes (driver + Ray).  Goal (issue 8):
10,000 clients under 4 GiB.

    python benchmarks/scale.py [--clients 1000 10000] [--rounds 3] [--backend ray|inprocess]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import PeakRss, save_result  # noqa: E402

from testbed.experiment.launch import make_executor  # noqa: E402
from testbed.experiment.run import Run  # noqa: E402
from testbed.experiment.spec import load_experiment  # noqa: E402


def measure(clients: int, rounds: int, backend: str, fraction: float) -> dict:
    topology = yaml.safe_load((ROOT / "topologies" / "edge-federated.yaml").read_text())
    topology["datacenters"]["edge"]["workers"] = clients
    spec = load_experiment({
        "name": f"scale-{clients}", "topology": topology, "dataset": {"name": "ring8", "n": 20 * clients},
        "model": "mlp2d", "algorithm": {"name": "fedavg", "client_fraction": fraction, "local_epochs": 1,
                                        "server_at": "agg"},
        "training": {"batch_size": 32}, "max_iterations": rounds, "eval_every": 10**9, "eval_samples": 100,
        "compute": {"model": "fixed", "costs": {"train_step": "50ms", "average": "1ms"}},
        "backend": backend, "executors": {"pool": 2},
    })
    with PeakRss() as rss:
        executor = make_executor(spec)
        start = time.perf_counter()
        run = Run(spec, executor, progress=False)
        run.execute()
        wall = time.perf_counter() - start
        executor.shutdown()
    per_round = max(run.iteration, 1)
    return {"clients": clients, "backend": backend, "client_fraction": fraction, "rounds": run.iteration,
            "wall_s": wall, "wall_s_per_round": wall / per_round, "virtual_s": run.virtual_time_s,
            "peak_rss_gib": rss.peak_nbytes / 2**30, "messages": len(run.engine.accountant)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--backend", choices=["ray", "inprocess"], default="ray")
    args = parser.parse_args()
    rows = []
    print(f"{'clients':>8} {'backend':<9} {'rounds':>6} {'wall s':>8} {'s/round':>8} {'peak RSS GiB':>12}")
    for clients in args.clients:
        row = measure(clients, args.rounds, args.backend, args.fraction)
        rows.append(row)
        print(f"{clients:>8} {args.backend:<9} {row['rounds']:>6} {row['wall_s']:>8.1f} "
              f"{row['wall_s_per_round']:>8.2f} {row['peak_rss_gib']:>12.2f}")
    print(f"wrote {save_result('scale', {'command': ' '.join(sys.argv), 'rows': rows})}")


if __name__ == "__main__":
    main()
