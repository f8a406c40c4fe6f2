"""Parameter/gradient dicts round-trip exactly and their byte counts match |params| x 4."""

import numpy as np
import torch

from testbed.gan import (
    average_params,
    count_params,
    flatten,
    get_grads,
    get_params,
    params_nbytes,
    set_grads,
    set_params,
    unflatten,
)
from testbed.models import build_models, model_config


def test_get_set_flatten_unflatten_round_trip() -> None:
    g1, _ = build_models(model_config("dcgan"), (1, 8, 8), seed=0)
    g2, _ = build_models(model_config("dcgan"), (1, 8, 8), seed=1)
    params = get_params(g1)
    assert all(a.dtype == np.float32 for a in params.values())
    vector = flatten(params)
    assert vector.shape == (count_params(g1),)
    set_params(g2, unflatten(vector, get_params(g2)))
    assert all(np.array_equal(params[k], v) for k, v in get_params(g2).items())


def test_nbytes_is_four_per_parameter() -> None:
    for name, shape in (("mdgan-mlp", (1, 28, 28)), ("mlp2d", (2,))):
        generator, discriminator = build_models(model_config(name), shape, seed=0)
        for module in (generator, discriminator):
            assert params_nbytes(get_params(module)) == 4 * count_params(module)


def test_grads_round_trip_and_missing_grads_are_zero() -> None:
    _, discriminator = build_models(model_config("mdgan-mlp"), (1, 28, 28), seed=0)
    discriminator(torch.zeros(2, 1, 28, 28)).sum().backward()
    grads = get_grads(discriminator)
    assert set(grads) == set(get_params(discriminator))
    set_grads(discriminator, {k: v * 2 for k, v in grads.items()})
    doubled = get_grads(discriminator)
    assert all(np.allclose(doubled[k], 2 * grads[k]) for k in grads)


def test_weighted_average() -> None:
    a = {"w": np.zeros(3, np.float32)}
    b = {"w": np.ones(3, np.float32)}
    assert np.allclose(average_params([a, b], [1, 3])["w"], 0.75)
    assert np.allclose(average_params([a, b])["w"], 0.5)
