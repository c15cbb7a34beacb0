"""Blur family: defocus_blur, glass_blur, motion_blur, zoom_blur, gaussian_blur (make_imagenet_c.py)."""

from __future__ import annotations

from functools import lru_cache

import torch

from ._kernels import (
    clipped_zoom,
    correlate2d_fft,
    filter_matrix,
    gaussian_filter,
    magick_motion_blur,
    magick_quantize,
    numpy_arange,
    separable,
)
from ._random import Streams
from ._registry import register

DEFOCUS = ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))  # disk radius, alias blur
GLASS = ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))  # sigma, max delta, iterations
MOTION = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))  # ImageMagick radius, sigma
ZOOMS = tuple(
    tuple(numpy_arange(1, stop, step))
    for stop, step in ((1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03))
)
GAUSSIAN = (1, 2, 3, 4, 6)


@lru_cache(maxsize=8)
def disk(radius: int, alias_blur: float) -> torch.Tensor:
    """The generator's `disk`: an aliased disk on a 17x17 grid (radius <= 8) or (2r+1)^2, normalised,
    then cv2.GaussianBlur with a 3x3 (5x5 for radius > 8) kernel, reflect-101 borders."""
    half = max(8, radius)
    ksize = 3 if radius <= 8 else 5
    grid = torch.arange(-half, half + 1, dtype=torch.float64)
    aliased = ((grid[None, :] ** 2 + grid[:, None] ** 2) <= radius**2).to(torch.float64)
    aliased /= aliased.sum()
    x = torch.arange(ksize, dtype=torch.float64) - (ksize - 1) / 2
    taps = torch.exp(-(x * x) / (2 * alias_blur * alias_blur))
    taps /= taps.sum()
    m = filter_matrix(2 * half + 1, taps, "mirror", aliased)
    return separable(aliased, m, m).to(torch.float32)


@register("defocus_blur", "blur", random=False, cpu_chunk=1,
          min_size=lambda s: 2 * max(8, DEFOCUS[s - 1][0]) + 2)
def defocus_blur(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    radius, alias = DEFOCUS[severity - 1]
    kernel = disk(radius, alias).to(x.device)
    return correlate2d_fft(x / 255.0, kernel).clamp(0, 1) * 255


@lru_cache(maxsize=16)
def _glass_rounds(h: int, w: int, delta: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The generator's swap positions, (h, w) for h from H - d down to d + 1, w likewise, grouped in
    rounds that can run at once.

    Step k writes the pixel at its position from one at most d away, so two steps can only touch a
    common pixel when their positions are within 2d in both coordinates. Round of position (row r, col c)
    in visiting order: (2d + 1) * r + c. Steps in one round are then more than 2d apart, and any two steps
    that could touch a common pixel keep their order; so the rounds, in order, give exactly the
    sequential result.
    """
    rows = torch.arange(h - delta, delta, -1)
    cols = torch.arange(w - delta, delta, -1)
    r = torch.arange(len(rows))[:, None].expand(-1, len(cols))
    c = torch.arange(len(cols))[None, :].expand(len(rows), -1)
    order = ((2 * delta + 1) * r + c).flatten()
    flat = (rows[:, None] * w + cols[None, :]).flatten()
    visit = torch.arange(flat.numel())  # index of the swap in visiting order (for its random offset)
    sort = torch.argsort(order, stable=True)
    order, flat, visit = order[sort], flat[sort], visit[sort]
    counts = torch.unique_consecutive(order, return_counts=True)[1].tolist()
    return torch.stack([flat, visit]), [t for t in torch.split(torch.arange(flat.numel()), counts)]


def glass_shuffle(x: torch.Tensor, delta: int, iterations: int, rng: Streams) -> torch.Tensor:
    """The generator's "locally shuffle pixels" loop, batched, position by position in the reference order:
    dx, dy uniform integers in [-d, d), then `x[h, w], x[h', w'] = x[h', w'], x[h, w]`.

    On an HxWx3 numpy array that statement does not swap: `x[h, w]` is a view, so the second assignment
    writes the already-overwritten pixel back onto itself. The pixel at (h', w') is copied to (h, w)
    and nothing else changes. That is what made the released data, so that is what we do.
    """
    n, c, h, w = x.shape
    (positions, visit), rounds = _glass_rounds(h, w, delta)
    positions, visit = positions.to(x.device), visit.to(x.device)
    rounds = [members.to(x.device) for members in rounds]
    count = positions.numel()
    source = torch.arange(h * w, device=x.device).repeat(n, 1)  # pixel p of the result is pixel source[p]
    for _ in range(iterations):
        offsets = rng.randint(-delta, delta, (count, 2))  # [N, swaps, (dx, dy)] in visiting order
        shift = offsets[:, :, 1] * w + offsets[:, :, 0]
        targets = positions[None, :] + shift[:, visit]  # [N, swaps] in round order
        for members in rounds:
            source[:, positions[members]] = source.gather(1, targets[:, members])
    flat = x.reshape(n, c, h * w)
    return flat.gather(2, source[:, None, :].expand(n, c, -1)).reshape(n, c, h, w)


@register("glass_blur", "blur", random=True, cpu_chunk=16, min_size=lambda s: 2 * GLASS[s - 1][1] + 2)
def glass_blur(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    sigma, delta, iterations = GLASS[severity - 1]
    x = torch.floor(gaussian_filter(x / 255.0, sigma) * 255)  # np.uint8 truncates
    x = glass_shuffle(x, delta, iterations, rng)
    return gaussian_filter(x / 255.0, sigma).clamp(0, 1) * 255


def motion_blur_at(x: torch.Tensor, severity: int, angles: torch.Tensor) -> torch.Tensor:
    """motion_blur with given angles (degrees, one per image) instead of random ones."""
    radius, sigma = MOTION[severity - 1]
    return magick_quantize(magick_motion_blur(x, radius, sigma, angles))


@register("motion_blur", "blur", random=True)
def motion_blur(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    return motion_blur_at(x, severity, rng.uniform((), -45, 45))


@register("zoom_blur", "blur", random=False, min_size=4)
def zoom_blur(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    x = x / 255.0
    out = torch.zeros_like(x)
    for zoom in ZOOMS[severity - 1]:
        out += clipped_zoom(x, zoom)
    return ((x + out) / (len(ZOOMS[severity - 1]) + 1)).clamp(0, 1) * 255


@register("gaussian_blur", "blur", random=False)
def gaussian_blur(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    return gaussian_filter(x / 255.0, GAUSSIAN[severity - 1]).clamp(0, 1) * 255
