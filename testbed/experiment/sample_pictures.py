"""Pictures of generated samples: a scatter (over the true modes, for mixtures), or an image grid.

People judge a GAN by looking at it; every evaluation leaves one picture in the
run's ``samples/`` folder, and the analysis puts them side by side.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from testbed.core.fileio import atomic_write


def draw_samples(ax: plt.Axes, samples: np.ndarray, dataset: str) -> None:
    """Draw ``samples`` of ``dataset`` on ``ax``: a scatter of vectors (their first two coordinates,
    over the true modes for a mixture) or a grid of grey or colour images."""
    if samples.ndim == 2:
        _scatter(ax, samples, dataset)
        return
    colour = samples.ndim == 4 and samples.shape[1] == 3
    images = np.moveaxis(samples, 1, 3) if colour else samples.reshape(len(samples), *samples.shape[-2:])
    cols = int(np.ceil(np.sqrt(len(images))))
    rows = int(np.ceil(len(images) / cols))
    h, w = images.shape[1:3]
    grid = np.ones((rows * (h + 1), cols * (w + 1), *images.shape[3:]))
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = (img + 1) / 2
    ax.imshow(np.clip(grid, 0, 1), cmap=None if colour else "gray", vmin=0, vmax=1)
    ax.axis("off")


def _scatter(ax: plt.Axes, samples: np.ndarray, dataset: str) -> None:
    from testbed.data.mixtures import MIXTURES

    points = samples if samples.shape[1] >= 2 else np.column_stack([samples[:, 0], np.zeros(len(samples))])
    ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.4, color="tab:blue", label="generated")
    if dataset not in MIXTURES:
        ax.set_xlabel("coordinate 0")
        ax.set_ylabel("coordinate 1" if samples.shape[1] >= 2 else "")
        return
    modes = MIXTURES[dataset].centers
    ax.scatter(modes[:, 0], modes[:, 1], s=40, marker="x", color="tab:red", label="true modes")
    span = np.abs(modes).max() * 1.6
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)


def save_samples_picture(samples: np.ndarray, dataset: str, path: Path, title: str = "") -> Path:
    """Write one PNG of ``samples`` atomically."""
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    draw_samples(ax, samples, dataset)
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    try:
        return atomic_write(path, lambda p: fig.savefig(p, format="png"))
    finally:
        plt.close(fig)
