"""The Fréchet distance between two Gaussians fitted to feature sets (the "F" of every FID).

Uses the eigh form: Tr((S1 S2)^1/2) = sum sqrt(eigvalsh(A S2 A)) with A = S1^1/2,
which only needs symmetric eigendecompositions (about 6x faster than
``scipy.linalg.sqrtm`` at 2048-d, and no complex round-off).  Tiny negative
eigenvalues from round-off are clipped to zero.  FID is biased at finite n:
compare values computed at equal n only.
"""

from __future__ import annotations

import numpy as np


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of an (n, d) feature matrix, in float64."""
    f = np.asarray(features, dtype=np.float64)
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1-mu2||^2 + Tr(S1) + Tr(S2) - 2 sum sqrt(eigvalsh(A S2 A)), A = S1^1/2."""
    a = _sqrt_psd(sigma1)
    m = a @ sigma2 @ a
    eig = np.clip(np.linalg.eigvalsh((m + m.T) / 2.0), 0.0, None)
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.sqrt(eig).sum()
    return float(max(value, 0.0))


def fid_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets."""
    return frechet_distance(*gaussian_stats(features1), *gaussian_stats(features2))
