"""Write the example availability trace the beyond-anchors suite uses (topologies/traces/fleet-48.csv).

A synthetic fleet in FedScale's client behaviour trace format -- 48 clients, each online for U(2, 6) s
then offline for U(0.5, 2) s, repeating over a 60 s period, the first window starting at U(0, 1) s,
seeded -- written as FedScale's pickle and converted with the same code as ``python -m testbed data
import-trace --fedscale``.  Synthetic (nothing downloaded): FedScale's real trace spans days, far longer
than a quickstart-sized run (seconds of virtual time); this one has its on/off shape at that scale.

Usage: python scripts/make_example_trace.py [OUT.csv]
"""

from __future__ import annotations

import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.script_args import positional  # noqa: E402
from testbed.topology.fedscale_trace import down_intervals, read_fedscale, write_trace_csv  # noqa: E402


def synthetic_fleet(clients: int = 48, period_s: float = 60.0, seed: int = 26) -> dict[int, dict[str, object]]:
    """FedScale-shaped behaviour: per client, sorted ``active`` / ``inactive`` times inside one period."""
    rng = np.random.default_rng(seed)
    trace = {}
    for client in range(clients):
        active, inactive, t = [], [], float(rng.uniform(0, 1))
        while t < period_s:
            end = min(t + float(rng.uniform(2, 6)), period_s)
            active.append(t)
            inactive.append(end)
            t = end + float(rng.uniform(0.5, 2))
        trace[1000 + client] = {"active": active, "inactive": inactive, "finish_time": period_s,
                                "duration": period_s, "model": "synthetic"}
    return trace


def main() -> None:
    (given,) = positional(__doc__, "[out_csv]")
    out = Path(given) if given else ROOT / "topologies" / "traces" / "fleet-48.csv"
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "client_behave_trace"
        source.write_bytes(pickle.dumps(synthetic_fleet()))
        clients, start, end = down_intervals(read_fedscale(source), str(source))
    write_trace_csv(out, clients, start, end)
    print(f"{out}: {len(set(clients.tolist()))} clients, {start.size} down intervals")


if __name__ == "__main__":
    main()
