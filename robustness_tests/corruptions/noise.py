"""Noise family: gaussian_noise, shot_noise, impulse_noise, speckle_noise (make_imagenet_c.py)."""

from __future__ import annotations

import torch

from ._random import Streams
from ._registry import register

GAUSSIAN = (0.08, 0.12, 0.18, 0.26, 0.38)
SHOT = (60, 25, 12, 5, 3)
IMPULSE = (0.03, 0.06, 0.09, 0.17, 0.27)
SPECKLE = (0.15, 0.2, 0.35, 0.45, 0.6)


@register("gaussian_noise", "noise", random=True)
def gaussian_noise(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    x = x / 255.0
    return (x + rng.normal(x.shape[1:], std=GAUSSIAN[severity - 1])).clamp(0, 1) * 255


@register("shot_noise", "noise", random=True)
def shot_noise(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    c = SHOT[severity - 1]
    return (rng.poisson(x / 255.0 * c) / c).clamp(0, 1) * 255


@register("impulse_noise", "noise", random=True)
def impulse_noise(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    """skimage.util.random_noise(mode='s&p', amount=c): every value (each channel on its own) is replaced
    with probability c, by 1 or 0 with equal odds."""
    amount = IMPULSE[severity - 1]
    flipped = rng.uniform(x.shape[1:]) <= amount
    salted = rng.uniform(x.shape[1:]) <= 0.5
    x = x / 255.0
    x = torch.where(flipped & salted, torch.ones_like(x), x)
    x = torch.where(flipped & ~salted, torch.zeros_like(x), x)
    return x * 255


@register("speckle_noise", "noise", random=True)
def speckle_noise(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    x = x / 255.0
    return (x + x * rng.normal(x.shape[1:], std=SPECKLE[severity - 1])).clamp(0, 1) * 255
