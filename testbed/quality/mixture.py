"""Mode-collapse metrics for 2-D Gaussian mixtures: what fraction of modes a generator really covers.

A sample is *high quality* if it lies within 3 std of its nearest mode centre
(Euclidean distance <= 3 * std).  A mode is *covered* if it holds at least
``max(1, 5% of n / num_modes)`` high-quality samples -- i.e. at least a
twentieth of its fair share, so a few stray points do not count as coverage
(close to the "20 of 2,500 samples" rule of VEEGAN / Unrolled-GAN
evaluations).  ``mode_kl`` is KL(histogram of high-quality samples over modes
|| uniform); 0 is perfectly balanced, log(M) is one mode; with no high-quality
sample at all it is reported as log(M) too.
"""

from __future__ import annotations

import math

import numpy as np

from testbed.data.mixtures import MixtureSpec

HQ_STDS = 3.0
COVERAGE_SHARE = 0.05


def mixture_metrics(samples: np.ndarray, spec: MixtureSpec) -> dict[str, float]:
    """``modes_covered``, ``high_quality_fraction`` and ``mode_kl`` for (n, 2) samples."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1, 2)
    d = np.linalg.norm(x[:, None, :] - spec.centers[None, :, :], axis=2)
    nearest, dist = d.argmin(axis=1), d.min(axis=1)
    hq = dist <= HQ_STDS * spec.std
    counts = np.bincount(nearest[hq], minlength=spec.num_modes)
    threshold = max(1.0, COVERAGE_SHARE * len(x) / spec.num_modes)
    if counts.sum() == 0:
        kl = math.log(spec.num_modes)
    else:
        p = counts / counts.sum()
        nz = p > 0
        kl = float(np.sum(p[nz] * np.log(p[nz] * spec.num_modes)))
    return {"modes_covered": float(np.sum(counts >= threshold)), "high_quality_fraction": float(hq.mean()),
            "mode_kl": kl}
