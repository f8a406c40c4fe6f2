"""Quality for data the testbed has never seen: real samples beat noise and a collapsed generator.

The data are coloured squares and discs made by the test (tests/own_files.py), 12x12, written as
an ``.npz``.  Unlabelled, they are scored in a fixed random conv net's features (FID,
precision/recall, density/coverage); labelled, by the classifier trained on them once and cached
beside the data.  "Real" is a fresh draw of the same shapes (not the reference split itself),
"noise" uniform pixels, "collapsed" one real image repeated with a little noise -- the two
failures the metrics exist to catch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from own_files import shapes

from testbed.data import dataset_spec, parse_file_dataset
from testbed.quality import density_coverage, evaluate_samples, key_metrics, provenance
from testbed.quality.random_features import weights_sha256

N = 80


def _candidates(seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    real = np.moveaxis(shapes(N, rng)[0], 3, 1).astype(np.float32) / 127.5 - 1.0
    noise = rng.uniform(-1.0, 1.0, real.shape).astype(np.float32)
    collapsed = np.clip(np.repeat(real[:1], N, axis=0) + 0.02 * rng.standard_normal(real.shape), -1, 1)
    return {"real": real, "noise": noise, "collapsed": collapsed.astype(np.float32)}


@pytest.fixture(scope="module")
def shapes_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shapes")
    x, y = shapes(500, np.random.default_rng(0))
    np.savez(folder / "shapes.npz", x=x, y=y)
    return folder


def test_random_features_rank_real_above_noise_and_collapse(shapes_npz: Path) -> None:
    ref, _ = parse_file_dataset({"name": "npz", "path": "shapes.npz", "key": "x"}, shapes_npz)
    assert key_metrics(ref) == ("fid", "coverage", "density")
    scores = {name: evaluate_samples(x, ref, N) for name, x in _candidates().items()}
    real, noise, collapsed = scores["real"], scores["noise"], scores["collapsed"]
    for metric in ("fid",):
        assert real[metric] < noise[metric] and real[metric] < collapsed[metric], scores
    for metric in ("coverage", "recall"):  # diversity: collapse and noise both fail it
        assert real[metric] > noise[metric] and real[metric] > collapsed[metric], scores
    for metric in ("density", "precision"):  # fidelity: noise fails it
        assert real[metric] > noise[metric], scores
    assert 0.5 < real["density"] < 1.5 and real["coverage"] > 0.5, real  # ~1 and high when they match
    found = provenance(ref)
    assert found["features"] == "random-conv-v1" and found["quality"] == "random_features"
    assert found["weights_sha256"] == weights_sha256(3)


def test_classifier_metrics_for_labelled_files_cached_beside_the_data(shapes_npz: Path) -> None:
    ref, _ = parse_file_dataset({"name": "npz", "path": "shapes.npz", "key": "x", "labels": "y"}, shapes_npz)
    assert key_metrics(ref) == ("fid", "classifier_score")
    scores = {name: evaluate_samples(x, ref, N) for name, x in _candidates().items()}
    real, noise, collapsed = scores["real"], scores["noise"], scores["collapsed"]
    assert real["fid"] < noise["fid"] and real["fid"] < collapsed["fid"], scores
    assert real["recall"] > collapsed["recall"] and real["precision"] > noise["precision"], scores
    assert real["classifier_score"] > collapsed["classifier_score"], scores  # one image: one class
    cached = list((shapes_npz / ".testbed").glob("classifier-shapes.npz-*.pt"))
    assert len(cached) == 1 and dataset_spec(ref).cache_dir == str(shapes_npz / ".testbed")
    assert provenance(ref)["features"].startswith("classifier")


def test_the_random_features_are_the_same_everywhere() -> None:
    """The embedding's weights come from numpy's PCG64 stream, not torch's RNG: this digest is the
    promise that a number computed today is comparable with one computed on another machine."""
    assert weights_sha256(3) == "cb308343d86cde94cf35e66a9fc1c0804445fcfad1c86ed04bf2ac8d0d3b7e1b"


def test_density_and_coverage_closed_forms() -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 4))
    assert density_coverage(real, real + 100.0) == (0.0, 0.0)  # nowhere near: no fidelity, no diversity
    density, coverage = density_coverage(real, real)
    assert coverage == 1.0 and density >= 1.0  # each real point's ball holds itself and its k neighbours
    _, collapsed = density_coverage(real, np.repeat(real[:1], 200, axis=0))
    assert collapsed <= 6 / 200  # one point can lie in few real balls
