"""Noise family: gaussian_noise, shot_noise, impulse_noise, speckle_noise (make_imagenet_c.py).

The reference works in float64 on x / 255 and truncates np.clip(result, 0, 1) * 255 to uint8. Gaussian and
speckle noise are continuous, so computing x + noise directly in grey levels (float32) changes no
distribution. Shot and impulse noise have few outcomes per pixel, so they are sampled exactly, one uniform
number per value, straight to the uint8 the reference would write (see `_poisson_alias`, `_unchanged`).
All four run one image at a time on the CPU: random generation dominates and the image stays in cache.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ._random import Streams
from ._registry import register

GAUSSIAN = (0.08, 0.12, 0.18, 0.26, 0.38)
SHOT = (60, 25, 12, 5, 3)
IMPULSE = (0.03, 0.06, 0.09, 0.17, 0.27)
SPECKLE = (0.15, 0.2, 0.35, 0.45, 0.6)


@register("gaussian_noise", "noise", random=True, cpu_chunk=1)
def gaussian_noise(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    return rng.normal(x.shape[1:], std=255 * GAUSSIAN[severity - 1]).add_(x)


@register("speckle_noise", "noise", random=True, cpu_chunk=1)
def speckle_noise(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    return rng.normal(x.shape[1:], std=SPECKLE[severity - 1]).mul_(x).add_(x)


@lru_cache(maxsize=8)
def _poisson_alias(c: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Walker/Vose alias tables for the reference's shot noise at one severity.

    The reference writes np.uint8(clip(Poisson(v / 255 * c) / c, 0, 1) * 255): for grey level v the result
    is a function of min(K, c), so it has c + 1 outcomes. For each v: a table of c + 1 columns; column j
    keeps outcome j with probability keep[v, j], else gives alias[v, j]. Returns keep (float64 [256, c+1])
    and the uint8 results of each column's own and alias outcome ([256, c+1] each).
    """
    k = torch.arange(c + 1, dtype=torch.float64)
    lam = torch.arange(256, dtype=torch.float64) / 255.0 * c
    log_pmf = k * torch.log(lam[:, None].clamp_min(1e-300)) - lam[:, None] - torch.lgamma(k + 1)
    pmf = torch.exp(log_pmf)
    pmf[0] = torch.nn.functional.one_hot(torch.tensor(0), c + 1).double()  # lambda = 0: always 0
    pmf[:, c] = (1.0 - pmf[:, :c].sum(1)).clamp_min(0)  # P(K >= c): every such draw saturates to 255
    result = torch.floor((k / c).clamp(0, 1) * 255).to(torch.uint8)  # np.uint8(clip(k / c, 0, 1) * 255)
    keep = torch.ones(256, c + 1, dtype=torch.float64)
    alias = torch.arange(c + 1).repeat(256, 1)
    for v, row in enumerate((pmf / pmf.sum(1, keepdim=True) * (c + 1)).tolist()):
        small = [j for j, p in enumerate(row) if p < 1.0]
        large = [j for j, p in enumerate(row) if p >= 1.0]
        while small and large:
            s, g = small.pop(), large.pop()
            keep[v, s], alias[v, s] = row[s], g
            row[g] -= 1.0 - row[s]
            (small if row[g] < 1.0 else large).append(g)
        # what remains is 1 up to rounding: keeps itself (keep = 1, alias = itself)
    return keep, result.expand(256, -1).contiguous(), result[alias]


@register("shot_noise", "noise", random=True, exact_uint8=True, cpu_chunk=1)
def shot_noise(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    c = SHOT[severity - 1]
    keep, own, other = (t.to(x.device) for t in _poisson_alias(c))
    # one float64 uniform per value: its integer part after scaling picks the column, the fraction decides
    u = rng.uniform(x.shape[1:], dtype=torch.float64).mul_(c + 1)
    column = u.long().clamp_(max=c)
    index = x.long().mul_(c + 1).add_(column)
    stays = (u - column) < keep.flatten().take(index)
    return torch.where(stays, own.flatten().take(index), other.flatten().take(index))


@register("impulse_noise", "noise", random=True, exact_uint8=True, cpu_chunk=1)
def impulse_noise(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    """skimage.util.random_noise(mode='s&p', amount=a): each value (channels apart) flips with probability a,
    to 1 or 0 with equal odds; untouched values come back unchanged (v / 255. * 255 == v in float64 for
    every grey level).

    Only a few values flip, so the flips are drawn as the gaps between them: independent Bernoulli(a)
    trials are exactly a sequence of Geometric(a) gaps. That draws ~a * n numbers instead of n.
    """
    amount = IMPULSE[severity - 1]
    out = x.clone()
    for image, g in zip(out, rng.generators):
        flat = image.view(-1)
        positions = _bernoulli_positions(flat.numel(), amount, g)
        salt = torch.empty(positions.numel(), device=g.device).uniform_(generator=g) < 0.5
        flat[positions.to(flat.device)] = torch.where(salt.to(flat.device), 255, 0).to(torch.uint8)
    return out


def _bernoulli_positions(n: int, p: float, generator: torch.Generator) -> torch.Tensor:
    """The positions of successes in n independent Bernoulli(p) trials, drawn as Geometric(p) gaps."""
    expected = n * p
    count = int(expected + 8 * (expected * (1 - p)) ** 0.5 + 16)  # almost always enough in one draw
    ends = []
    last = torch.zeros((), dtype=torch.int64, device=generator.device)
    while True:
        gaps = torch.empty(count, device=generator.device).geometric_(p, generator=generator)
        ends.append(torch.cumsum(gaps.long(), 0) + last)
        last = ends[-1][-1]
        if last >= n:
            break
    positions = torch.cat(ends) - 1
    return positions[positions < n]
