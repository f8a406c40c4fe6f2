"""Why the emulation's small steps cost several times their warm price in a run (issue 27 item 3).

A ps worker step on mlp2d is a ~3 ms torch step followed by a few hundred microseconds of Python and
numpy bookkeeping (draw a batch, cut the gradients, send five messages, the shard's Adam ...).  Timed
alone in a loop, each piece is cheap; timed inside a run it is 5-10x dearer (``GanWorker._batch``: 12 us
in a loop, 110 us per call in the overhead benchmark's ps run).  This measures the effect itself, with
nothing of the testbed in between: twelve mlp2d G/D pairs (the run's twelve workers) take turns at a
forward/backward step, and after each step one small operation is timed twice -- first (right after the
step), then again at once -- in the main thread's CPU time, ``--calls`` times each.

The "first" column minus the "again" column is what any code pays for running between two training
steps.  It depends on the machine (caches, virtualisation), not on the testbed: the figures hold for the
machine they were taken on.  The emulation runs a dozen such pieces per worker step, so on a small model
this tax, not the pieces' warm cost, is most of the "CPU beyond training compute".

    OMP_NUM_THREADS=1 python benchmarks/cold_calls.py [--calls 300]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def _workers(count: int) -> tuple[list[torch.nn.Module], list[torch.nn.Module]]:
    """``count`` mlp2d G/D pairs, as a ps run on wan-3dc hosts twelve workers."""
    from testbed.models.config import PRESETS
    from testbed.models.mlp2d import build_mlp

    pairs = [build_mlp(PRESETS.get("mlp2d"), (2,)) for _ in range(count)]
    return [g for g, _ in pairs], [d for _, d in pairs]


def probes(rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    """Small operations of the kind the emulation runs between training steps."""
    arr, tensor, data = np.ones(36_000, np.float32), torch.ones(256), torch.randn(1667, 2)
    return {
        "draw a batch (rng.integers + index_select)":
            lambda: torch.index_select(data, 0, torch.as_tensor(rng.integers(0, 1667, size=256))),
        "rng.integers(256)": lambda: rng.integers(0, 1667, size=256),
        "copy 36k floats (numpy)": lambda: arr.copy(),
        "finite check (np.dot, 36k floats)": lambda: np.dot(arr, arr),
        "torch.ones(256) * 2": lambda: tensor * 2,
        "pure Python (list of 100)": lambda: [i for i in range(100)],
    }


def measure(calls: int) -> list[dict[str, float]]:
    """Median thread-CPU microseconds of each probe right after a training step and again at once."""
    torch.set_num_threads(1)
    gs, ds = _workers(12)
    z, real = torch.randn(256, 16), torch.randn(256, 2)

    def train_step(i: int) -> None:
        g, d = gs[i % len(gs)], ds[i % len(ds)]
        loss = d(g(z)).mean() - d(real).mean()
        torch.autograd.grad(loss, [*g.parameters(), *d.parameters()])

    rows, clock = [], time.thread_time
    for i in range(24):  # warm-up: first-call costs of torch and numpy land in no figure
        train_step(i)
    for name, probe in probes(np.random.default_rng(0)).items():
        first, again = [], []
        for i in range(calls):
            train_step(i)
            t0 = clock()
            probe()
            t1 = clock()
            probe()
            t2 = clock()
            first.append(t1 - t0)
            again.append(t2 - t1)
        rows.append({"probe": name, "first_us": 1e6 * statistics.median(first),
                     "again_us": 1e6 * statistics.median(again)})
        print(f"{name:<42} right after a training step {rows[-1]['first_us']:7.1f} us   again at once "
              f"{rows[-1]['again_us']:6.1f} us   ({rows[-1]['first_us'] / rows[-1]['again_us']:.1f}x)", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="timed pairs per probe (medians reported)")
    args = parser.parse_args(argv)
    from common import save_result

    rows = measure(args.calls)
    print(f"wrote {save_result('cold_calls', {'command': ' '.join(sys.argv), 'rows': rows})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
