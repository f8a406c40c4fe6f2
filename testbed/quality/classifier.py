"""A small CNN classifier per image data set: the feature extractor for classifier-FID and scores.

Inception-v3 features are meaningless on 8x8 digits and need downloaded
weights, so (as MD-GAN does with its "MNIST score") we train a small CNN on the
data set's training split once, and cache its weights on disk under
``$TESTBED_CACHE/classifiers/`` keyed by a hash of the training data and the
recipe -- a changed data set or recipe can never reuse stale weights.  Training
is seeded and takes seconds on digits, well under a minute on MNIST.  A labelled data set read
from the researcher's own files keeps its classifier beside the data (``.testbed/`` next to the
file or folder, when that can be written; else the cache above), keyed the same way.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from testbed.data import dataset_spec, load_dataset
from testbed.data.files import cache_file, parse_ref
from testbed.data.sources import cache_dir

RECIPE_VERSION = "cnn-v1"


@dataclass(frozen=True)
class Recipe:
    """How the classifier is trained: bounded so MNIST-size data takes about half a minute on 2 cores."""

    max_steps: int = 1000
    min_epochs: int = 1
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0


class FeatureClassifier(nn.Module):
    """Two conv blocks -> 128-d penultimate features -> class logits; works for 8x8 and 28x28."""

    feature_dim = 128

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
            nn.Linear(256, self.feature_dim), nn.ReLU(),
        )
        self.head = nn.Linear(self.feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _data_key(name: str, x: np.ndarray, y: np.ndarray, recipe: Recipe) -> str:
    h = hashlib.sha256()
    for part in (name.encode(), RECIPE_VERSION.encode(), repr(recipe).encode(), x.tobytes(), y.tobytes()):
        h.update(part)
    return h.hexdigest()[:16]


def train_classifier(x: np.ndarray, y: np.ndarray, num_classes: int, recipe: Recipe) -> FeatureClassifier:
    """Train the classifier with Adam on (x, y); seeded, no global RNG use."""
    gen = torch.Generator().manual_seed(recipe.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = FeatureClassifier(x.shape[1], num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    steps_per_epoch = max(1, len(x) // recipe.batch_size)
    steps = max(recipe.min_epochs * steps_per_epoch, min(recipe.max_steps, 30 * steps_per_epoch))
    model.train()
    order = torch.randperm(len(x), generator=gen)
    for step in range(steps):
        if step % steps_per_epoch == 0 and step:
            order = torch.randperm(len(x), generator=gen)
        idx = order[(step % steps_per_epoch) * recipe.batch_size:][: recipe.batch_size]
        loss = F.cross_entropy(model(xt[idx]), yt[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


_LOADED: dict[tuple[str, str], FeatureClassifier] = {}
_MEMO: dict[tuple[str, str, str, str, str], FeatureClassifier] = {}


def get_classifier(dataset: str, recipe: Recipe | None = None,
                   data_dir: str | None = None) -> FeatureClassifier:
    """The cached classifier for ``dataset`` (trained and written to disk on first use)."""
    recipe = recipe or Recipe()
    found = dataset_spec(dataset).file  # a file data set whose bytes changed is a new data set
    memo = (dataset, str(data_dir), repr(recipe), str(cache_dir()), found.sha256 if found else "")
    if memo in _MEMO:  # skip re-hashing the training data on every evaluation
        return _MEMO[memo]
    train = load_dataset(dataset, "train", data_dir=data_dir)
    path = classifier_path(dataset, train.x, train.y, recipe)
    key = path.stem.rsplit("-", 1)[-1]
    if (str(path), key) in _LOADED:
        _MEMO[memo] = _LOADED[(str(path), key)]
        return _MEMO[memo]
    model = FeatureClassifier(train.x.shape[1], train.num_classes)
    if path.is_file():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        model.eval()
    else:
        model = train_classifier(train.x, train.y, train.num_classes, recipe)
        _atomic_save(model, path)
    _LOADED[(str(path), key)] = _MEMO[memo] = model
    return model


def classifier_path(dataset: str, x: np.ndarray, y: np.ndarray, recipe: Recipe) -> Path:
    """Where the classifier for this training data and recipe is cached (see the module docstring)."""
    spec = dataset_spec(dataset)
    if spec.file is None:
        return cache_dir() / "classifiers" / f"{dataset}-{_data_key(dataset, x, y, recipe)}.pt"
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(parse_ref(dataset).path).name)
    return cache_file(spec, f"classifier-{stem}-{_data_key('file', x, y, recipe)}.pt", cache_dir() / "classifiers")


def classifier_provenance(dataset: str) -> dict[str, object]:
    """Which classifier's features the image metrics used, for ``summary.json``."""
    model = get_classifier(dataset)
    h = hashlib.sha256()
    for value in model.state_dict().values():
        h.update(value.detach().numpy().astype(np.float32).tobytes())
    return {"features": f"classifier ({RECIPE_VERSION}, penultimate layer, {FeatureClassifier.feature_dim}-d)",
            "recipe": repr(Recipe()), "weights_sha256": h.hexdigest()}


def _atomic_save(model: nn.Module, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)


@torch.no_grad()
def features_and_probs(model: FeatureClassifier, x: np.ndarray,
                       batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(penultimate features (n, 128), class probabilities (n, classes)) for images ``x``."""
    feats, probs = [], []
    for start in range(0, len(x), batch_size):
        f = model.features(torch.tensor(x[start: start + batch_size], dtype=torch.float32))
        feats.append(f.numpy())
        probs.append(torch.softmax(model.head(f), dim=1).numpy())
    return np.concatenate(feats).astype(np.float64), np.concatenate(probs).astype(np.float64)
