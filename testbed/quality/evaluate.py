"""Score a generator on its data set: the right metrics per data set, under stable names.

Every algorithm logs the dict this returns, so the keys are a contract.  Which metrics a data set
gets (its *quality*, :func:`quality_of`) follows from what the testbed knows about it:
labelled images (``classifier``) -> ``fid`` (classifier-FID), ``classifier_score``, ``precision``,
``recall``; mixtures (``mixture``) -> ``modes_covered``, ``high_quality_fraction``, ``mode_kl``,
``precision``, ``recall`` (k-NN in raw 2-D space); unlabelled images (``random_features``) and
vectors (``raw_features``) -> ``fid``, ``precision``, ``recall``, ``density``, ``coverage`` in the
features of a fixed random conv net (:mod:`testbed.quality.random_features`) or in the raw
samples.  Samples are compared with ``n`` samples of the *test* split (a fixed seeded subset), so
values are comparable across runs at equal n.  :func:`headline_metric` tells plots which number to
show and which way is better; :func:`key_metrics` which few to lead with; :func:`provenance` which
features the numbers were computed in (``summary.json``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from testbed.data import MIXTURES, DatasetSpec, dataset_spec, load_dataset
from testbed.quality.classifier import classifier_provenance, features_and_probs, get_classifier
from testbed.quality.density_coverage import DEFAULT_K as DC_K
from testbed.quality.density_coverage import density_coverage
from testbed.quality.frechet import fid_from_features
from testbed.quality.mixture import mixture_metrics
from testbed.quality.precision_recall import DEFAULT_K as PR_K
from testbed.quality.precision_recall import precision_recall
from testbed.quality.random_features import provenance as random_provenance
from testbed.quality.random_features import random_features
from testbed.quality.scores import classifier_score

REFERENCE_SEED = 0

# metric -> higher is better?
METRIC_HIGHER_IS_BETTER: dict[str, bool] = {
    "fid": False, "classifier_score": True, "precision": True, "recall": True,
    "modes_covered": True, "high_quality_fraction": True, "mode_kl": False, "density": True, "coverage": True,
}
METRIC_RANGE: dict[str, tuple[float, float]] = {
    "fid": (0.0, np.inf), "classifier_score": (1.0, np.inf), "precision": (0.0, 1.0), "recall": (0.0, 1.0),
    "modes_covered": (0.0, np.inf), "high_quality_fraction": (0.0, 1.0), "mode_kl": (0.0, np.inf),
    "density": (0.0, np.inf), "coverage": (0.0, 1.0),
}
"""The values each metric can take: a mean ± std band over seeds is drawn inside them (a fraction's
band below 0 would show values no run can have)."""
KEY_METRICS_BY_QUALITY: dict[str, tuple[str, ...]] = {
    "classifier": ("fid", "classifier_score"),
    "mixture": ("high_quality_fraction", "mode_kl", "modes_covered"),
    "random_features": ("fid", "coverage", "density"),
    "raw_features": ("fid", "coverage", "density"),
}
"""What tables and figures lead with, headline first.  For mixtures the headline is the
high-quality fraction, not the mode count: mode counts saturate at 8 once methods learn, while
the fraction of samples within 3 sigma of a mode (and the KL of the mode histogram) still
separate them.  Without a classifier, coverage and density (Naeem et al.) follow FID: unlike
recall and precision they are not fooled by outliers."""


def quality_of(spec: DatasetSpec) -> str:
    """Which metrics ``spec`` gets: mixtures their own, labelled images the classifier's, unlabelled
    images a random conv net's features, vectors their raw values."""
    if spec.kind == "mixture":
        return "mixture"
    if spec.kind == "image":
        return "classifier" if spec.labelled else "random_features"
    return "raw_features"


def data_version(dataset: str) -> str:
    """What the data set's bytes are now: a file data set's SHA-256 ("" for the built-in ones), so a
    cache keyed by it never serves features of files that have since changed."""
    found = dataset_spec(dataset).file
    return "" if found is None else found.sha256


def _reference(dataset: str, n: int) -> np.ndarray:
    return _reference_of(dataset, n, data_version(dataset))


@lru_cache(maxsize=16)
def _reference_of(dataset: str, n: int, version: str) -> np.ndarray:
    ref = load_dataset(dataset, "test", seed=REFERENCE_SEED, n=n).x
    ref.flags.writeable = False
    return ref


@lru_cache(maxsize=16)
def _reference_features(dataset: str, n: int, classifier_id: int) -> np.ndarray:
    feats, _ = features_and_probs(get_classifier(dataset), _reference(dataset, n))
    return feats


def _image_metrics(samples: np.ndarray, dataset: str, n: int) -> dict[str, float]:
    model = get_classifier(dataset)
    fake_feats, fake_probs = features_and_probs(model, samples)
    real_feats = _reference_features(dataset, n, id(model))
    precision, recall = precision_recall(real_feats, fake_feats)
    return {"fid": fid_from_features(real_feats, fake_feats),
            "classifier_score": classifier_score(fake_probs), "precision": precision, "recall": recall}


@lru_cache(maxsize=16)
def _reference_embedding(dataset: str, n: int, version: str) -> np.ndarray:
    return _embed(_reference(dataset, n))


def _embed(x: np.ndarray) -> np.ndarray:
    return random_features(x) if x.ndim == 4 else np.asarray(x, np.float64).reshape(len(x), -1)


def _feature_metrics(samples: np.ndarray, dataset: str, n: int) -> dict[str, float]:
    real, fake = _reference_embedding(dataset, n, data_version(dataset)), _embed(samples)
    precision, recall = precision_recall(real, fake)
    density, coverage = density_coverage(real, fake)
    return {"fid": fid_from_features(real, fake), "precision": precision, "recall": recall,
            "density": density, "coverage": coverage}


def _mixture_metrics(samples: np.ndarray, dataset: str, n: int) -> dict[str, float]:
    metrics = mixture_metrics(samples, MIXTURES[dataset])
    precision, recall = precision_recall(_reference(dataset, n), samples)
    return {**metrics, "precision": precision, "recall": recall}


EVALUATORS: dict[str, Callable[[np.ndarray, str, int], dict[str, float]]] = {
    "classifier": _image_metrics, "mixture": _mixture_metrics, "random_features": _feature_metrics,
    "raw_features": _feature_metrics,
}


def key_metrics(dataset: str) -> tuple[str, ...]:
    """The metrics that best separate methods on ``dataset``, headline first."""
    return KEY_METRICS_BY_QUALITY[quality_of(dataset_spec(dataset))]


def headline_metric(dataset: str) -> tuple[str, bool]:
    """(metric name, higher is better) to plot for ``dataset``."""
    name = key_metrics(dataset)[0]
    return name, METRIC_HIGHER_IS_BETTER[name]


def provenance(dataset: str) -> dict[str, object]:
    """Which features ``dataset``'s metrics were computed in, and with which k: ``summary.json``'s
    ``quality_features``."""
    spec = dataset_spec(dataset)
    quality = quality_of(spec)
    found: dict[str, object] = {"quality": quality, "key_metrics": list(KEY_METRICS_BY_QUALITY[quality]),
                                "reference": "the test split (a fixed seeded subset of eval_samples)",
                                "precision_recall_k": PR_K}
    if quality == "classifier":
        found.update(classifier_provenance(dataset))
    elif quality == "random_features":
        found.update(random_provenance(spec.sample_shape[0]), density_coverage_k=DC_K)
    else:
        found.update(features="the raw samples", dim=int(np.prod(spec.sample_shape)))
        if quality == "raw_features":
            found["density_coverage_k"] = DC_K
    return found


def evaluate_samples(samples: np.ndarray, dataset: str, n: int) -> dict[str, float]:
    """Metrics for the first ``n`` generated ``samples`` (data set's shape and range).

    ``n`` is capped by the number of samples and the test split's size (digits: 359).
    """
    spec = dataset_spec(dataset)
    n = min(n, len(samples), len(_reference(dataset, n)))  # equal n on both sides (FID is biased in n)
    x = np.asarray(samples, dtype=np.float32)[:n]
    if x.shape[1:] != spec.sample_shape:
        raise ValueError(f"samples have shape {x.shape[1:]}, {dataset} needs {spec.sample_shape}")
    return EVALUATORS[quality_of(spec)](x, dataset, n)


@torch.no_grad()
def generate(generator: nn.Module, n: int, seed: int = 0, batch_size: int = 1000) -> np.ndarray:
    """``n`` samples from ``generator`` in eval mode (BN running statistics), seeded; mode restored."""
    was_training = generator.training
    generator.eval()
    gen = torch.Generator().manual_seed(seed)
    try:
        parts = [generator(torch.randn(min(batch_size, n - s), generator.latent_dim, generator=gen)).numpy()
                 for s in range(0, n, batch_size)]
    finally:
        generator.train(was_training)
    return np.concatenate(parts).astype(np.float32)


def evaluate(generator: nn.Module, dataset: str, n: int, seed: int = 0) -> dict[str, float]:
    """Draw ``n`` samples from ``generator`` (seeded) and score them with :func:`evaluate_samples`."""
    return evaluate_samples(generate(generator, n, seed), dataset, n)
