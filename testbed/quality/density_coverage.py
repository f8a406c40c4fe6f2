"""Density and coverage (Naeem et al., *Reliable Fidelity and Diversity Metrics for Generative
Models*, ICML 2020): precision and recall that outliers cannot fool.

Why beside precision/recall: improved precision/recall (Kynkäänniemi et al.) build a manifold from
k-NN balls around *every* point, so one outlier in the real set (a broken image in a researcher's
folder) swells it and one in the fake set inflates recall.  Density counts how many real
neighbourhoods contain each fake sample, (1/kM) sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))] -- about 1
for a generator that matches the data, above 1 when samples crowd the dense regions, below when
they stray; coverage is the fraction of real samples whose k-NN ball holds at least one fake
sample, (1/N) sum_i 1[exists j: Y_j in B(X_i, NND_k(X_i))] -- only real neighbourhoods count, so
fake outliers cannot raise it.  k = 5, the paper's choice; balls are closed (<=), as in
:mod:`testbed.quality.precision_recall`.
"""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_K = 5


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = DEFAULT_K) -> tuple[float, float]:
    """(density, coverage) of ``fake`` w.r.t. ``real`` (rows are feature vectors or raw points)."""
    real_t = torch.as_tensor(np.asarray(real, np.float64).reshape(len(real), -1))
    fake_t = torch.as_tensor(np.asarray(fake, np.float64).reshape(len(fake), -1))
    if len(real_t) <= k or len(fake_t) < 1:
        raise ValueError(f"density/coverage with k={k} needs more than {k} real samples and one fake")
    radii = torch.kthvalue(torch.cdist(real_t, real_t), k + 1, dim=1).values  # k+1: the point itself is at 0
    inside = torch.cdist(real_t, fake_t) <= radii[:, None]  # (real, fake)
    density = float(inside.sum(dim=0).double().mean()) / k
    coverage = float(inside.any(dim=1).double().mean())
    return density, coverage
