"""The example's own GAN: a small DCGAN for 32x32 colour images, as a researcher would write it.

The testbed's interface: G maps a (batch, latent_dim) batch to images (batch, C, H, W) in [-1, 1];
D maps images to one logit per sample.  The constructors take what they name of ``latent_dim``,
``sample_shape`` and the experiment's ``model.kwargs`` (here ``width``).
"""

import torch
from torch import nn


class Generator(nn.Module):
    def __init__(self, latent_dim: int, sample_shape: tuple, width: int = 32) -> None:
        super().__init__()
        channels, size, _ = sample_shape
        self.width, self.start = width, size // 8
        self.project = nn.Linear(latent_dim, 4 * width * self.start ** 2)
        self.body = nn.Sequential(
            nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z).view(-1, 4 * self.width, self.start, self.start))


class Discriminator(nn.Module):
    def __init__(self, sample_shape: tuple, width: int = 32) -> None:
        super().__init__()
        channels, size, _ = sample_shape
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 4 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(4 * width * (size // 8) ** 2, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
