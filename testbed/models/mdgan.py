"""MD-GAN's MNIST models (Hardy et al., IPDPS 2019), with the paper's exact parameter counts.

Why: reproducing the paper's communication volumes needs |G| and |D| exactly,
since MD-GAN ships samples, feedback and whole discriminators.

MLP (paper: "G layers of 512, 512 and 784 neurons; D layers of 512, 512 and 11
neurons"; |G| = 716,560, |D| = 670,219).  With a 100-d latent this is exact:
  G: Linear(100,512) 51,712 + Linear(512,512) 262,656 + Linear(512,784) 402,192 = 716,560;
  D: Linear(784,512) 401,920 + Linear(512,512) 262,656 + Linear(512,11) 5,643 = 670,219.
The 11 outputs are AC-GAN's (1 real/fake + 10 class logits).  Our loss is the
unconditional non-saturating one, so D returns column 0 and the 10 class
logits are carried for parameter parity (their gradients are zero).

CNN (paper: "G: one fully-connected layer of 6,272 neurons and two transposed
convolutions of 32 and 1 kernels of size 5x5; D: six 3x3 convolutions of 16, 32,
64, 128, 256 and 512 kernels, a minibatch-discrimination layer and a
fully-connected layer of 11 neurons"; |G| = 628,058, |D| = 286,048).  The text
cannot be taken literally: with a 100-d latent the 6,272-unit layer alone has
633,472 > 628,058 parameters, and sequential 3x3 convolutions of 16..512 have
~1.57 M.  We searched (small integer solver) the nearest DCGAN-style family
that hits the counts exactly, keeping the 100-d latent, 5x5 transposed
convolutions, six 3x3 convolutions, minibatch discrimination and an 11-way head:
  G: Linear(100, 82*7*7) 405,818 -> ConvT(82->107, 5x5, s2, no bias: BN follows) 219,350
     -> BN(107) 214 -> ReLU -> ConvT(107->1, 5x5, s2) 2,676 -> tanh      = 628,058;
  D: Conv3x3 1->16 (s2) 160, 16->32 4,640, 32->32 (s2) 9,248, 32->32 9,248,
     32->64 (s2) 18,496, 64->128 73,856 (LeakyReLU) -> global average pool (128)
     -> minibatch discrimination, T = Linear(128, 93*14) 167,958 (93 kernels of dim 14,
     Salimans et al. 2016) -> concat (128+93) -> Linear(221, 11) 2,442  = 286,048.
Only the counts are the paper's; the exact layer shapes are our reconstruction.
Both need 28x28 single-channel data (MNIST, Fashion-MNIST).
"""

from __future__ import annotations

import torch
from torch import nn

from testbed.core.errors import ConfigError
from testbed.models.config import ModelConfig, register_builder, register_preset
from testbed.models.mlp2d import Reshape

MNIST_SHAPE = (1, 28, 28)


def _require_mnist_shape(config: ModelConfig, sample_shape: tuple[int, ...]) -> None:
    if tuple(sample_shape) != MNIST_SHAPE:
        raise ConfigError(None, "model", f"{config.name} is MD-GAN's MNIST model and needs 1x28x28 samples, "
                          f"got {sample_shape}", "use it with mnist or fashion_mnist, or pick dcgan")


class AuxHeadLogit(nn.Module):
    """AC-GAN-style D with 1 + 10 outputs; returns the real/fake logit (column 0) as shape (B,)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)[:, 0]


class MinibatchDiscrimination(nn.Module):
    """Salimans et al.: append, per sample, sum_j exp(-||M_i,b - M_j,b||_1) for B kernels of dim C."""

    def __init__(self, in_features: int, kernels: int, kernel_dim: int) -> None:
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Linear(in_features, kernels * kernel_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.T(x).view(-1, self.kernels, self.kernel_dim)
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=3)  # (B, B, kernels)
        return torch.cat([x, torch.exp(-l1).sum(dim=1) - 1.0], dim=1)  # minus self-similarity


@register_builder("mdgan-mlp")
def build_mdgan_mlp(config: ModelConfig, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """MD-GAN MNIST MLP: |G| = 716,560, |D| = 670,219 (latent_dim 100, hidden 512)."""
    _require_mnist_shape(config, sample_shape)
    h = config.hidden
    generator = nn.Sequential(
        nn.Linear(config.latent_dim, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 784), nn.Tanh(),
        Reshape(MNIST_SHAPE),
    )
    slope = config.leaky_slope
    discriminator = AuxHeadLogit(nn.Sequential(
        nn.Flatten(), nn.Linear(784, h), nn.LeakyReLU(slope), nn.Linear(h, h), nn.LeakyReLU(slope),
        nn.Linear(h, 11),
    ))
    return generator, discriminator


@register_builder("mdgan-cnn")
def build_mdgan_cnn(config: ModelConfig, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """MD-GAN MNIST CNN: |G| = 628,058, |D| = 286,048 (see the module docstring)."""
    _require_mnist_shape(config, sample_shape)
    generator = nn.Sequential(
        nn.Linear(config.latent_dim, 82 * 7 * 7), Reshape((82, 7, 7)), nn.ReLU(),
        nn.ConvTranspose2d(82, 107, 5, stride=2, padding=2, output_padding=1, bias=False),
        nn.BatchNorm2d(107), nn.ReLU(),
        nn.ConvTranspose2d(107, 1, 5, stride=2, padding=2, output_padding=1), nn.Tanh(),
    )
    slope = config.leaky_slope
    convs: list[nn.Module] = []
    for c_in, c_out, stride in ((1, 16, 2), (16, 32, 1), (32, 32, 2), (32, 32, 1), (32, 64, 2), (64, 128, 1)):
        convs += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.LeakyReLU(slope)]
    discriminator = AuxHeadLogit(nn.Sequential(
        *convs, nn.AdaptiveAvgPool2d(1), nn.Flatten(), MinibatchDiscrimination(128, 93, 14),
        nn.Linear(128 + 93, 11),
    ))
    return generator, discriminator


register_preset(ModelConfig(name="mdgan-mlp", builder="mdgan-mlp", latent_dim=100, hidden=512))
register_preset(ModelConfig(name="mdgan-cnn", builder="mdgan-cnn", latent_dim=100, hidden=0))
