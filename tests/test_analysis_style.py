"""Seed bands stay inside the values a metric can take.

Why: a mean ± std band of a fraction that dips below 0 (or above 1) shows values no run can have;
the clipping is checked against hand-computed limits, and every metric the evaluator reports must
declare its range, or a new one would be drawn unclipped without anyone noticing.
"""

from __future__ import annotations

import numpy as np

from analysis.style import band_limits
from testbed.quality import METRIC_HIGHER_IS_BETTER, METRIC_RANGE


def test_bands_are_clipped_to_the_metric_range() -> None:
    mean, std = np.array([0.1, 0.5, 0.95]), np.array([0.3, 0.1, 0.2])
    lo, hi = band_limits(mean, std, "high_quality_fraction")
    np.testing.assert_allclose(lo, [0.0, 0.4, 0.75])
    np.testing.assert_allclose(hi, [0.4, 0.6, 1.0])
    lo, hi = band_limits(np.array([20.0]), np.array([30.0]), "fid")
    assert lo[0] == 0.0 and hi[0] == 50.0
    lo, hi = band_limits(np.array([0.0]), np.array([1.0]), "loss_d")  # not a quality metric: unclipped
    assert lo[0] == -1.0 and hi[0] == 1.0


def test_every_reported_metric_declares_its_range() -> None:
    assert set(METRIC_RANGE) == set(METRIC_HIGHER_IS_BETTER)
    assert all(lo < hi for lo, hi in METRIC_RANGE.values())
