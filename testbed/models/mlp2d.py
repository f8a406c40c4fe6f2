"""Small MLP G and D for the 2-D Gaussian mixtures (fast enough to train on a CPU in seconds).

G: latent -> depth x [Linear(hidden), ReLU] -> Linear(2) (unbounded output: the
mixtures live in R^2).  D: sample -> depth x [Linear(hidden), LeakyReLU] -> 1 logit.
"""

from __future__ import annotations

import math

from torch import nn

from testbed.models.config import ModelConfig, register_builder, register_preset


def _mlp(sizes: list[int], act: nn.Module) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act)
    return layers


class FlatLogit(nn.Module):
    """Wrap a network so it returns logits of shape (B,)."""

    def __init__(self, body: nn.Module, flatten_input: bool = True) -> None:
        super().__init__()
        self.body = body
        self.flatten_input = flatten_input

    def forward(self, x):
        return self.body(x.flatten(1) if self.flatten_input else x).reshape(-1)


class Reshape(nn.Module):
    """Reshape a (B, d) batch to (B, *shape)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


@register_builder("mlp")
def build_mlp(config: ModelConfig, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """MLP pair; images get a tanh output (range [-1, 1]), 2-D points a linear one."""
    d = math.prod(sample_shape)
    hidden = [config.hidden] * config.depth
    g_layers = _mlp([config.latent_dim, *hidden, d], nn.ReLU())
    if len(sample_shape) > 1:
        g_layers.append(nn.Tanh())
    generator = nn.Sequential(*g_layers, Reshape(sample_shape))
    discriminator = FlatLogit(nn.Sequential(*_mlp([d, *hidden, 1], nn.LeakyReLU(config.leaky_slope))))
    return generator, discriminator


register_preset(ModelConfig(name="mlp2d", builder="mlp", latent_dim=16, hidden=128, depth=3))
