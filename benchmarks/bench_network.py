"""How fast is the flow-level network model, and does its cost per flow stay flat as flows grow?

Why this exists: docs/design.md §2 and testbed/sim/network.py claim that grouping flows by route makes an
event cost linear in the number of *active routes*, not flows, so 10,000 concurrent flows stay
cheap.  An experiment suite pushes hundreds of thousands of messages through the model, so the
claim decides whether the virtual clock or the GPUs set the pace.  This script measures it on
geo-11 (11 regions, 22 workers, 462 worker pairs = at most 462 flow classes):

* ``all-at-once``: all N flows start at t = 0 (N concurrent at the peak);
* ``poisson``: Poisson arrivals at a rate that loads the busiest directed link to ``--utilisation``
  (0.9 by default), a steady state like a long training run. On geo-11 that holds only ~60-110
  flows in flight: relayed pairs make virginia<->tokyo the bottleneck while the median WAN link is
  at a third of that load, so "hundreds" in flight would need an overload that never reaches a
  steady state (the in-flight count then grows with N).

Flows go between uniformly random distinct workers, sizes log-uniform in [10 KB, 100 MB], seeded.
The headline figure is **flows per CPU-second** (process time: on a shared machine wall time is
inflated by other work).  ``--reference`` also runs the previous implementation (kept for the tests
in ``tests/network_reference.py``) on the *same* flows in the same process, so the before -> after
ratio is paired; ``--gaia-iterations`` adds the network's share of the CPU of a short Gaia run on
geo-11 (see ``network_share.py``), for both implementations; ``--simgrid`` runs SimGrid's flow model on
the same flows, each case in a subprocess (``simgrid_flows.py``), so the ratio to SimGrid is paired too.
Run on demand (not in CI)::

    /work/main/.venv/bin/python benchmarks/bench_network.py            # N = 1k, 10k, 100k
    /work/main/.venv/bin/python benchmarks/bench_network.py --sizes 2000 --reference --repeats 3 \
        --gaia-iterations 60                                            # the before -> after table
    apt-get install python3-simgrid                                      # once, by hand (never in CI)
    /work/main/.venv/bin/python benchmarks/bench_network.py --sizes 10000 --simgrid --repeats 3   # vs SimGrid

It prints one line per case and merges each into ``benchmarks/results/bench_network.json`` as soon
as it is measured (so ``--sizes 100000 --scenarios all-at-once`` alone refreshes just that row).  Besides wall
time it records process CPU time and the 1-minute load average around each case: on a shared
machine wall time is inflated by other work, CPU time much less so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "tests"))

import network_reference  # noqa: E402
from network_share import gaia_network_share  # noqa: E402

from testbed.sim.network import FlowNetwork, simulate_flows  # noqa: E402
from testbed.topology.model import Topology  # noqa: E402
from testbed.topology.schema import load_topology  # noqa: E402

MIN_NBYTES, MAX_NBYTES = 10e3, 100e6
MEAN_NBYTES = (MAX_NBYTES - MIN_NBYTES) / math.log(MAX_NBYTES / MIN_NBYTES)  # log-uniform mean, 10.86 MB
Flow = tuple[str, str, float, float]


def random_flows(topology: Topology, n: int, rng: np.random.Generator, rate_per_s: float | None) -> list[Flow]:
    """``n`` flows between random distinct workers; all at t = 0, or Poisson at ``rate_per_s``."""
    nodes = np.array(topology.nodes)
    src = rng.integers(len(nodes), size=n)
    dst = (src + rng.integers(1, len(nodes), size=n)) % len(nodes)  # uniform over the others
    nbytes = np.exp(rng.uniform(math.log(MIN_NBYTES), math.log(MAX_NBYTES), size=n))
    start_s = np.zeros(n) if rate_per_s is None else np.cumsum(rng.exponential(1.0 / rate_per_s, size=n))
    return [(str(nodes[s]), str(nodes[d]), float(b), float(t)) for s, d, b, t in zip(src, dst, nbytes, start_s,
                                                                                       strict=True)]


def rate_for_utilisation(topology: Topology, utilisation: float) -> float:
    """Arrival rate (flows/s) that loads the busiest directed link to ``utilisation`` on average.

    Every ordered worker pair is equally likely, so a link's offered load is
    rate * mean size * (pairs whose route crosses it) / (all pairs).
    """
    nodes = topology.nodes
    crossings: Counter = Counter()
    for src in nodes:
        for dst in nodes:
            if src != dst:
                crossings.update(topology.route(src, dst).links)
    pairs = len(nodes) * (len(nodes) - 1)
    worst = max(count / pairs * MEAN_NBYTES * 8 / topology.link_capacity_bps(link)
                for link, count in crossings.items())
    return utilisation / worst


def concurrency(flows: list[Flow], arrival_s: list[float]) -> tuple[int, float]:
    """(peak, time-averaged) number of flows in flight between their start and arrival."""
    starts = np.array([f[3] for f in flows])
    ends = np.array(arrival_s)
    times = np.concatenate([starts, ends])
    deltas = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.lexsort((deltas, times))  # at equal times, ends (-1) before starts
    peak = int(np.cumsum(deltas[order]).max())
    makespan = ends.max() - starts.min()
    return peak, float((ends - starts).sum() / makespan) if makespan > 0 else float(len(flows))


def timed(simulate: Callable, topology: Topology, flows: list[Flow], seed: int,
          repeats: int) -> tuple[list[float], float, float]:
    """(arrival times, wall s, CPU s) of ``simulate`` on ``flows``; the fastest CPU of ``repeats`` runs."""
    best = (math.inf, math.inf)
    for _ in range(repeats):
        t0, cpu0 = time.perf_counter(), time.process_time()
        arrival_s = simulate(topology, flows, seed=seed)
        best = min(best, (time.process_time() - cpu0, time.perf_counter() - t0))
    return arrival_s, best[1], best[0]


def simgrid_cpu_s(topology_path: str, flows: list[Flow], repeats: int) -> tuple[float, list[float], str]:
    """(best CPU s of ``repeats`` SimGrid runs, completion times, SimGrid's version) on the same flows, each
    run in its own process (benchmarks/simgrid_flows.py; SimGrid from Debian's python3-simgrid)."""
    with tempfile.TemporaryDirectory() as tmp:
        flows_path, out_path = Path(tmp) / "flows.json", Path(tmp) / "out.json"
        flows_path.write_text(json.dumps(sorted(flows, key=lambda f: f[3])))
        best = math.inf
        for _ in range(repeats):
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / "simgrid_flows.py"), topology_path,
                            str(flows_path), str(out_path)], check=True, capture_output=True)
            out = json.loads(out_path.read_text())
            best = min(best, out["cpu_s"])
    order = sorted(range(len(flows)), key=lambda i: flows[i][3])
    finish = [0.0] * len(flows)
    for rank, i in enumerate(order):
        finish[i] = out["finish_s"][rank]
    return best, finish, out["version"]


def run_case(topology: Topology, n: int, scenario: str, seed: int, rate_per_s: float | None,
             repeats: int = 1, reference: bool = False, simgrid: str | None = None) -> dict:
    rng = np.random.default_rng(seed)
    flows = random_flows(topology, n, rng, rate_per_s)
    load_before = os.getloadavg()[0]
    extra: dict = {}
    if simgrid is not None:  # SimGrid first, then ours, on the same flows: a paired ratio
        sg_cpu_s, sg_finish, version = simgrid_cpu_s(simgrid, flows, repeats)
    arrival_s, wall_s, cpu_s = timed(simulate_flows, topology, flows, seed, repeats)
    peak, mean = concurrency(flows, arrival_s)
    if simgrid is not None:
        spans = [max(a - f[3], 1e-12) for a, f in zip(arrival_s, flows, strict=True)]
        diffs = sorted(abs(a - b) / span for a, b, span in zip(arrival_s, sg_finish, spans, strict=True))
        extra.update({"simgrid_version": version, "simgrid_cpu_s": round(sg_cpu_s, 4),
                      "simgrid_cpu_flows_per_s": round(n / sg_cpu_s, 1), "vs_simgrid": round(sg_cpu_s / cpu_s, 3),
                      "simgrid_completion_rel_diff_median": diffs[len(diffs) // 2],
                      "simgrid_completion_rel_diff_p99": diffs[int(0.99 * (len(diffs) - 1))]})
    if reference:  # the previous implementation on the same flows, same process: a paired ratio
        ref_arrival_s, _, ref_cpu_s = timed(network_reference.simulate_flows, topology, flows, seed, repeats)
        worst = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(arrival_s, ref_arrival_s, strict=True))
        extra = {"reference_cpu_s": round(ref_cpu_s, 3), "reference_cpu_flows_per_s": round(n / ref_cpu_s, 1),
                 "speedup_cpu": round(ref_cpu_s / cpu_s, 2), "max_rel_diff_vs_reference": worst}
    return {
        "scenario": scenario, "n_flows": n, "wall_s": round(wall_s, 3), "flows_per_s": round(n / wall_s, 1),
        "us_per_flow": round(wall_s / n * 1e6, 1), "cpu_s": round(cpu_s, 3),
        "cpu_flows_per_s": round(n / cpu_s, 1), "cpu_us_per_flow": round(cpu_s / n * 1e6, 1), "repeats": repeats,
        **extra,
        "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "peak_concurrency": peak, "mean_concurrency": round(mean, 1),
        "arrival_rate_per_s": None if rate_per_s is None else round(rate_per_s, 3),
        "virtual_makespan_s": round(max(arrival_s), 3),
    }


def machine_facts() -> dict:
    return {
        "cpu_count": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
    }


def _save(out: Path, topology: Topology, args: argparse.Namespace, case: dict, command: str) -> None:
    """Merge ``case`` into the results file, replacing an older figure for the same (scenario, N)."""
    old = json.loads(out.read_text()) if out.is_file() else {}
    same_setup = old.get("topology") == topology.name and old.get("utilisation") == args.utilisation
    cases = [c for c in old.get("cases", []) if same_setup
             and (c["scenario"], c["n_flows"]) != (case["scenario"], case["n_flows"])]
    cases.append(case)
    cases.sort(key=lambda c: (c["scenario"], c["n_flows"]))
    result = {"topology": topology.name, "seed": args.seed, "utilisation": args.utilisation,
              "mean_flow_nbytes": MEAN_NBYTES, "machine": machine_facts(), "last_command": command, "cases": cases}
    if "gaia_geo11_network_share" in old:
        result["gaia_geo11_network_share"] = old["gaia_geo11_network_share"]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)


def _save_gaia(out: Path, name: str, iterations: int, share: dict) -> None:
    result = json.loads(out.read_text()) if out.is_file() else {}
    result.setdefault("gaia_geo11_network_share", {})[name] = {"iterations": iterations, **share}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--topology", default=str(ROOT / "topologies" / "geo-11.yaml"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--scenarios", nargs="+", default=["all-at-once", "poisson"],
                        choices=["all-at-once", "poisson"])
    parser.add_argument("--utilisation", type=float, default=0.9, help="poisson: busiest link's mean load")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="keep the fastest CPU time of this many runs")
    parser.add_argument("--reference", action="store_true",
                        help="also time the previous implementation on the same flows (slow: ~2-5 ms/flow)")
    parser.add_argument("--simgrid", action="store_true",
                        help="also run SimGrid on the same flows (apt-get install python3-simgrid; not in CI)")
    parser.add_argument("--gaia-iterations", type=int, default=0,
                        help="also measure the network's CPU share of a Gaia run on geo-11 this long")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_network.json"))
    args = parser.parse_args(argv)

    topology = load_topology(args.topology)
    rate = rate_for_utilisation(topology, args.utilisation)
    print(f"{topology.name}: {len(topology.nodes)} workers, {len(topology.links)} links; "
          f"poisson rate {rate:.1f} flows/s (busiest link at {args.utilisation:.0%})", flush=True)
    out = Path(args.out)
    command = "python benchmarks/bench_network.py " + " ".join(argv if argv is not None else sys.argv[1:])
    for scenario in args.scenarios:
        for n in args.sizes:
            case = run_case(topology, n, scenario, args.seed, rate if scenario == "poisson" else None,
                            args.repeats, args.reference, args.topology if args.simgrid else None)
            case["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            print(f"{scenario:>11} N={n:>7,}: {case['cpu_flows_per_s']:9,.0f} flows per CPU-s "
                  f"({case['cpu_us_per_flow']:6.1f} CPU us/flow; wall {case['wall_s']:7.2f} s)  "
                  f"peak {case['peak_concurrency']:>6,} in flight (mean {case['mean_concurrency']:,.0f})", flush=True)
            if args.simgrid:
                print(f"{'':>11} SimGrid {case['simgrid_version']}: {case['simgrid_cpu_flows_per_s']:9,.0f} flows per "
                      f"CPU-s -> the testbed is {case['vs_simgrid']:.2f}x SimGrid; completion times agree to "
                      f"{case['simgrid_completion_rel_diff_median']:.1e} (median) / "
                      f"{case['simgrid_completion_rel_diff_p99']:.1e} (p99) of a flow's duration", flush=True)
            if args.reference:
                print(f"{'':>11} reference: {case['reference_cpu_flows_per_s']:9,.0f} flows per CPU-s -> "
                      f"{case['speedup_cpu']:.1f}x faster; completion times agree to "
                      f"{case['max_rel_diff_vs_reference']:.1e} relative", flush=True)
            _save(out, topology, args, case, command)  # after every case: a 10-minute run may be cut short
    if args.gaia_iterations:
        gaia_network_share(FlowNetwork, 2, args.seed)  # warm-up: first-call costs land in neither figure
        for name, network_cls in (("reference", network_reference.FlowNetwork), ("current", FlowNetwork)):
            share = gaia_network_share(network_cls, args.gaia_iterations, args.seed)
            print(f"gaia on geo-11, {args.gaia_iterations} iterations, {name} network: "
                  f"{share['network_cpu_s']:.2f} of {share['cpu_s']:.2f} CPU-s = {share['network_share']:.1%} "
                  f"({share['flows']:,} flows, {share['virtual_s']:.2f} virtual s)", flush=True)
            _save_gaia(out, name, args.gaia_iterations, share)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
