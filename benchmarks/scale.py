"""Scale: FedAvg on a population of 10^4-10^6 clients, per round against bare torch doing the same steps.

Why: cross-device federated studies need 10^5-10^6 clients (issue 27).  A client population
(``workers: {count: N}``, testbed.topology.population) must cost memory only for the clients that train,
and a round must cost about what its training costs.  This measures, in one process (in-process executor,
one torch thread), FedAvg on ``edge-federated`` with its ``edge`` datacenter as a population of N clients
(ring8, mlp2d, 20 samples per client, batch 32: one local step per client; ``compute: fixed``):

* **s / round**: CPU seconds (process time) and wall seconds per round, from the second round on (the
  first pays warm-up and the initial evaluation); set-up (topology, data, partition, hosting) apart;
* **peak RSS** of the whole process tree (benchmarks/common.PeakRss);
* **ratio to bare torch**: the round's CPU over the CPU of the *same* local training written as plain torch
  in the same process -- for each client of a round: load the global G and D into one model pair, fresh
  ``torch.optim.Adam``s, its local steps (a D step and a G step each, the testbed's own losses and batch
  size, on its own shard), read both nets out as numpy -- i.e. what any simulator must do per client.

``--method fedbuff`` runs FedBuff instead (``--concurrency`` C clients training at once, ``--buffer`` K
updates per server step): a "round" is then one server update, and its torch comparison trains the K
clients of the last buffer -- the clients whose training one update waits for on average.

``--method hierfavg`` runs HierFAVG with kappa_1 = kappa_2 = 1 and ``--fractions`` as its edges' client
fraction: a round is one cloud round, its torch comparison the clients the last edge to finish averaged (the
population edge's; ``agg``'s edge has one client).

``--batch`` runs the same with ``executors: {batch: true}`` (batched FedAvg rounds, testbed.exec.batching);
``--listed`` writes ``workers: N`` instead of a population, which is what a checkout from before populations
can run (copy this file into its ``benchmarks/`` and run it there: the "before" column).
Results go to ``benchmarks/results/scale.json``; the table is in benchmarks/README.md.

    python benchmarks/scale.py --clients 10000 100000 1000000 --fractions 0.1 0.1 0.01 --rounds 3
    python benchmarks/scale.py --method fedbuff --clients 100000 --concurrency 1000 --buffer 100 --rounds 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import PeakRss, save_result  # noqa: E402

from testbed.exec.batching import in_process_executor  # noqa: E402
from testbed.experiment.run import Run  # noqa: E402
from testbed.experiment.spec import load_experiment  # noqa: E402
from testbed.gan.losses import d_fake_loss, d_real_loss, g_loss  # noqa: E402
from testbed.methods.common.setup import NodeSetup  # noqa: E402
from testbed.methods.fedavg.state import local_steps  # noqa: E402

SAMPLES_PER_CLIENT = 20


def algorithm(method: str, fraction: float, concurrency: int, buffer: int) -> dict:
    """The ``algorithm:`` block: FedAvg with C = ``fraction``, or FedBuff with ``concurrency`` and ``buffer``."""
    if method == "fedbuff":
        return {"name": "fedbuff", "concurrency": concurrency, "buffer": buffer, "local_epochs": 1, "server_at": "agg"}
    if method == "hierfavg":  # one local step per edge round (kappa_1 = 1), one edge round per cloud round
        return {"name": "hierfavg", "edge_every": 1, "cloud_every": 1, "client_fraction": fraction, "server_at": "agg"}
    return {"name": "fedavg", "client_fraction": fraction, "local_epochs": 1, "server_at": "agg"}


def experiment(clients: int, rounds: int, fraction: float, batch: bool, listed: bool = False,
               method: str = "fedavg", concurrency: int = 1000, buffer: int = 100) -> dict:
    topology = yaml.safe_load((ROOT / "topologies" / "edge-federated.yaml").read_text())
    topology["datacenters"]["edge"]["workers"] = clients if listed else {"count": clients}
    return {
        "name": f"scale-{clients}", "topology": topology,
        "dataset": {"name": "ring8", "n": SAMPLES_PER_CLIENT * clients}, "model": "mlp2d",
        "algorithm": algorithm(method, fraction, concurrency, buffer),
        "training": {"batch_size": 32}, "max_iterations": rounds, "eval_every": 10**9, "eval_samples": 100,
        "compute": {"model": "fixed", "costs": {"train_step": "50ms", "average": "1ms"}},
        "executors": {"batch": batch},
    }


def bare_torch_cpu_s(setup: NodeSetup, clients: list[int], epochs: float, batch_size: int) -> float:
    """CPU seconds of the clients' local training as plain torch (module docstring), same process."""
    state = setup.gan_state("cpu")
    G, D = state.G, state.D  # noqa: N806
    g0 = [p.detach().clone() for p in G.parameters()]
    d0 = [p.detach().clone() for p in D.parameters()]
    t = setup.training
    data = torch.as_tensor(setup.data().x)
    gen, rng = torch.Generator().manual_seed(0), np.random.default_rng(0)
    start = time.process_time()
    for index in clients:
        shard = data[torch.as_tensor(setup.shard(index))]
        with torch.no_grad():
            torch._foreach_copy_(list(G.parameters()), g0)
            torch._foreach_copy_(list(D.parameters()), d0)
        opt_g = torch.optim.Adam(G.parameters(), lr=t.lr_g, betas=(t.beta1, t.beta2))
        opt_d = torch.optim.Adam(D.parameters(), lr=t.lr_d, betas=(t.beta1, t.beta2))
        for _ in range(local_steps(len(shard), epochs, batch_size)):
            real = shard[torch.as_tensor(rng.integers(0, len(shard), size=min(t.batch_size, len(shard))))]
            with torch.no_grad():
                fake = G(torch.randn(len(real), state.latent_dim, generator=gen))
            loss_d = d_real_loss(D, real) + d_fake_loss(D, fake)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward(inputs=list(D.parameters()))
            opt_d.step()
            loss = g_loss(D, G(torch.randn(t.batch_size, state.latent_dim, generator=gen)))
            opt_g.zero_grad(set_to_none=True)
            loss.backward(inputs=list(G.parameters()))
            opt_g.step()
        [p.detach().numpy().copy() for p in (*G.parameters(), *D.parameters())]
    return time.process_time() - start


def measure(clients: int, rounds: int, fraction: float, batch: bool, listed: bool = False, method: str = "fedavg",
            concurrency: int = 1000, buffer: int = 100) -> dict:
    marks: list[tuple[float, float]] = []
    with PeakRss(include_ray=False) as rss:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        spec = load_experiment(experiment(clients, rounds, fraction, batch, listed, method, concurrency, buffer))
        run = Run(spec, in_process_executor(spec.executors, 1), progress=False)
        complete = run.complete_iteration

        def marked() -> None:
            complete()
            run.executor.barrier()  # batched rounds run when their values are needed: count them in their round
            marks.append((time.process_time(), time.perf_counter()))

        run.complete_iteration = marked  # type: ignore[method-assign]
        original_setup = run.algorithm.setup

        def timed_setup() -> None:
            original_setup()
            marks.append((time.process_time(), time.perf_counter()))

        run.algorithm.setup = timed_setup  # type: ignore[method-assign]
        run.execute()
        cpu_total, wall_total = time.process_time() - cpu0, time.perf_counter() - wall0
    setup_cpu, setup_wall = marks[0][0] - cpu0, marks[0][1] - wall0
    rounds_marks = marks[1:]
    n = len(rounds_marks) - 1
    cpu_round = (rounds_marks[-1][0] - rounds_marks[0][0]) / n
    wall_round = (rounds_marks[-1][1] - rounds_marks[0][1]) / n
    plan = run.algorithm.plan
    index = {w: i for i, w in enumerate(spec.topology.nodes)} if listed else None  # a checkout before populations
    chosen = [index[c] if index else spec.topology.index_of_worker(c) for c in plan.last_clients]
    epochs = getattr(plan, "local_epochs", 1.0)  # hierfavg: kappa_1 = 1 step, as one epoch of one batch here
    torch_s = bare_torch_cpu_s(run.setup, chosen, epochs, plan.batch_size)
    return {"method": method, "clients": clients, "listed": listed,
            "client_fraction": fraction if method != "fedbuff" else None,
            "clients_per_round": len(chosen), **({"concurrency": concurrency, "buffer": buffer}
                                                 if method == "fedbuff" else {}),
            "batch": batch,
            "rounds": run.iteration, "setup_cpu_s": setup_cpu, "setup_wall_s": setup_wall,
            "cpu_s_per_round": cpu_round, "wall_s_per_round": wall_round, "total_cpu_s": cpu_total,
            "total_wall_s": wall_total, "bare_torch_cpu_s_per_round": torch_s, "ratio_to_torch": cpu_round / torch_s,
            "peak_rss_gib": rss.peak_nbytes / 2**30, "messages": len(run.engine.accountant),
            "virtual_s": run.virtual_time_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.1, 0.01],
                        help="client fraction C for each --clients entry (one value: all)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", action="store_true", help="executors: {batch: true}")
    parser.add_argument("--listed", action="store_true",
                        help="workers: N (listed) instead of a population: what a checkout before populations runs")
    parser.add_argument("--method", choices=["fedavg", "fedbuff", "hierfavg"], default="fedavg",
                        help="fedbuff: a round is one server update (--rounds of them), its clients the buffer's K; "
                             "hierfavg: a round is one cloud round of one edge round, C the edges' client fraction")
    parser.add_argument("--concurrency", type=int, default=1000, help="fedbuff's C (clients training at once)")
    parser.add_argument("--buffer", type=int, default=100, help="fedbuff's K (updates per server step)")
    parser.add_argument("--out", default="scale", help="name of the json under results/ (.json added)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    fractions = args.fractions * len(args.clients) if len(args.fractions) == 1 else args.fractions
    if args.method == "fedbuff":  # no client fraction: C is the concurrency
        fractions = [args.concurrency] * len(args.clients)
    rows = []
    print(f"{'clients':>9} {'C':>5} {'per round':>9} {'batch':>5} {'setup CPU s':>11} {'CPU s/round':>11} "
          f"{'wall s/round':>12} {'torch s':>8} {'ratio':>6} {'peak RSS GiB':>12}", flush=True)
    for clients, fraction in zip(args.clients, fractions, strict=True):
        row = measure(clients, args.rounds, fraction, args.batch, args.listed, args.method, args.concurrency,
                      args.buffer)
        rows.append(row)
        print(f"{clients:>9} {fraction:>5g} {row['clients_per_round']:>9} {args.batch!s:>5} "
              f"{row['setup_cpu_s']:>11.1f} {row['cpu_s_per_round']:>11.2f} {row['wall_s_per_round']:>12.2f} "
              f"{row['bare_torch_cpu_s_per_round']:>8.2f} {row['ratio_to_torch']:>6.2f} {row['peak_rss_gib']:>12.2f}",
              flush=True)
        path = save_result(args.out, {"command": " ".join(sys.argv), "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
