"""``generator.pt``: the trained generator(s) of a run, and the way back from that file to samples.

Why: a quality number is only trustworthy if it can be reproduced by another path.
Every run directory keeps its final generator(s) as torch ``state_dict``s
(parameters *and* BatchNorm buffers) together with what it takes to rebuild the
module -- the model preset and overrides, the data set and its sample shape, the
seed -- so ``python -m testbed sample RUN_DIR`` can draw samples from the saved
generator without the run, its executors or its evaluator, and a test can check
that those samples score the run's reported FID.  Methods with several generators
(``local``: one per site, ``gaia``: one per datacenter) save them all, by label.  Reading it back
checks its shape (each field's type, weights that fit the saved recipe) and refuses a generator
holding NaN or infinity (a run that diverged): each is one ConfigError line naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from testbed.core.errors import ConfigError
from testbed.core.fileio import atomic_write
from testbed.core.finite import first_non_finite
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
    """The contents of ``RUN_DIR/generator.pt``, its shape checked; one ConfigError line if it is missing,
    unreadable or not what :func:`save_generators` writes."""
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
    _check_shape(payload, path)
    payload["source"] = str(path)
    return payload


def _check_shape(payload: dict[str, Any], path: Path) -> None:
    """Every field :func:`rebuild` reads, with the type it needs (a hand-edited or foreign file is one line)."""
    shape = payload.get("sample_shape")
    checks = {
        "model": isinstance(payload.get("model"), str),
        "model_overrides": isinstance(payload.get("model_overrides"), dict),
        "sample_shape": isinstance(shape, (list, tuple)) and bool(shape)
        and all(isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 4096 for d in shape),
        "seed": isinstance(payload.get("seed"), int), "eval_seed": isinstance(payload.get("eval_seed"), int),
        "generators": isinstance(payload.get("generators"), dict) and bool(payload["generators"])
        and all(isinstance(sd, dict) and all(isinstance(v, torch.Tensor) for v in sd.values())
                for sd in payload["generators"].values()),
    }
    for key, ok in checks.items():
        if not ok:
            value = payload.get(key)
            problem = ("is empty" if value in ({}, [], ())
                       else f"is missing or of the wrong type ({type(value).__name__})")
            raise ConfigError(path, key, problem,
                              "re-run the experiment: its generator.pt is not one the testbed wrote")


def rebuild(payload: dict[str, Any], label: str | None = None) -> tuple[str, torch.nn.Module]:
    """(label, G) for generator ``label`` (default: the first saved), with its parameters and buffers.

    A generator holding NaN or infinity (a run that diverged) is refused: its samples would be NaN."""
    source = payload.get("source", FILENAME)
    generators = payload["generators"]
    if label is None:
        label = next(iter(generators))
    if label not in generators:
        raise ConfigError(None, "--generator", f"no generator {label!r} in this run",
                          f"use one of {sorted(generators)}")
    found = first_non_finite(generators[label])
    if found is not None:
        raise ConfigError(source, f"generators.{label}", f"holds NaN or infinite weights ({found}): the run diverged",
                          "see the run's summary.json (stop_reason); re-run with a smaller learning rate")
    try:
        config = model_config(payload["model"], **payload["model_overrides"])
        generator, _ = build_models(config, tuple(payload["sample_shape"]), payload["seed"])
        generator.load_state_dict(generators[label])
    except ConfigError as err:
        raise ConfigError(source, err.field, err.problem, "re-run the experiment") from None
    except (RuntimeError, TypeError, ValueError) as err:
        problem = " ".join(str(err).split())[:160]
        raise ConfigError(source, f"generators.{label}", f"does not fit the recipe saved with it ({problem})",
                          "re-run the experiment: this generator.pt was edited or mixed from two runs") from None
    return label, generator


def sample_saved(run_dir: Path, n: int, seed: int | None = None, label: str | None = None) -> tuple[str, np.ndarray]:
    """(label, ``n`` samples) from a run's saved generator in eval mode, in the data's own shape.

    ``seed`` defaults to the seed the run's evaluator used, so the samples are the evaluator's."""
    payload = load_generator_file(run_dir)
    label, generator = rebuild(payload, label)
    return label, generate(generator, n, payload["eval_seed"] if seed is None else seed)
