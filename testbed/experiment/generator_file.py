"""``generator.pt``: the trained generator(s) of a run, and the way back from that file to samples.

Why: a quality number is only trustworthy if it can be reproduced by another path.
Every run directory keeps its final generator(s) as torch ``state_dict``s
(parameters *and* BatchNorm buffers) together with what it takes to rebuild the
module -- the model preset and overrides, the data set and its sample shape, the
seed -- so ``python -m testbed sample RUN_DIR`` can draw samples from the saved
generator without the run, its executors or its evaluator, and a test can check
that those samples score the run's reported FID.  Methods with several generators
(``local``: one per site, ``gaia``: one per datacenter) save them all, by label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from testbed.core.errors import ConfigError
from testbed.core.fileio import atomic_write
from testbed.models import build_models, model_config
from testbed.quality import generate

FORMAT = "geo-gan-testbed/generator/1"
FILENAME = "generator.pt"


def save_generators(path: Path, generators: dict[str, dict[str, torch.Tensor]], *, model: str,
                    model_overrides: dict[str, Any], dataset: str, sample_shape: tuple[int, ...], seed: int,
                    eval_seed: int) -> None:
    """Write ``generators`` (label -> state_dict) and the recipe to rebuild them, atomically."""
    payload = {"format": FORMAT, "model": model, "model_overrides": dict(model_overrides), "dataset": dataset,
               "sample_shape": tuple(int(s) for s in sample_shape), "seed": int(seed), "eval_seed": int(eval_seed),
               "generators": {label: {k: v.detach().cpu() for k, v in sd.items()} for label, sd in generators.items()}}
    atomic_write(path, lambda p: torch.save(payload, p))


def load_generator_file(run_dir: Path) -> dict[str, Any]:
    """The contents of ``RUN_DIR/generator.pt``; one ConfigError line if it is missing or unreadable."""
    path = Path(run_dir) / FILENAME
    if not path.is_file():
        raise ConfigError(run_dir, "RUN_DIR", f"has no {FILENAME}",
                          "give a finished run directory (every run saves generator.pt just before summary.json)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ConfigError(path, FILENAME, f"cannot be read ({type(err).__name__})", "re-run the experiment") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(path, "format", "is not a testbed generator file", f"expected format {FORMAT!r}")
    return payload


def rebuild(payload: dict[str, Any], label: str | None = None) -> tuple[str, torch.nn.Module]:
    """(label, G) for generator ``label`` (default: the first saved), with its parameters and buffers."""
    generators = payload["generators"]
    if label is None:
        label = next(iter(generators))
    if label not in generators:
        raise ConfigError(None, "--generator", f"no generator {label!r} in this run",
                          f"use one of {sorted(generators)}")
    config = model_config(payload["model"], **payload["model_overrides"])
    generator, _ = build_models(config, tuple(payload["sample_shape"]), payload["seed"])
    generator.load_state_dict(generators[label])
    return label, generator


def sample_saved(run_dir: Path, n: int, seed: int | None = None, label: str | None = None) -> tuple[str, np.ndarray]:
    """(label, ``n`` samples) from a run's saved generator in eval mode, in the data's own shape.

    ``seed`` defaults to the seed the run's evaluator used, so the samples are the evaluator's."""
    payload = load_generator_file(run_dir)
    label, generator = rebuild(payload, label)
    return label, generate(generator, n, payload["eval_seed"] if seed is None else seed)
