"""A small DCGAN-style G/D whose shape follows the data set (28x28 MNIST or 8x8 digits).

G: z -> Linear -> (2c, H/4, W/4) -> BN, ReLU -> ConvT(4, s2) to (c, H/2, W/2) -> BN, ReLU
-> ConvT(4, s2) to (C, H, W) -> tanh.  D mirrors it with strided convolutions and
LeakyReLU and no normalisation (so each sample's logit depends only on that
sample -- needed for R1 and for MD-GAN's per-sample feedback).
"""

from __future__ import annotations

from torch import nn

from testbed.core.errors import ConfigError
from testbed.models.config import ModelConfig, register_builder, register_preset
from testbed.models.mlp2d import FlatLogit, Reshape


@register_builder("dcgan")
def build_dcgan(config: ModelConfig, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """DCGAN pair for (C, H, W) images with H and W divisible by 4."""
    if len(sample_shape) != 3 or sample_shape[1] % 4 or sample_shape[2] % 4:
        raise ConfigError(None, "model", f"dcgan needs (C, H, W) images with H, W divisible by 4, "
                          f"got shape {sample_shape}", "use an image data set or the mlp2d model")
    c_img, h, w = sample_shape
    c = config.channels
    h4, w4 = h // 4, w // 4
    generator = nn.Sequential(
        nn.Linear(config.latent_dim, 2 * c * h4 * w4), Reshape((2 * c, h4, w4)),
        nn.BatchNorm2d(2 * c), nn.ReLU(),
        nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
        nn.ConvTranspose2d(c, c_img, 4, stride=2, padding=1), nn.Tanh(),
    )
    slope = config.leaky_slope
    discriminator = FlatLogit(nn.Sequential(
        nn.Conv2d(c_img, c, 4, stride=2, padding=1), nn.LeakyReLU(slope),
        nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.LeakyReLU(slope),
        nn.Flatten(), nn.Linear(2 * c * h4 * w4, 1),
    ), flatten_input=False)
    return generator, discriminator


register_preset(ModelConfig(name="dcgan", builder="dcgan", latent_dim=64, hidden=0, channels=32))
