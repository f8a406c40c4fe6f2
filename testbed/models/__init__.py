"""G/D architectures: built from a :class:`ModelConfig`, registered as presets.

Presets: ``mlp2d`` (2-D mixtures), ``dcgan`` (small images), ``mdgan-mlp`` and
``mdgan-cnn`` (MD-GAN's MNIST models with the paper's parameter counts), and ``custom``: the
researcher's own classes, named by import path (:mod:`testbed.models.custom`).
"""

from __future__ import annotations

from testbed.models import custom, dcgan, mdgan, mlp2d  # noqa: F401  (registration side effect)
from testbed.models.config import BUILDERS, PRESETS, ModelConfig, build_models, check_shapes, model_config

__all__ = ["BUILDERS", "PRESETS", "ModelConfig", "build_models", "check_shapes", "model_config"]
