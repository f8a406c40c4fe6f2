"""A fixed, seeded, randomly initialised conv net: the feature space for images nobody labelled.

Why: FID, precision/recall and density/coverage need an embedding, and the usual one (Inception
trained on ImageNet) is a download and means little on data far from ImageNet.  A data set
without labels cannot train the testbed's classifier either.  Naeem et al. (*Reliable Fidelity and
Diversity Metrics for Generative Models*, ICML 2020) show that the features of a randomly
initialised network rank generators sensibly on such data, so the testbed embeds unlabelled
images with one: three 3x3 convolutions (32, 64, 128 channels, ReLU, 2x2 average pooling after
the first two), a 2x2 adaptive average pool and a linear map to 128 features.  Its weights are
drawn from numpy's PCG64 stream with a fixed seed (He-normal for convolutions, 1/fan-in variance
for the linear map, zero biases), so they are the same on every machine and every torch version;
:func:`provenance` names the recipe and the SHA-256 of the weights, which ``summary.json`` records.
The numbers are comparable between runs that used the same features only -- never with a
classifier-FID or an Inception-FID.
"""

from __future__ import annotations

import functools
import hashlib
import math
from typing import Any

import numpy as np
import torch
from torch import nn

VERSION = "random-conv-v1"
SEED = 0
FEATURE_DIM = 128


class RandomConvFeatures(nn.Module):
    """The fixed embedding (see the module docstring); works for any image size of 4 pixels or more."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
            nn.Linear(512, FEATURE_DIM),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@functools.lru_cache(maxsize=4)
def feature_net(in_channels: int) -> RandomConvFeatures:
    """The embedding for images of ``in_channels`` channels, weights drawn from ``SEED`` (cached)."""
    net = RandomConvFeatures(in_channels)
    rng = np.random.default_rng(SEED)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("bias"):
                p.zero_()
                continue
            fan_in = math.prod(p.shape[1:])
            gain = 2.0 if p.ndim == 4 else 1.0  # He for ReLU convolutions, variance 1/fan_in for the last map
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)) * math.sqrt(gain / fan_in)))
    return net.eval()


@torch.no_grad()
def random_features(x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """(n, 128) float64 features of images ``x`` (n, C, H, W)."""
    net = feature_net(int(x.shape[1]))
    parts = [net(torch.from_numpy(np.array(x[s: s + batch_size], dtype=np.float32))).numpy()
             for s in range(0, len(x), batch_size)]
    return np.concatenate(parts).astype(np.float64)


def weights_sha256(in_channels: int) -> str:
    """SHA-256 of the embedding's float32 weights, in parameter order: proof of which features were used."""
    h = hashlib.sha256()
    for _, p in feature_net(in_channels).named_parameters():
        h.update(p.detach().numpy().astype(np.float32).tobytes())
    return h.hexdigest()


def provenance(in_channels: int) -> dict[str, Any]:
    """Where the features come from, for ``summary.json``."""
    return {"features": VERSION, "seed": SEED, "dim": FEATURE_DIM, "in_channels": in_channels,
            "init": "numpy PCG64: He-normal convolutions, N(0, 1/fan_in) linear, zero biases",
            "weights_sha256": weights_sha256(in_channels),
            "why": "Naeem et al., ICML 2020: random embeddings rank generators on data far from ImageNet"}
