"""Classifier score exp(E_x KL(p(y|x) || p(y))): Inception Score with a data-set classifier.

MD-GAN reports this as the "MNIST score": about the number of classes for
confident, balanced samples; 1 when every sample looks like the same class.
"""

from __future__ import annotations

import numpy as np


def classifier_score(probs: np.ndarray, eps: float = 1e-12) -> float:
    """exp(mean KL(p(y|x) || p(y))) for an (n, classes) matrix of class probabilities."""
    p = np.clip(np.asarray(probs, dtype=np.float64), eps, 1.0)
    marginal = p.mean(axis=0, keepdims=True)
    kl = np.sum(p * (np.log(p) - np.log(marginal)), axis=1)
    return float(np.exp(kl.mean()))
