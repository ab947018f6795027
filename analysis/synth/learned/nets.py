"""Generator and discriminator of the mask-conditioned GAN (torch).

Generator: a U-Net on the one-hot class map (:mod:`.labels`). Skip connections carry the mask
to full resolution so its geometry is painted exactly where it is; variety comes from two
noise inputs, because a pix2pix generator given noise only at its input learns to ignore it:
a global latent vector ``z`` modulates every decoder block (FiLM: per-channel scale and shift,
e.g. brightness, contrast, texture strength of the whole frame) and per-pixel noise with a
learned strength is added in every decoder block (grain, shot noise, surface texture).

Discriminator: PatchGAN (each output scores a ~70-px patch), conditioned on the class map,
spectrally normalised in every layer (bounds its Lipschitz constant: the standard cure for the
runaway discriminator that starves a generator trained on few images), at two scales (full
and half resolution) so that both texture and whole-particle shading are judged. It returns
its intermediate features too, for the generator's feature-matching loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from analysis.synth.learned.labels import N_CLASSES

Z_DIM = 32
DOWNSAMPLINGS = 3  # inputs must be a multiple of 2**3 = 8 px per side


class _FiLM(nn.Module):
    """GroupNorm whose scale and shift come from the global latent ``z``."""

    def __init__(self, channels: int, z_dim: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(min(8, channels), channels, affine=False)
        self.affine = nn.Linear(z_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(z)[:, :, None, None].chunk(2, dim=1)
        return self.norm(x) * (1 + gamma) + beta


class _DecoderBlock(nn.Module):
    """Upsample, merge the skip, two convs with per-pixel noise and z-modulation."""

    def __init__(self, c_in: int, c_skip: int, c_out: int, z_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in + c_skip, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.film1 = _FiLM(c_out, z_dim)
        self.film2 = _FiLM(c_out, z_dim)
        self.noise_strength = nn.Parameter(torch.full((2, c_out, 1, 1), 0.1))

    def forward(self, x: torch.Tensor, skip: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
        x = self.conv1(torch.cat([x, skip], 1))
        x = x + self.noise_strength[0] * torch.randn_like(x[:, :1])
        x = F.leaky_relu(self.film1(x, z), 0.2)
        x = self.conv2(x)
        x = x + self.noise_strength[1] * torch.randn_like(x[:, :1])
        return F.leaky_relu(self.film2(x, z), 0.2)


class Generator(nn.Module):
    """(B, N_CLASSES, H, W) one-hot class map + (B, Z_DIM) latent -> (B, 1, H, W) in [-1, 1]."""

    def __init__(self, base_channels: int = 32, z_dim: int = Z_DIM) -> None:
        super().__init__()
        self.z_dim = z_dim
        ch = [base_channels * m for m in (1, 2, 4, 4)]
        self.stem = nn.Conv2d(N_CLASSES + 1, ch[0], 3, padding=1)  # + one spatial noise plane
        self.down = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(ch[i], ch[i + 1], 4, stride=2, padding=1),
                nn.GroupNorm(min(8, ch[i + 1]), ch[i + 1]),
                nn.LeakyReLU(0.2),
                nn.Conv2d(ch[i + 1], ch[i + 1], 3, padding=1),
                nn.LeakyReLU(0.2),
            )
            for i in range(DOWNSAMPLINGS)
        )
        self.up = nn.ModuleList(
            _DecoderBlock(ch[i + 1], ch[i], ch[i], z_dim) for i in reversed(range(DOWNSAMPLINGS))
        )
        self.head = nn.Conv2d(ch[0], 1, 3, padding=1)

    def forward(self, classes: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        b, _, h, w = classes.shape
        if z is None:
            z = torch.randn(b, self.z_dim, device=classes.device)
        noise = torch.randn(b, 1, h, w, device=classes.device)
        x = F.leaky_relu(self.stem(torch.cat([classes, noise], 1)), 0.2)
        skips = [x]
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips.pop()  # the bottleneck itself
        for block in self.up:
            x = block(x, skips.pop(), z)
        return torch.tanh(self.head(x))


class _PatchD(nn.Module):
    def __init__(self, c_in: int, base_channels: int) -> None:
        super().__init__()
        ch = [base_channels, base_channels * 2, base_channels * 4]
        self.layers = nn.ModuleList(
            [
                spectral_norm(nn.Conv2d(c_in, ch[0], 4, stride=2, padding=1)),
                spectral_norm(nn.Conv2d(ch[0], ch[1], 4, stride=2, padding=1)),
                spectral_norm(nn.Conv2d(ch[1], ch[2], 4, stride=2, padding=1)),
                spectral_norm(nn.Conv2d(ch[2], ch[2], 3, padding=1)),
            ]
        )
        self.out = spectral_norm(nn.Conv2d(ch[2], 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
            feats.append(x)
        return self.out(x), feats


class Discriminator(nn.Module):
    """(B, 1 + N_CLASSES, H, W) image + class map -> per-scale (patch logits, features)."""

    def __init__(self, base_channels: int = 32, scales: int = 2) -> None:
        super().__init__()
        self.nets = nn.ModuleList(_PatchD(1 + N_CLASSES, base_channels) for _ in range(scales))

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        out = []
        for i, net in enumerate(self.nets):
            if i:
                x = F.avg_pool2d(x, 2)
            out.append(net(x))
        return out


def diff_augment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Differentiable augmentation of discriminator inputs (Zhao et al. 2020, DiffAugment).

    ``x`` is (B, 1 + N_CLASSES, H, W): channel 0 the image in [-1, 1], the rest the class map.
    Brightness and contrast change the image channel only; translation (zero-padded shift of
    up to 1/8 of the side) and cutout (a square of 1/4 of the side set to 0) move image and
    mask together, so the pair stays consistent. Applied to real and generated inputs alike,
    it keeps a discriminator trained on tens of images from memorising them.
    """
    b, _, h, w = x.shape
    dev = x.device

    def rnd(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(dev)

    img, cls = x[:, :1], x[:, 1:]
    img = img + (rnd(b, 1, 1, 1) - 0.5) * 0.5
    mean = img.mean(dim=(1, 2, 3), keepdim=True)
    img = (img - mean) * (rnd(b, 1, 1, 1) * 0.6 + 0.7) + mean
    x = torch.cat([img, cls], 1)
    # Translation: shift each sample by whole pixels, zero fill.
    sy = ((rnd(b) - 0.5) * (h / 4)).round().long()
    sx = ((rnd(b) - 0.5) * (w / 4)).round().long()
    shifted = torch.zeros_like(x)
    for i in range(b):
        dy, dx = int(sy[i]), int(sx[i])
        src = x[i, :, max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
        shifted[
            i, :, max(0, dy) : max(0, dy) + src.shape[1], max(0, dx) : max(0, dx) + src.shape[2]
        ] = src
    x = shifted
    # Cutout.
    ch, cw = h // 4, w // 4
    cy = (rnd(b) * (h - ch)).long()
    cx = (rnd(b) * (w - cw)).long()
    keep = torch.ones_like(x[:, :1])
    for i in range(b):
        keep[i, :, int(cy[i]) : int(cy[i]) + ch, int(cx[i]) : int(cx[i]) + cw] = 0
    return x * keep
