"""Model presets as plain data, and the one function that turns a preset into G and D.

A run's model is a :class:`ModelConfig` (resolved from a preset name plus
overrides in the experiment YAML), never module-level globals, so the same
config builds the same networks on every executor.  Builders register under
``ModelConfig.builder``; presets under their name.  Importing this module imports the package
first, whose ``__init__`` imports every builder module, so the registries are full before any
lookup (no lazy re-import, and no import circle).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from testbed.core.errors import ConfigError
from testbed.core.registry import Registry


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build a G/D pair (shape of the data comes from the data set)."""

    name: str
    builder: str
    latent_dim: int
    hidden: int
    depth: int = 3
    channels: int = 64
    leaky_slope: float = 0.2


Builder = Callable[[ModelConfig, tuple[int, ...]], tuple[nn.Module, nn.Module]]
BUILDERS: Registry[Builder] = Registry("builder")
PRESETS: Registry[ModelConfig] = Registry("model")


def register_builder(name: str) -> Callable[[Builder], Builder]:
    """Decorator: register a function ``(config, sample_shape) -> (G, D)`` under ``name``."""
    return BUILDERS.register(name)


def register_preset(config: ModelConfig) -> ModelConfig:
    """Make ``config`` available as ``model_config(config.name)``."""
    return PRESETS.add(config.name, config)


def model_config(name: str, **overrides: object) -> ModelConfig:
    """The preset ``name`` with fields replaced by ``overrides``; unknown name or key -> ConfigError."""
    preset = PRESETS.require(name, None, "model")
    fields = {f.name for f in dataclasses.fields(ModelConfig)} - {"name", "builder"}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ConfigError(None, f"model.{unknown[0]}", f"unknown model setting {unknown[0]!r}",
                          f"use one of {', '.join(sorted(fields))}")
    return dataclasses.replace(preset, **overrides)  # type: ignore[arg-type]


def build_models(config: ModelConfig, sample_shape: tuple[int, ...],
                 seed: int) -> tuple[nn.Module, nn.Module]:
    """(G, D) for data of ``sample_shape``, initialised from ``seed`` without touching global RNG state.

    G maps (B, latent_dim) to (B, *sample_shape) in the data set's range; D maps
    samples to logits of shape (B,).  G carries ``G.latent_dim``.
    """
    build = BUILDERS.require(config.builder, None, "model.builder")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator, discriminator = build(config, tuple(sample_shape))
    generator.latent_dim = config.latent_dim  # type: ignore[assignment]
    return generator, discriminator
