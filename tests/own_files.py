"""A researcher's own files, made by the tests: synthetic shape images, arrays, folders, a tiny G and D.

Why: the own-data tests must not depend on anything downloaded or shipped; every file they read is
written here, small (8x8 or 12x12 pixels, a few hundred samples) so a test costs milliseconds.
``shapes`` draws filled squares and discs of random colour, size and place on a black background:
structured enough that a random conv net's features tell them from noise and from one repeated
image, which is what the metrics test checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TINY_MODEL = '''
import torch
from torch import nn


class Gen(nn.Module):
    """Latents -> samples of the data's shape, through one hidden layer with BatchNorm."""

    def __init__(self, latent_dim, sample_shape, width=8):
        super().__init__()
        self.shape = tuple(sample_shape)
        out = 1
        for s in self.shape:
            out *= s
        self.net = nn.Sequential(nn.Linear(latent_dim, width), nn.BatchNorm1d(width), nn.ReLU(),
                                 nn.Linear(width, out), nn.Tanh())

    def forward(self, z):
        return self.net(z).view(-1, *self.shape)


class Disc(nn.Module):
    """Samples -> one logit each, shape (batch, 1)."""

    def __init__(self, sample_shape, width=8):
        super().__init__()
        size = 1
        for s in sample_shape:
            size *= s
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(size, width), nn.LeakyReLU(0.2), nn.Linear(width, 1))

    def forward(self, x):
        return self.net(x)


class NotAModule:
    pass


class LazyDisc(nn.Module):
    """A discriminator whose size is unknown until it runs."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(1))

    def forward(self, x):
        return self.net(x)


class TinyImages(nn.Module):
    """A generator of 2x2 grey images, whatever the data: the wrong shape."""

    def __init__(self, latent_dim):
        super().__init__()
        self.net = nn.Linear(latent_dim, 4)

    def forward(self, z):
        return self.net(z).view(-1, 1, 2, 2)


class TwoLogits(nn.Module):
    """A discriminator with two outputs per sample: not a logit."""

    def __init__(self, sample_shape):
        super().__init__()
        size = 1
        for s in sample_shape:
            size *= s
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(size, 2))

    def forward(self, x):
        return self.net(x)
'''


def shapes(n: int, rng: np.random.Generator, size: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (n, size, size, 3), labels 0 = square / 1 = disc)."""
    yy, xx = np.mgrid[:size, :size]
    images = np.zeros((n, size, size, 3), np.uint8)
    labels = rng.integers(0, 2, n)
    for i in range(n):
        r = int(rng.integers(2, size // 3 + 1))
        cy, cx = rng.integers(r, size - r, 2)
        mask = ((np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= r) if labels[i] == 0
                else (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r)
        images[i][mask] = rng.integers(64, 256, 3)
    return images, labels


def write_model(folder: Path, module: str = "tinygan") -> str:
    """Write the tiny G/D module as ``folder/<module>.py``; returns the module name."""
    (folder / f"{module}.py").write_text(TINY_MODEL)
    return module


def write_npz(path: Path, n: int = 120, seed: int = 0, size: int = 8, labels: bool = True) -> Path:
    """Shapes as an .npz: ``x`` uint8 channels-last colour images, ``y`` labels (if ``labels``)."""
    x, y = shapes(n, np.random.default_rng(seed), size)
    np.savez(path, x=x, **({"y": y} if labels else {}))
    return path


def write_folder(folder: Path, n: int = 60, seed: int = 0, size: int = 8, by_class: bool = False) -> Path:
    """Shapes as PNG files in ``folder`` (in ``square/`` and ``disc/`` sub-folders when ``by_class``)."""
    from PIL import Image

    x, y = shapes(n, np.random.default_rng(seed), size)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        target = folder / ("square", "disc")[label] if by_class else folder
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(target / f"{i:04d}.png")
    return folder


def custom_model(module: str, folder: Path, **extra: object) -> dict[str, object]:
    """A ``model:`` mapping for the tiny G/D."""
    return {"name": "custom", "generator": f"{module}:Gen", "discriminator": f"{module}:Disc",
            "kwargs": {"width": 8}, "latent_dim": 4, "import_dir": str(folder), **extra}
