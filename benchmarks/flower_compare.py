"""The testbed against Flower's simulation engine on one FedAvg-GAN workload: CPU per round and at start-up.

Why: a federated-learning study could also run on Flower's simulation engine.  The testbed's case is
that it costs no more CPU per round than Flower while also emulating the WAN, so this runs the same
rounds through both and prints the ratio (issue 15).  The workload is FL-GAN (FedAvg of G and D) on
ring8 with the mlp2d model, C = 0.5 of K clients per round, 1 local epoch, batch 256, one datacenter
(no WAN: what is compared is the orchestration around identical torch work).  Both sides do the *same*
torch work: Flower's ``NumPyClient`` wraps the testbed's own ``FedAvgClient`` (same shards, same seeded
initial G and D, same fresh Adam and local steps), and Flower's ``FedAvg`` strategy averages weighted by
n_k as the testbed's aggregator does.  The testbed runs in-process and on Ray (``executors: {pool: 2}``),
Flower on its Ray backend with one CPU per ClientApp (two at a time on this 2-CPU machine).

Flower pins its own Ray, so it lives in a separate venv (``--flower-python``).  Each side runs in its
own subprocess, which reads the CPU time (user + system) of its whole process tree -- itself, Ray's GCS,
raylet, dashboard, workers and actors, and every child they reaped -- from ``/proc`` after every round
(Flower: in its strategy's ``aggregate_fit``; the testbed: after the round's ``complete_iteration`` and an
executor barrier).  Per round = (after the last round - after the first) / (R - 1), so the start-up's
large run-to-run noise (Ray's start) cancels; start-up = after the first round - one round (the
interpreter, imports, Ray's start, first model builds, the testbed's initial evaluation of 100 samples).
The machine may be shared: CPU times, not wall times, are what count.  Both sides must train: each
reports the mean absolute change of the global G's parameters (and a run that did not is an error).

    python benchmarks/flower_compare.py --flower-python /tmp/flwr-venv/bin/python [--clients 12 100] [--rounds 6]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIDES = ("testbed-inprocess", "testbed-ray", "flower")
SKIP_LINE = ("flwr not installed: pip install 'flwr[simulation]' into a separate venv and pass --flower-python "
             "(see benchmarks/README.md)")
CLIENT_FRACTION, LOCAL_EPOCHS, BATCH_SIZE = 0.5, 1, 256
CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_tree(root_pid: int | None = None) -> dict[int, int]:
    """CPU clock ticks (utime + stime + cutime + cstime) of ``root_pid`` (default: this process) and each of
    its live descendants, by pid, from ``/proc/<pid>/stat``: a reaped child's time is in its parent's cutime."""
    root = os.getpid() if root_pid is None else root_pid
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])  # fields[0] is the state, [1] the ppid, [11:15] the four times
        ticks[int(entry)] = sum(int(x) for x in fields[11:15])
    members, frontier = {root}, {root}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier and p not in members}
        members |= frontier
    return {p: ticks[p] for p in members if p in ticks}


def tree_cpu_s() -> float:
    """User + system CPU seconds of this process's whole tree (Ray's processes included)."""
    return sum(process_tree().values()) / CLK_TCK


def experiment(clients: int, rounds: int, backend: str) -> dict[str, Any]:
    """The testbed experiment both sides build their clients from (Flower uses only its NodeSetup)."""
    return {"name": f"flower-compare-k{clients}", "topology": {"datacenters": {"dc": {"workers": clients}}},
            "dataset": "ring8", "partition": "iid", "model": "mlp2d", "seed": 0,
            "algorithm": {"name": "fedavg", "client_fraction": CLIENT_FRACTION, "local_epochs": LOCAL_EPOCHS,
                          "server_at": "dc"},
            "training": {"batch_size": BATCH_SIZE}, "max_iterations": rounds, "eval_every": 10**9,
            "eval_samples": 100, "compute": {"model": "fixed", "costs": {"train_step": "10ms", "average": "1ms"}},
            "backend": backend, "executors": {"pool": 2} if backend == "ray" else "per_datacenter"}


def g_change(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> float:
    """Mean absolute change of G's parameters: > 0 means the side really trained."""
    diffs = [np.abs(np.asarray(after[k], dtype=np.float64) - before[k]).ravel() for k in before]
    return float(np.concatenate(diffs).mean())


def run_testbed(clients: int, rounds: int, backend: str) -> dict[str, Any]:
    """The testbed's run API (Run.execute on the executor make_executor picks), a CPU mark after every round.

    On Ray the engine runs ahead of the actors (results are futures), so each mark first waits for the
    executor's barrier: the mark then includes that round's training (in-process calls are synchronous)."""
    from testbed.exec.executor import set_torch_threads
    from testbed.experiment.launch import make_executor
    from testbed.experiment.run import Run
    from testbed.experiment.spec import load_experiment

    class MarkedRun(Run):
        marks: list[float]

        def complete_iteration(self) -> None:
            super().complete_iteration()
            self.executor.barrier()
            self.marks.append(tree_cpu_s())

    set_torch_threads(1)
    spec = load_experiment(experiment(clients, rounds, backend))
    executor = make_executor(spec)
    try:
        run = MarkedRun(spec, executor, progress=False)
        run.marks = []
        initial = {k: v.detach().numpy().copy() for k, v in run.setup.gan_state().G.named_parameters()}
        run.execute()
        processes = len(process_tree())
    finally:
        executor.shutdown()
    final = {k.removeprefix("params."): v for k, v in next(iter(run.generators.values())).items()}
    return {"marks_cpu_s": run.marks, "g_change": g_change(initial, {k: final[k].numpy() for k in initial}),
            "rounds": run.iteration, "processes": processes}


def run_flower(clients: int, rounds: int) -> dict[str, Any]:
    """Flower's simulation engine (run_simulation, Ray backend); ClientApps wrap the testbed's FedAvgClient."""
    import flwr
    import torch
    from flwr.client import ClientApp, NumPyClient
    from flwr.common import Context, FitRes, Parameters, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server import ServerApp, ServerAppComponents, ServerConfig
    from flwr.server.client_proxy import ClientProxy
    from flwr.server.strategy import FedAvg
    from flwr.simulation import run_simulation

    from testbed.exec.executor import InProcessExecutor
    from testbed.experiment.run import Run
    from testbed.experiment.spec import load_experiment
    from testbed.methods.fedavg.state import FedAvgClient

    setup = Run(load_experiment(experiment(clients, rounds, "inprocess")), InProcessExecutor(), progress=False).setup
    state = setup.gan_state()
    g0 = {"params": {k: v.detach().numpy().copy() for k, v in state.G.named_parameters()},
          "buffers": {k: v.numpy().copy() for k, v in state.G.named_buffers() if v.is_floating_point()}}
    d0 = {k: v.detach().numpy().copy() for k, v in state.D.named_parameters()}
    layout = [("g_params", k) for k in sorted(g0["params"])] + [("g_buffers", k) for k in sorted(g0["buffers"])]
    layout += [("d", k) for k in sorted(d0)]

    def flatten(g: dict[str, dict[str, np.ndarray]], d: dict[str, np.ndarray]) -> list[np.ndarray]:
        parts = {"g_params": g["params"], "g_buffers": g["buffers"], "d": d}
        return [np.asarray(parts[part][key]) for part, key in layout]

    def unflatten(arrays: list[np.ndarray]) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
        parts: dict[str, dict[str, np.ndarray]] = {"g_params": {}, "g_buffers": {}, "d": {}}
        for (part, key), array in zip(layout, arrays, strict=True):
            parts[part][key] = array
        return {"params": parts["g_params"], "buffers": parts["g_buffers"]}, parts["d"]

    # Flower pickles the ClientApp into every message, so this cache lives one message long: each fit rebuilds
    # its FedAvgClient (0.2 ms of CPU; data, shards and scratch models stay cached per actor process).
    workers: dict[int, FedAvgClient] = {}

    class GanClient(NumPyClient):
        def __init__(self, worker: FedAvgClient) -> None:
            self.worker = worker

        def fit(self, parameters: list[np.ndarray], config: dict[str, Any]) -> tuple[list[np.ndarray], int, dict]:
            g, d = unflatten(parameters)
            g_new, d_new = self.worker.fedavg_round(g, d, LOCAL_EPOCHS, BATCH_SIZE, 1.0)
            return flatten(g_new, d_new), self.worker.num_samples(), {}

    def client_fn(context: Context) -> Any:
        torch.set_num_threads(1)
        index = int(context.node_config["partition-id"])
        if index not in workers:
            workers[index] = FedAvgClient(setup, index)
        return GanClient(workers[index]).to_client()

    marks: list[float] = []
    final: list[np.ndarray] = []
    processes: list[int] = [0]

    class MarkedFedAvg(FedAvg):
        def aggregate_fit(self, server_round: int, results: list[tuple[ClientProxy, FitRes]],
                          failures: list[Any]) -> tuple[Parameters | None, dict[str, Any]]:
            if failures:
                raise RuntimeError(f"flower round {server_round}: {len(failures)} clients failed: {failures[:1]}")
            aggregated, metrics = super().aggregate_fit(server_round, results, failures)
            final[:] = parameters_to_ndarrays(aggregated)
            marks.append(tree_cpu_s())
            processes[:] = [len(process_tree())]
            return aggregated, metrics

    def server_fn(context: Context) -> ServerAppComponents:
        strategy = MarkedFedAvg(fraction_fit=CLIENT_FRACTION, fraction_evaluate=0.0, min_fit_clients=1,
                                min_evaluate_clients=0, min_available_clients=clients,
                                initial_parameters=ndarrays_to_parameters(flatten(g0, d0)))
        return ServerAppComponents(strategy=strategy, config=ServerConfig(num_rounds=rounds))

    run_simulation(server_app=ServerApp(server_fn=server_fn), client_app=ClientApp(client_fn=client_fn),
                   num_supernodes=clients,
                   backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                                   "init_args": {"num_cpus": 2, "include_dashboard": False}})
    if len(marks) != rounds:
        raise RuntimeError(f"flower ran {len(marks)} of {rounds} rounds")
    g_final, _ = unflatten(final)
    return {"marks_cpu_s": marks, "g_change": g_change(g0["params"], g_final["params"]),
            "rounds": len(marks),
            "processes": processes[0], "flwr": flwr.__version__}


def worker_main(side: str, clients: int, rounds: int) -> None:
    """One side in this (sub)process; prints ``RESULT {json}`` as its last line."""
    if side == "flower":
        result = run_flower(clients, rounds)
    else:
        result = run_testbed(clients, rounds, side.removeprefix("testbed-"))
    print("RESULT " + json.dumps(result), flush=True)


def run_once(python: str, side: str, clients: int, rounds: int) -> dict[str, Any]:
    """One side for ``rounds`` rounds in a subprocess; its result, wall seconds and reaped-children CPU."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "FLWR_TELEMETRY_ENABLED": "0"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([python, str(Path(__file__).resolve()), "--worker", side, "--clients", str(clients),
                           "--rounds", str(rounds)], capture_output=True, text=True, env=env, check=False)
    wall_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-1500:]
        raise RuntimeError(f"{side} at K={clients}, {rounds} rounds failed (exit {proc.returncode}):\n{tail}")
    result = json.loads(lines[-1].removeprefix("RESULT "))
    if result["rounds"] != rounds or len(result["marks_cpu_s"]) != rounds or not result["g_change"] > 0:
        raise RuntimeError(f"{side} at K={clients} did not train: {result}")
    return {**result, "wall_s": wall_s,
            "reaped_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)}


def run_side(python: str, side: str, clients: int, rounds: int) -> dict[str, Any]:
    """Per round = (mark after the last round - after the first) / (R - 1); start-up = the first mark - one round."""
    result = run_once(python, side, clients, rounds)
    marks = result.pop("marks_cpu_s")
    per_round = (marks[-1] - marks[0]) / (len(marks) - 1)
    return {"side": side, "clients": clients, **result, "per_round_cpu_s": per_round,
            "startup_cpu_s": marks[0] - per_round, "round_marks_cpu_s": marks}


def flower_available(python: str) -> str | None:
    """Flower's version under ``python``, or None when it cannot import flwr (or the interpreter is missing)."""
    try:
        proc = subprocess.run([python, "-c", "import flwr.simulation, flwr; print(flwr.__version__)"],
                              capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flower-python", default=os.environ.get("FLOWER_PYTHON", "/tmp/flwr-venv/bin/python"),
                        help="an interpreter with flwr[simulation] (and torch, numpy) installed")
    parser.add_argument("--clients", type=int, nargs="+", default=[12, 100])
    parser.add_argument("--rounds", type=int, default=6, help="rounds per run (>= 2; per round uses the last R-1)")
    parser.add_argument("--repeats", type=int, default=1, help="paired repeats; the median is reported")
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    parser.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker, args.clients[0], args.rounds)
        return
    if args.rounds < 2:
        parser.error("--rounds must be >= 2 (per round is a difference of marks)")
    flwr_version = flower_available(args.flower_python) if "flower" in args.sides else "not run"
    if flwr_version is None:
        print(SKIP_LINE)
        return
    rows: list[dict[str, Any]] = []
    for clients in args.clients:
        for repeat in range(args.repeats):
            for side in args.sides:  # paired: the sides alternate within each repeat
                python = args.flower_python if side == "flower" else sys.executable
                row = run_side(python, side, clients, args.rounds)
                rows.append({**row, "repeat": repeat})
                print(f"K={clients:4d} {side:18s} per round {row['per_round_cpu_s']:7.3f} CPU-s  start-up "
                      f"{row['startup_cpu_s']:6.2f} CPU-s  G change {row['g_change']:.2e}  "
                      f"({row['processes']} processes, {row['wall_s']:.0f} s wall)", flush=True)
    summary = summarise(rows, args.clients, args.sides)
    from common import save_result

    path = save_result("flower_compare", {"flwr": flwr_version, "rounds": args.rounds, "repeats": args.repeats,
                                          "workload": {"dataset": "ring8", "model": "mlp2d", "C": CLIENT_FRACTION,
                                                       "E": LOCAL_EPOCHS, "B": BATCH_SIZE},
                                          "summary": summary, "runs": rows})
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} CPUs; flwr {flwr_version}; {path}")


def summarise(rows: list[dict[str, Any]], clients_list: list[int], sides: list[str]) -> list[dict[str, Any]]:
    """Median (and range over repeats of) per-round and start-up CPU per (K, side), and flower / testbed
    ratios of the medians; prints the ratios."""
    summary = []
    for clients in clients_list:
        cell: dict[str, Any] = {"clients": clients}
        for side in sides:
            mine = [r for r in rows if r["clients"] == clients and r["side"] == side]
            cell[f"{side}_per_round_cpu_s"] = statistics.median(r["per_round_cpu_s"] for r in mine)
            cell[f"{side}_per_round_range_cpu_s"] = [min(r["per_round_cpu_s"] for r in mine),
                                                     max(r["per_round_cpu_s"] for r in mine)]
            cell[f"{side}_startup_cpu_s"] = statistics.median(r["startup_cpu_s"] for r in mine)
        if "flower" in sides:
            for side in sides:
                if side != "flower":
                    cell[f"flower_over_{side}"] = cell["flower_per_round_cpu_s"] / cell[f"{side}_per_round_cpu_s"]
        summary.append(cell)
        ratios = "  ".join(f"{k.removeprefix('flower_over_')}: flower/testbed {v:.2f}x"
                           for k, v in cell.items() if k.startswith("flower_over_"))
        print(f"K={clients}: {ratios}")
    return summary


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
    main()
