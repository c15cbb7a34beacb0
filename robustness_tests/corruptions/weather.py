"""Weather family: snow, frost, fog, spatter (make_imagenet_c.py)."""

from __future__ import annotations

import math

import torch

from ..errors import UsageError
from ._kernels import (
    clipped_zoom,
    gaussian_filter,
    magick_motion_blur,
    magick_quantize,
    rgb_to_grey,
)
from ._random import Streams
from ._registry import register

SNOW = (
    (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
    (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
    (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
    (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
    (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
)  # mean, std, zoom, threshold, blur radius, blur sigma, image weight
FROST = ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75))  # image weight, frost weight
FOG = ((1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))  # fog strength, wibble decay
SPATTER = (
    (0.65, 0.3, 4, 0.69, 0.6, 0),
    (0.65, 0.3, 3, 0.68, 0.6, 0),
    (0.65, 0.3, 2, 0.68, 0.5, 0),
    (0.65, 0.3, 1, 0.65, 1.5, 1),
    (0.67, 0.4, 1, 0.65, 1.5, 1),
)  # mean, std, sigma, threshold, intensity / mud sigma, water (0) or mud (1)


@register("snow", "weather", random=True, cpu_chunk=1, min_size=8)
def snow(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    mean, std, zoom, threshold, radius, sigma, weight = SNOW[severity - 1]
    _n, _, h, w = x.shape
    x = x / 255.0
    layer = clipped_zoom(rng.normal((1, h, w), mean, std), zoom)
    layer = torch.where(layer < threshold, torch.zeros_like(layer), layer)
    layer = torch.floor(layer.clamp(0, 1) * 255)  # .astype(np.uint8) before the PNG round trip
    layer = magick_quantize(magick_motion_blur(layer, radius, sigma, rng.uniform((), -135, -45))) / 255.0
    x = weight * x + (1 - weight) * torch.maximum(x, rgb_to_grey(x) * 1.5 + 0.5)
    return (x + layer + layer.flip(-1, -2)).clamp(0, 1) * 255


@register("frost", "weather", random=True)
def frost(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    from ..data.frost import USED, frost_textures

    image_weight, frost_weight = FROST[severity - 1]
    _n, _, h, w = x.shape
    textures = frost_textures()
    smallest = min(t.shape[1] for t in textures), min(t.shape[2] for t in textures)
    if h >= smallest[0] or w >= smallest[1]:
        raise UsageError(
            f"frost needs images smaller than its textures ({smallest[0]}x{smallest[1]} for the smallest of "
            f"{', '.join(USED)}); got {h}x{w}. Fix: crop or resize the images first (ImageNet-C uses 224x224)."
        )
    draws = rng.uniform((3,)).cpu().double()
    crops = []
    for (u_texture, u_row, u_col) in draws.tolist():
        texture = textures[int(u_texture * len(textures))]
        top = int(u_row * (texture.shape[1] - h))  # randint(0, rows - 224)
        left = int(u_col * (texture.shape[2] - w))
        crops.append(texture[:, top : top + h, left : left + w])
    layer = torch.stack(crops).to(device=x.device, dtype=x.dtype)
    return image_weight * x + frost_weight * layer


def plasma_fractal(rng: Streams, mapsize: int, wibbledecay: float, device, dtype) -> torch.Tensor:
    """The generator's diamond-square height map, [N, mapsize, mapsize] in [0, 1], one per image.

    Kept from the reference: the random term is wibble * uniform(-wibble, wibble), so its size is wibble^2.
    """
    n = len(rng)
    m = torch.zeros(n, mapsize, mapsize, device=device, dtype=dtype)
    # every random number the construction needs, drawn at once per image, used in the reference's order
    sizes = []
    step = mapsize
    while step >= 2:
        sizes += [(mapsize // step) ** 2] * 3
        step //= 2
    draws = iter(torch.split(rng.uniform((sum(sizes),), -1.0, 1.0).to(dtype), sizes, dim=1))
    step = mapsize
    wibble = 100.0

    def wibbled_mean(total: torch.Tensor) -> torch.Tensor:
        return total / 4 + wibble * wibble * next(draws).view(total.shape)

    while step >= 2:
        half = step // 2
        corners = m[:, 0::step, 0::step]
        squares = corners + torch.roll(corners, -1, dims=1)
        squares = squares + torch.roll(squares, -1, dims=2)
        m[:, half::step, half::step] = wibbled_mean(squares)
        centres = m[:, half::step, half::step]
        corners = m[:, 0::step, 0::step]
        left = centres + torch.roll(centres, 1, dims=1) + corners + torch.roll(corners, -1, dims=2)
        m[:, 0::step, half::step] = wibbled_mean(left)
        top = centres + torch.roll(centres, 1, dims=2) + corners + torch.roll(corners, -1, dims=1)
        m[:, half::step, 0::step] = wibbled_mean(top)
        step //= 2
        wibble /= wibbledecay
    m = m - m.amin(dim=(1, 2), keepdim=True)
    return m / m.amax(dim=(1, 2), keepdim=True)


@register("fog", "weather", random=True)
def fog(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    strength, decay = FOG[severity - 1]
    _n, _, h, w = x.shape
    mapsize = max(256, 1 << math.ceil(math.log2(max(h, w))))  # the reference: 256, cropped to 224
    # float32 is plenty for a random height map (the reference's float64 changes nothing visible)
    fractal = plasma_fractal(rng, mapsize, decay, x.device, torch.float32)[:, None, :h, :w].to(x.dtype)
    x = x / 255.0
    peak = x.amax(dim=(1, 2, 3), keepdim=True)
    x = x + strength * fractal
    return (x * peak / (peak + strength)).clamp(0, 1) * 255


WATER = (175 / 255.0, 238 / 255.0, 238 / 255.0)  # "pale turquoise", added to channels 0, 1, 2 as given
MUD = (63 / 255.0, 42 / 255.0, 20 / 255.0)


EMBOSS = [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]  # the filter2D kernel of spatter's water mode


def liquid_layer(noise: torch.Tensor, sigma: float, threshold: float) -> torch.Tensor:
    """spatter's liquid layer: the smoothed noise (float64, as skimage), zero below the threshold."""
    liquid = gaussian_filter(noise.double(), sigma)
    return liquid.masked_fill_(liquid < threshold, 0)


def _by_chunks(fn, *tensors: torch.Tensor, out: torch.Tensor, size: int = 8) -> torch.Tensor:
    """fn(*slices, out=out slice) over `size` images at a time (cache-sized working sets); each call writes
    its result into its slice of `out`, so no concatenation copies the batch again."""
    for start in range(0, out.shape[0], size):
        fn(*(t[start : start + size] for t in tensors), out=out[start : start + size])
    return out


# The whole batch in one call: the distance transform's row-by-row passes cost per call, so it runs once
# over the batch; every other step, the uint8 -> float -> uint8 conversions included, runs on 8 images at
# a time (measured at batch 64: chunks of 4-16 run alike, 32 falls out of the cache and takes 1.6x longer).
@register("spatter", "weather", random=True, min_size=8, exact_uint8=True, cpu_chunk=None)
def spatter(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    from ._opencv import (
        box_blur3,
        canny,
        distance_transform_l2_5,
        equalize_hist,
        filter2d_uint8,
    )

    mean, std, sigma, threshold, intensity, mud = SPATTER[severity - 1]
    n, _, h, w = x.shape

    noise = rng.normal((1, h, w), mean, std)
    if mud:
        def mud_layer(noise: torch.Tensor, image: torch.Tensor, out: torch.Tensor) -> None:
            m = gaussian_filter((liquid_layer(noise, sigma, threshold) > threshold).float(), intensity)  # float32, as the reference
            m = torch.where(m < 0.8, torch.zeros_like(m), m)
            colour = torch.tensor(MUD, dtype=m.dtype, device=m.device).view(1, 3, 1, 1) * m
            out.copy_((image.float() / 255.0 * (1 - m) + colour).clamp_(0, 1).mul_(255))  # np.uint8 truncates

        return _by_chunks(mud_layer, noise, x, out=torch.empty_like(x))

    def edges(noise: torch.Tensor, out: torch.Tensor) -> None:
        # from here the reference works on uint8 and float32 (OpenCV): integer grey levels, exact in float32
        liquid = liquid_layer(noise, sigma, threshold).mul_(255).floor_().clamp_(0, 255).float()  # .astype(np.uint8)
        out[:, :1] = liquid
        torch.sub(255, canny(liquid, 50, 150), out=out[:, 1:])

    layers = _by_chunks(edges, noise, out=x.new_empty((n, 2, h, w), dtype=torch.float32))
    dist = distance_transform_l2_5(layers[:, 1:], limit=20)  # with its THRESH_TRUNC at 20

    def water(layers: torch.Tensor, dist: torch.Tensor, image: torch.Tensor, out: torch.Tensor) -> None:
        dist = torch.floor(box_blur3(dist))  # .astype(np.uint8)
        dist = equalize_hist(dist)
        dist = filter2d_uint8(dist, EMBOSS)
        dist = torch.round(box_blur3(dist))  # cv2.blur on uint8 rounds
        m = layers[:, :1] * dist  # uint8 * float32
        peak = m.amax(dim=(1, 2, 3), keepdim=True)
        m = m / torch.where(peak > 0, peak, torch.ones_like(peak)) * intensity
        colour = torch.tensor(WATER, dtype=m.dtype, device=m.device).view(1, 3, 1, 1)
        out.copy_((image.float() / 255.0 + m * colour).clamp_(0, 1).mul_(255))  # np.uint8 truncates

    return _by_chunks(water, layers, dist, x, out=torch.empty_like(x))
