"""2-D Gaussian mixtures: the classic mode-collapse benchmark, generated, never downloaded.

``ring8`` (8 modes on a circle of radius 2, std 0.02) and ``grid25`` (modes at
{-4,-2,0,2,4}^2, std 0.05) train in seconds on a CPU and make mode collapse
*countable* (see :mod:`testbed.quality.mixture`), so they are the quickstart
default.  The label of a sample is the index of the mode it was drawn from.
Splits use different seeds so test samples are fresh draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from testbed.data.dataset import DatasetSpec, register

DEFAULT_N = {"train": 20_000, "test": 5_000}
_SPLIT_STREAM = {"train": 0, "test": 1}


@dataclass(frozen=True)
class MixtureSpec:
    """Mode centres (M, 2) and the per-coordinate standard deviation of every mode."""

    name: str
    centers: np.ndarray
    std: float

    @property
    def num_modes(self) -> int:
        return int(self.centers.shape[0])


def _ring(num_modes: int, radius: float) -> np.ndarray:
    angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def _grid(values: tuple[float, ...]) -> np.ndarray:
    return np.array([(a, b) for a in values for b in values], dtype=np.float64)


MIXTURES: dict[str, MixtureSpec] = {
    "ring8": MixtureSpec("ring8", _ring(8, 2.0), 0.02),
    "grid25": MixtureSpec("grid25", _grid((-4.0, -2.0, 0.0, 2.0, 4.0)), 0.05),
}


def sample_mixture(spec: MixtureSpec, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples with uniformly chosen modes: (x float32 (n, 2), y int64 mode index)."""
    y = rng.integers(0, spec.num_modes, size=n)
    x = spec.centers[y] + spec.std * rng.standard_normal((n, 2))
    return x.astype(np.float32), y.astype(np.int64)


def _make_loader(spec: MixtureSpec):
    def load(split: str, data_dir: str | None, seed: int, n: int | None):
        rng = np.random.default_rng([seed, _SPLIT_STREAM[split]])
        x, y = sample_mixture(spec, DEFAULT_N[split] if n is None else n, rng)
        return x, y, f"generated ({spec.name}, seed {seed}, {split})"
    return load


for _spec in MIXTURES.values():
    register(DatasetSpec(
        name=_spec.name, kind="mixture", num_classes=_spec.num_modes, sample_shape=(2,),
        loader=_make_loader(_spec), locate=lambda data_dir, s=_spec.name: f"generated ({s})",
        description=f"{_spec.num_modes}-mode 2-D Gaussian mixture (std {_spec.std})",
    ))
