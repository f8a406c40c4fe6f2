"""Pictures of generated samples: a scatter over the mode centres for mixtures, a grid for images.

Numbers say whether a GAN is good; a picture says *how* it fails (which modes
are missing, blurry digits), so the reference trainer saves one.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from testbed.data import MIXTURES


def save_samples_png(samples: np.ndarray, dataset: str, path: Path, grid: int = 8) -> None:
    """Write ``samples`` (data set's shape and range) as a PNG at ``path``."""
    fig, ax = plt.subplots(figsize=(5, 5))
    if dataset in MIXTURES:
        centers = MIXTURES[dataset].centers
        ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, label="generated")
        ax.scatter(centers[:, 0], centers[:, 1], s=30, c="red", marker="x", label="mode centres")
        ax.set_aspect("equal")
        ax.legend(loc="upper right", fontsize=8)
    else:
        imgs = samples[: grid * grid, 0]
        h, w = imgs.shape[1:]
        canvas = np.ones((grid * (h + 1), grid * (w + 1)))
        for i, img in enumerate(imgs):
            r, c = divmod(i, grid)
            canvas[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = (img + 1) / 2
        ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
        ax.axis("off")
    ax.set_title(f"{dataset}: generated samples")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
