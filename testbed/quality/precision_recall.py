"""Improved precision and recall (Kynkäänniemi et al. 2019) with k-NN manifolds.

FID mixes "samples look real" with "samples cover the data" into one number;
precision (fraction of generated samples inside the real manifold) and recall
(fraction of real samples inside the generated manifold) separate them, which
is what mode collapse under skewed partitions needs.  A manifold is the union
of balls around each point with radius = distance to its k-th nearest neighbour.
"""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_K = 3


def _pairwise(a: np.ndarray, b: np.ndarray) -> torch.Tensor:
    return torch.cdist(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64))


def _radii(points: np.ndarray, k: int) -> np.ndarray:
    d = _pairwise(points, points)
    return torch.kthvalue(d, k + 1, dim=1).values.numpy()  # k+1: the point itself is at distance 0


def _coverage(queries: np.ndarray, points: np.ndarray, radii: np.ndarray) -> float:
    inside = (_pairwise(queries, points) <= torch.as_tensor(radii)[None, :]).any(dim=1)
    return float(inside.double().mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = DEFAULT_K) -> tuple[float, float]:
    """(precision, recall) of ``fake`` w.r.t. ``real`` (rows are feature vectors or raw points)."""
    real = np.asarray(real, np.float64).reshape(len(real), -1)
    fake = np.asarray(fake, np.float64).reshape(len(fake), -1)
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set")
    precision = _coverage(fake, real, _radii(real, k))
    recall = _coverage(real, fake, _radii(fake, k))
    return precision, recall
