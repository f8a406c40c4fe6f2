"""Model presets: MD-GAN's exact parameter counts, shapes and ranges, seeded construction."""

import pytest
import torch

from testbed.core.errors import ConfigError
from testbed.gan import count_params, get_params
from testbed.models import build_models, model_config


@pytest.mark.parametrize(("name", "g_count", "d_count"), [
    ("mdgan-mlp", 716_560, 670_219), ("mdgan-cnn", 628_058, 286_048),
])
def test_mdgan_parameter_counts_are_exact(name: str, g_count: int, d_count: int) -> None:
    generator, discriminator = build_models(model_config(name), (1, 28, 28), seed=0)
    assert count_params(generator) == g_count
    assert count_params(discriminator) == d_count


@pytest.mark.parametrize(("name", "shape"), [
    ("mlp2d", (2,)), ("dcgan", (1, 8, 8)), ("dcgan", (1, 28, 28)), ("mdgan-mlp", (1, 28, 28)),
    ("mdgan-cnn", (1, 28, 28)),
])
def test_shapes_and_ranges(name: str, shape: tuple[int, ...]) -> None:
    generator, discriminator = build_models(model_config(name), shape, seed=0)
    z = torch.randn(4, generator.latent_dim, generator=torch.Generator().manual_seed(0))
    x = generator(z)
    assert x.shape == (4, *shape)
    if len(shape) == 3:
        assert x.abs().max() <= 1.0
    assert discriminator(x).shape == (4,)


def test_seeded_and_independent_of_global_rng() -> None:
    torch.manual_seed(123)
    a, _ = build_models(model_config("mlp2d"), (2,), seed=5)
    state = torch.random.get_rng_state()
    b, _ = build_models(model_config("mlp2d"), (2,), seed=5)
    assert torch.equal(state, torch.random.get_rng_state())
    pa, pb = get_params(a), get_params(b)
    assert all((pa[k] == pb[k]).all() for k in pa)


def test_overrides_and_errors() -> None:
    assert model_config("mlp2d", hidden=64).hidden == 64
    with pytest.raises(ConfigError, match="model"):
        model_config("stylegan9")
    with pytest.raises(ConfigError, match=r"model\.widht"):
        model_config("mlp2d", widht=3)
    with pytest.raises(ConfigError, match="28x28"):
        build_models(model_config("mdgan-mlp"), (1, 8, 8), seed=0)
