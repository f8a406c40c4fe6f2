"""Train one GAN on one machine: the reference point for every distributed method.

``local`` and ``centralized`` in the design reduce to this loop, and it is how
the per-data-set defaults below were validated (ring8 reaches >= 7 of 8 modes
in well under a CPU minute).  The loop never writes files: it returns the
metrics table and the final state; the CLI decides what to save.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from testbed.data import dataset_spec, load_dataset
from testbed.gan import GanState, d_step, g_step, make_gan_state
from testbed.models import model_config
from testbed.quality import evaluate


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a local run (defaults per data-set kind in ``DEFAULTS``)."""

    model: str
    batch_size: int
    lr_g: float
    lr_d: float
    betas: tuple[float, float] = (0.5, 0.999)
    r1_gamma: float = 0.0
    d_steps: int = 1
    eval_n: int = 2000
    lr_final_fraction: float = 1.0  # learning rates decay linearly to this fraction at the last iteration


DEFAULTS: dict[str, TrainConfig] = {
    "mixture": TrainConfig(model="mlp2d", batch_size=512, lr_g=1e-3, lr_d=1e-3, r1_gamma=0.05, eval_n=2000,
                           lr_final_fraction=0.05),
    "image": TrainConfig(model="dcgan", batch_size=64, lr_g=2e-4, lr_d=2e-4, r1_gamma=0.0, eval_n=1000),
}
DEFAULTS["vector"] = DEFAULTS["mixture"]


def default_config(dataset: str, **overrides: object) -> TrainConfig:
    """The defaults for ``dataset``'s kind with ``overrides`` (None values ignored)."""
    base = DEFAULTS[dataset_spec(dataset).kind]
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


@dataclass
class TrainResult:
    """What a local run produced: per-evaluation metrics and the final GAN state."""

    metrics: pd.DataFrame
    state: GanState


def train_local(dataset: str, iterations: int, config: TrainConfig | None = None, eval_every: int = 0,
                seed: int = 0, data_dir: str | None = None, progress: bool = True) -> TrainResult:
    """Alternate ``d_steps`` D steps and one G step for ``iterations`` iterations; evaluate periodically.

    ``eval_every`` 0 evaluates only at the start and at the end.  Rows hold
    ``iteration``, ``wall_time_s``, ``cpu_time_s`` (this process), the last losses and every quality metric.
    """
    config = config or default_config(dataset)
    data = load_dataset(dataset, "train", data_dir=data_dir, seed=seed)
    state = make_gan_state(model_config(config.model), data.sample_shape, seed, lr_g=config.lr_g,
                           lr_d=config.lr_d, betas=config.betas)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_all = torch.as_tensor(data.x)
    decay = [torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 1.0 - (1.0 - config.lr_final_fraction) * min(step, iterations) / max(iterations, 1))
        for opt in (state.opt_d, state.opt_g)]
    rows: list[dict[str, float]] = []
    start, cpu_start = time.perf_counter(), time.process_time()
    losses: dict[str, float] = {}

    def log(iteration: int) -> None:
        quality = evaluate(state.G, dataset, config.eval_n, seed=seed)
        rows.append({"iteration": iteration, "wall_time_s": time.perf_counter() - start,
                     "cpu_time_s": time.process_time() - cpu_start, **losses, **quality})

    log(0)
    bar = tqdm(range(1, iterations + 1), disable=not progress, desc=f"train-local {dataset}", unit="it")
    for it in bar:
        for _ in range(config.d_steps):
            real = x_all[torch.as_tensor(rng.integers(0, len(x_all), config.batch_size))]
            losses = d_step(state, real, r1_gamma=config.r1_gamma, generator=gen)
        losses.update(g_step(state, config.batch_size, gen))
        for schedule in decay:
            schedule.step()
        if (eval_every and it % eval_every == 0) or it == iterations:
            log(it)
            bar.set_postfix({k: round(v, 3) for k, v in rows[-1].items() if k not in ("iteration",)
                             and not k.startswith("d_loss_")})
    return TrainResult(pd.DataFrame(rows), state)
