"""Model presets as plain data, and the one function that turns a preset into G and D.

A run's model is a :class:`ModelConfig` (resolved from a preset name plus
overrides in the experiment YAML), never module-level globals, so the same
config builds the same networks on every executor.  Builders register under
``ModelConfig.builder``; presets under their name.  Importing this module imports the package
first, whose ``__init__`` imports every builder module, so the registries are full before any
lookup (no lazy re-import, and no import circle).  :func:`check_shapes` is the one shape check
every model -- a preset or the researcher's own (:mod:`testbed.models.custom`) -- passes at parse
time: a forward pass on the ``meta`` device (no memory), G from latents to samples, D to logits.
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
    generator: str = ""
    discriminator: str = ""
    kwargs: str = "{}"
    import_dir: str = ""
    """The last four are the ``custom`` model's: ``module:Class`` of G and D, the constructor keyword
    arguments as canonical JSON text (so the config stays hashable and travels as text), and the
    directory the modules are imported from (else ``PYTHONPATH``)."""


PRESET_SETTINGS = frozenset({"latent_dim", "hidden", "depth", "channels", "leaky_slope"})
CUSTOM_SETTINGS = frozenset({"latent_dim", "generator", "discriminator", "kwargs", "import_dir"})
CUSTOM_BUILDER = "custom"


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
    fields = CUSTOM_SETTINGS if preset.builder == CUSTOM_BUILDER else PRESET_SETTINGS
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


def check_shapes(config: ModelConfig, sample_shape: tuple[int, ...]) -> None:
    """Build G and D on the ``meta`` device and check G maps (2, latent_dim) latents to (2, *sample_shape)
    samples and D maps those to 2 logits; one ConfigError naming ``model.generator`` /
    ``model.discriminator`` otherwise.  A model that cannot be built on ``meta`` (one that reads its
    tensors' values while it is built) is built on the CPU instead."""
    try:
        with torch.device("meta"):
            generator, discriminator = build_models(config, sample_shape, 0)
        device = "meta"
    except ConfigError:
        raise
    except Exception:
        generator, discriminator = build_models(config, sample_shape, 0)
        device = "cpu"
    g_name = f"G ({config.generator})" if config.generator else "G"
    d_name = f"D ({config.discriminator})" if config.discriminator else "D"
    for field, module in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(module, nn.Module) or not any(True for _ in module.parameters()):
            raise ConfigError(None, f"model.{field}", f"{type(module).__name__} has no parameters to train",
                              "give a torch.nn.Module with at least one parameter")
        if any(nn.parameter.is_lazy(p) for p in module.parameters()):
            raise ConfigError(None, f"model.{field}", f"{type(module).__name__} has lazy parameters "
                              "(nn.LazyLinear, ...): its size, which every message's bytes depend on, is unknown "
                              "until it runs", "give the layers their input sizes (sample_shape is offered)")
    want = (2, *sample_shape)
    fake = _forward("generator", generator, torch.zeros(2, config.latent_dim, device=device), g_name)
    if tuple(fake.shape) != want:
        raise ConfigError(None, "model.generator", f"{g_name} maps a (2, {config.latent_dim}) latent batch to "
                          f"{tuple(fake.shape)}, but the data's samples are {tuple(sample_shape)}",
                          f"make G return (batch, {', '.join(map(str, sample_shape))}) for a "
                          f"(batch, latent_dim) input")
    logits = _forward("discriminator", discriminator, torch.zeros(want, device=device), d_name)
    if tuple(logits.shape) not in ((2,), (2, 1)):
        raise ConfigError(None, "model.discriminator", f"{d_name} maps a batch of 2 samples to {tuple(logits.shape)}",
                          "make D return one logit per sample: shape (batch,) or (batch, 1)")


def _forward(field: str, module: nn.Module, x: torch.Tensor, who: str) -> torch.Tensor:
    try:
        out = module(x)
    except Exception as err:
        problem = " ".join(f"{type(err).__name__}: {err}".split())[:300]
        raise ConfigError(None, f"model.{field}", f"{who}'s forward pass on a batch of shape {tuple(x.shape)} "
                          f"failed ({problem})", "make it accept (batch, latent_dim) latents (G) or "
                          "(batch, *sample shape) samples (D)") from None
    if not isinstance(out, torch.Tensor):
        raise ConfigError(None, f"model.{field}", f"{who} returns {type(out).__name__}, not a tensor",
                          "return one tensor from forward()")
    return out
