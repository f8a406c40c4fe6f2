"""Does the testbed train on a GPU as it should?  One command, a few minutes on a CUDA machine.

It prints, on the digits DCGAN (convolutions and BatchNorm) with the in-process executor on CUDA
(no Ray: the GPU image has torch, not Ray):

1. the device the run recorded (``devices`` in summary.json: ``cuda:N`` and the card's name);
2. bare torch: D+G steps per second of a plain training loop on the same model and batch size;
3. per method: G and D optimiser steps per second of training wall time, and that against bare torch
   (the testbed's overhead per step on this card);
4. batched against unbatched logical workers (``executors: {batch: true}``) for ``local`` and ``ps``;
5. how far 20 CUDA steps land from 20 CPU steps: the same model, batches and noise (drawn on the CPU,
   copied to the card), max |param difference| and the largest relative one.

    python benchmarks/gpu_check.py [--iterations 40] [--device cuda]

On a machine without CUDA it prints one line saying so and exits 0.  ``--device cpu`` runs the same
checks on the CPU (to try the script itself; the CPU-vs-CUDA part is then trivially 0).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import numpy as np  # noqa: E402
import torch  # noqa: E402

MODEL = {"name": "dcgan", "channels": 32, "latent_dim": 64}
BATCH = 64
METHODS: dict[str, Any] = {
    "local": "local",
    "centralized": {"name": "centralized", "server_at": "a"},
    "ps": {"name": "ps", "server_at": "a"},
    "fedavg": {"name": "fedavg", "local_epochs": 0.5, "server_at": "a"},
    "fedsgd": {"name": "fedsgd", "server_at": "a"},
    "mdgan": {"name": "mdgan", "server_at": "a"},
    "gaia": {"name": "gaia", "threshold": 0.05, "decay": False},
    "sqm": {"name": "sqm", "server_at": "a"},
}


def experiment(algorithm: Any, iterations: int, batch: bool = False, workers: tuple[int, int] = (2, 2)) -> dict:
    """digits on the DCGAN, two datacenters on a WAN, fixed compute costs (virtual time is not the point)."""
    return {
        "name": "gpu-check",
        "topology": {"name": "two", "lan": {"bandwidth": "10Gbps", "latency": "0.1ms"},
                     "datacenters": {"a": {"workers": workers[0]}, "b": {"workers": workers[1]}},
                     "links": [{"between": ["a", "b"], "bandwidth": "1Gbps", "latency": "20ms"}]},
        "dataset": {"name": "digits", "n": 1500}, "partition": "iid", "model": MODEL, "algorithm": algorithm,
        "training": {"batch_size": BATCH, "lr_g": 2e-3, "lr_d": 2e-3},
        "max_iterations": iterations, "eval_every": 10**6, "eval_samples": 200, "seed": 0,
        "compute": {"model": "fixed", "default": "1ms"}, "executors": {"batch": batch},
    }


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bare_torch(device: str, steps: int, inputs: list[tuple[torch.Tensor, ...]] | None = None) -> tuple[float, Any]:
    """D+G steps per second of a plain torch loop on the model (and its final G, D); ``inputs``: the
    (real, z_d, z_g) batches to use, drawn on the CPU (else random ones)."""
    from testbed.data import load_dataset
    from testbed.gan.losses import d_fake_loss, d_real_objective, g_loss
    from testbed.models import build_models, model_config

    data = load_dataset("digits", n=1500)
    config = model_config(MODEL["name"], **{k: v for k, v in MODEL.items() if k != "name"})
    g, d = build_models(config, data.sample_shape, seed=0)
    g, d = g.to(device), d.to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
    x = torch.as_tensor(data.x, dtype=torch.float32)
    rng = np.random.default_rng(0)
    gen = torch.Generator().manual_seed(0)
    if inputs is None:
        inputs = [(x[rng.integers(0, len(x), BATCH)], torch.randn(BATCH, config.latent_dim, generator=gen),
                   torch.randn(BATCH, config.latent_dim, generator=gen)) for _ in range(steps)]
    moved = [tuple(t.to(device) for t in batch) for batch in inputs]
    sync(device)
    start = time.perf_counter()
    for real, z_d, z_g in moved:
        with torch.no_grad():
            fake = g(z_d)
        loss_real, penalty = d_real_objective(d, real, 0.0)
        opt_d.zero_grad(set_to_none=True)
        (loss_real + d_fake_loss(d, fake) + penalty).backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        g_loss(d, g(z_g)).backward()
        opt_g.step()
    sync(device)
    return len(moved) / (time.perf_counter() - start), (g, d, inputs)


def method_rate(algorithm: Any, iterations: int, device: str, batch: bool = False,
                workers: tuple[int, int] = (2, 2)) -> tuple[float, float, Any]:
    """(G steps/s, D steps/s) of training wall time for one method on ``device``, and its Run."""
    from testbed.exec.batching import BatchingExecutor
    from testbed.exec.executor import InProcessExecutor
    from testbed.experiment.run import Run
    from testbed.experiment.spec import load_experiment

    executor = (BatchingExecutor if batch else InProcessExecutor)(device=device, torch_threads=1)
    run = Run(load_experiment(experiment(algorithm, iterations, batch, workers)), executor, progress=False)
    run.execute()
    footing = run.algorithm.footing()
    wall = max(run.train_wall_s, 1e-9)
    return (footing["g_steps_per_iteration"] * run.iteration / wall,
            footing["d_steps_per_iteration"] * run.iteration / wall, run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=40, help="iterations per method run")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device on this machine (torch {torch.__version__}, "
              f"torch.cuda.is_available() is False): nothing to check")
        return 0
    started = time.perf_counter()
    device = args.device
    torch.set_num_threads(1)  # what the in-process executor pins: the bare loop gets the same CPU share
    torch.manual_seed(0)
    print(f"gpu_check on {device}: torch {torch.__version__}, digits DCGAN {MODEL}, batch {BATCH}, "
          f"{args.iterations} iterations per method; 'ray' imported: {'ray' in sys.modules}")

    bare_rate, _ = bare_torch(device, 10)  # warm-up
    bare_rate, _ = bare_torch(device, 100)
    print(f"\nbare torch: {bare_rate:.1f} D+G steps/s")

    print("\n| method | device recorded | G steps/s | D steps/s | G steps/s vs bare torch |")
    print("|---|---|---|---|---|")
    for name, algorithm in METHODS.items():
        g_rate, d_rate, run = method_rate(algorithm, args.iterations, device)
        where = ", ".join(f"{v['device']}{' (' + v['name'] + ')' if 'name' in v else ''}"
                          for v in run.devices.values())
        print(f"| {name} | {where} | {g_rate:.1f} | {d_rate:.1f} | {g_rate / bare_rate:.2f}x |", flush=True)

    print("\n| method, 8 workers | unbatched G steps/s | batched G steps/s | batched / unbatched |")
    print("|---|---|---|---|")
    for name in ("local", "ps"):
        plain, _, _ = method_rate(METHODS[name], args.iterations, device, batch=False, workers=(4, 4))
        stacked, _, _ = method_rate(METHODS[name], args.iterations, device, batch=True, workers=(4, 4))
        print(f"| {name} | {plain:.1f} | {stacked:.1f} | {stacked / plain:.2f}x |", flush=True)

    _, (g_dev, d_dev, inputs) = bare_torch(device, 20)
    _, (g_cpu, d_cpu, _) = bare_torch("cpu", 20, inputs)
    worst_abs = worst_rel = 0.0
    for dev_net, cpu_net in ((g_dev, g_cpu), (d_dev, d_cpu)):
        for a, b in zip(dev_net.state_dict().values(), cpu_net.state_dict().values(), strict=True):
            if a.is_floating_point():
                diff = (a.detach().cpu().double() - b.detach().double()).abs()
                worst_abs = max(worst_abs, float(diff.max()))
                worst_rel = max(worst_rel, float((diff / b.detach().double().abs().clamp_min(1e-6)).max()))
    print(f"\n20 steps on {device} vs 20 on the CPU (same model, batches and noise): max |param diff| "
          f"{worst_abs:.3g}, max relative {worst_rel:.3g}")
    print(f"\ngpu_check: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
