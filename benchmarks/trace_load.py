"""Do long availability traces stay cheap?  Time loading a million-interval trace and a topology using it.

Issue 26 asks that "a million intervals load in seconds".  This writes a synthetic FedScale-shaped
trace (``--clients`` clients with ``--intervals`` down intervals in all, seeded), converts it with the
same code as ``python -m testbed data import-trace --fedscale``, then times (CPU seconds, best of
``--repeats``, the per-file cache cleared each time): the CSV load and checks
(``testbed.topology.availability_trace.load_trace``), a 1,000-worker topology that names the trace,
and the first availability question to every worker (``NodeClock``: the seeded client mapping and
each worker's toggle list).

    python benchmarks/trace_load.py [--intervals 1000000] [--clients 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import numpy as np  # noqa: E402

from testbed.sim.node_clock import NodeClock  # noqa: E402
from testbed.topology import availability_trace  # noqa: E402
from testbed.topology.fedscale_trace import down_intervals, read_fedscale, write_trace_csv  # noqa: E402
from testbed.topology.schema import load_topology  # noqa: E402


def synthetic_fedscale(clients: int, intervals: int, seed: int = 0) -> dict[int, dict[str, object]]:
    """FedScale's shape: per client sorted active/inactive lists inside a 6-day period."""
    rng = np.random.default_rng(seed)
    period = 518_400.0
    per_client = max(1, intervals // clients)
    trace = {}
    for client in range(clients):
        edges = np.sort(rng.uniform(1.0, period - 1.0, 2 * per_client))
        trace[client + 1] = {"active": edges[0::2].tolist(), "inactive": edges[1::2].tolist(),
                             "finish_time": period, "duration": period, "model": "synthetic"}
    return trace


def cpu_best(fn, repeats: int) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeats):
        availability_trace._load_cached.cache_clear()
        start = time.process_time()
        value = fn()
        best = min(best, time.process_time() - start)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pkl, csv = Path(tmp) / "trace.pkl", Path(tmp) / "trace.csv"
        pkl.write_bytes(pickle.dumps(synthetic_fedscale(args.clients, args.intervals)))
        start = time.process_time()
        clients, down_start, down_end = down_intervals(read_fedscale(pkl), str(pkl))
        write_trace_csv(csv, clients, down_start, down_end)
        convert_s = time.process_time() - start
        load_s, trace = cpu_best(lambda: availability_trace.load_trace(csv, "bench", "trace"), args.repeats)
        topology = {"name": "fleet", "datacenters": {"edge": {"workers": args.workers,
                                                               "availability": {"trace": str(csv)}}}}
        topo_s, topo = cpu_best(lambda: load_topology(topology), args.repeats)

        def ask_every_worker() -> int:
            clock = NodeClock(topo, seed=0)
            return sum(clock.available(w, 3600.0) for w in topo.nodes)

        csv_mb = csv.stat().st_size / 1e6
        clock_s, up = cpu_best(lambda: (availability_trace.load_trace(csv, "bench", "trace"), ask_every_worker())[1],
                               args.repeats)
    print(f"trace: {trace.num_intervals:,} down intervals of {trace.num_clients:,} clients "
          f"({csv_mb:.0f} MB CSV)")
    print(f"convert from FedScale's pickle: {convert_s:.2f} CPU s")
    print(f"load_trace (parse + checks):    {load_s:.2f} CPU s (best of {args.repeats})")
    print(f"topology naming it ({args.workers} workers): {topo_s:.2f} CPU s")
    print(f"load + every worker's first availability question: {clock_s:.2f} CPU s ({up} of {args.workers} up at 1 h)")


if __name__ == "__main__":
    main()
