"""Would ``Adam(fused=True)`` pay on this CPU, and by how much does it move the values?

Issue 15 reported a D+G step of 8.79 -> 8.14 ms with fused Adam.  The testbed's default
(torch's foreach Adam) is kept because fused Adam is a different kernel: its results differ
from the default by float rounding, which would change every recorded run's values.  This
prints both the CPU time of one D+G step (ring8 mlp2d, batch 256, one thread) under each, paired
and alternated in one process, and how far the parameters drift apart after ``--steps`` steps
from the same start.

    python benchmarks/fused_adam.py [--steps 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import numpy as np  # noqa: E402
import torch  # noqa: E402

from testbed.exec.executor import set_torch_threads  # noqa: E402
from testbed.gan import GanState, d_step, flatten, g_step, get_params  # noqa: E402
from testbed.methods.common.setup import NodeSetup  # noqa: E402
from testbed.methods.common.training import Training  # noqa: E402


def state_with(fused: bool, setup: NodeSetup) -> GanState:
    state = setup.gan_state()
    t = setup.training
    for net, lr in (("G", t.lr_g), ("D", t.lr_d)):
        opt = torch.optim.Adam(getattr(state, net).parameters(), lr=lr, betas=(t.beta1, t.beta2),
                               **({"fused": True} if fused else {}))
        setattr(state, f"opt_{net.lower()}", opt)
    return state


def steps(state: GanState, x: torch.Tensor, n: int, seed: int) -> float:
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    start = time.process_time()
    for _ in range(n):
        batch = x[torch.as_tensor(rng.integers(0, len(x), size=256))]
        d_step(state, batch, generator=gen)
        g_step(state, 256, gen)
    return (time.process_time() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    set_torch_threads(1)
    setup = NodeSetup(dataset="ring8", partition="iid", num_workers=1, groups=(0,), model="mlp2d",
                      model_overrides=(), training=Training(batch_size=256, lr_g=1e-3, lr_d=1e-3), seed=0)
    x = torch.as_tensor(setup.data().x)
    per_step = {False: [], True: []}
    for _ in range(args.repeats):
        for fused in (False, True):
            per_step[fused].append(steps(state_with(fused, setup), x, 50, 1))
    ratios = [f / u for u, f in zip(per_step[False], per_step[True], strict=True)]
    print(f"D+G step CPU: foreach {1e3 * statistics.median(per_step[False]):.2f} ms, fused "
          f"{1e3 * statistics.median(per_step[True]):.2f} ms, fused/foreach {statistics.median(ratios):.3f} "
          f"(median of {args.repeats} pairs)")
    for n in (1, args.steps):
        a, b = state_with(False, setup), state_with(True, setup)  # the same seeded G and D
        steps(a, x, n, 2)
        steps(b, x, n, 2)
        va = np.concatenate([flatten(get_params(a.G)), flatten(get_params(a.D))])
        vb = np.concatenate([flatten(get_params(b.G)), flatten(get_params(b.D))])
        rel = np.abs(va - vb).max() / np.abs(va).max()
        print(f"after {n:>4} steps: max |fused - foreach| / max |param| = {rel:.2e}, "
              f"bit-identical: {np.array_equal(va, vb)}")


if __name__ == "__main__":
    main()
