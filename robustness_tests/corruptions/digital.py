"""Digital family: contrast, brightness, saturate, jpeg_compression, pixelate, elastic_transform."""

from __future__ import annotations

import math
from functools import lru_cache

import torch

from ._kernels import bilinear_sample, gaussian_filter
from ._random import Streams
from ._registry import register

CONTRAST = (0.4, 0.3, 0.2, 0.1, 0.05)
BRIGHTNESS = (0.1, 0.2, 0.3, 0.4, 0.5)
SATURATE = ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2))  # scale, shift of the saturation
JPEG = (25, 18, 15, 10, 7)
PIXELATE = (0.6, 0.5, 0.4, 0.3, 0.25)
# Built on 244 in the generator ("244 should have been 224"): kept, it is what the released data used.
ELASTIC = (
    (244 * 2, 244 * 0.7, 244 * 0.1),
    (244 * 2, 244 * 0.08, 244 * 0.2),
    (244 * 0.05, 244 * 0.01, 244 * 0.02),
    (244 * 0.07, 244 * 0.01, 244 * 0.02),
    (244 * 0.12, 244 * 0.01, 244 * 0.02),
)  # displacement scale, displacement smoothness (sigma), affine jitter


@register("contrast", "digital", random=False, cpu_chunk=1)
def contrast(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    c = CONTRAST[severity - 1]
    x = x.double() / 255.0
    means = x.mean(dim=(2, 3), keepdim=True)
    return ((x - means) * c + means).clamp(0, 1) * 255


def rgb_to_hsv(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """skimage.color.rgb2hsv on [N, 3, H, W] in [0, 1], operation for operation (so the float64 results
    are bit-identical): h, s, v as [N, H, W]. Where channels tie for the maximum the later one (blue over
    green over red) sets the hue, as skimage's successive assignments do."""
    r, g, b = x.unbind(1)
    v = torch.maximum(torch.maximum(r, g), b)
    delta = v - torch.minimum(torch.minimum(r, g), b)
    grey = delta == 0
    safe = torch.where(grey, 1.0, delta)
    h = torch.where(b == v, 4.0 + (r - g) / safe, torch.where(g == v, 2.0 + (b - r) / safe, (g - b) / safe))
    h = torch.where(grey, 0.0, torch.remainder(h / 6.0, 1.0))
    s = torch.where(grey, 0.0, delta / torch.where(v == 0, 1.0, v))
    return h, s, v


def hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """skimage.color.hsv2rgb, operation for operation: [N, H, W] planes to [N, 3, H, W]."""
    h6 = h * 6
    sector = torch.floor(h6)
    f = h6 - sector
    p = v * (1 - s)
    q = v * (1 - f * s)
    t = v * (1 - (1 - f) * s)
    sector = torch.remainder(sector, 6).to(torch.uint8)

    def choose(*per_sector: torch.Tensor) -> torch.Tensor:  # np.choose over the six sectors
        out = per_sector[5]
        for k in range(5):
            out = torch.where(sector == k, per_sector[k], out)
        return out

    return torch.stack([choose(v, q, p, p, t, v), choose(t, v, v, q, p, p), choose(p, p, t, v, v, q)], dim=1)


# HSV round trips run ~25 float64 passes over their planes: one image at a time keeps them in the cache.
@register("brightness", "digital", random=False, cpu_chunk=1)
def brightness(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    h, s, v = rgb_to_hsv(x.double() / 255.0)
    v = (v + BRIGHTNESS[severity - 1]).clamp_(0, 1)
    return hsv_to_rgb(h, s, v).clamp_(0, 1).mul_(255)


@register("saturate", "digital", random=False, cpu_chunk=1)
def saturate(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    scale, shift = SATURATE[severity - 1]
    h, s, v = rgb_to_hsv(x.double() / 255.0)
    s = (s * scale + shift).clamp_(0, 1)
    return hsv_to_rgb(h, s, v).clamp_(0, 1).mul_(255)


def jpeg_round_trip(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode with libjpeg at `quality` (4:2:0 chroma, as PIL's default) and decode; uint8 in and out.

    Runs on the CPU (libjpeg through torchvision, the library PIL wraps too) and returns to x's device.
    """
    from concurrent.futures import ThreadPoolExecutor

    from torchvision.io import decode_jpeg, encode_jpeg

    images = list(x.to("cpu", torch.uint8).contiguous().unbind(0))
    threads = max(1, min(torch.get_num_threads(), len(images)))
    if threads == 1:
        return torch.stack(decode_jpeg(encode_jpeg(images, quality=quality))).to(x.device)

    def round_trip(part):  # libjpeg releases the GIL: slices of the batch on several cores
        return decode_jpeg(encode_jpeg(part, quality=quality)) if part else []

    with ThreadPoolExecutor(threads) as pool:
        done = list(pool.map(round_trip, [images[i::threads] for i in range(threads)]))
    out = [None] * len(images)
    for i, chunk in enumerate(done):
        out[i::threads] = chunk
    return torch.stack(out).to(x.device)


@register("jpeg_compression", "digital", random=False, exact_uint8=True, cpu_chunk=None)
def jpeg_compression(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    return jpeg_round_trip(x, JPEG[severity - 1])


PRECISION_BITS = 22  # Pillow's fixed point for 8-bit resampling: 32 - 8 - 2


@lru_cache(maxsize=32)
def _box_taps(size_in: int, size_out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pillow's BOX resampling along one axis (precompute_coeffs, then normalize_coeffs_8bpc): for each
    output sample, the input indices it reads and their integer weights in units of 2^-22, [out, K]."""
    scale = size_in / size_out
    filterscale = max(scale, 1.0)
    support = 0.5 * filterscale
    rows = []
    for xx in range(size_out):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), size_in)
        weights = [1.0 if -0.5 <= (x - center + 0.5) / filterscale < 0.5 else 0.0 for x in range(xmin, xmax)]
        total = sum(weights)
        rows.append([(x, int((w / total if total else 0.0) * (1 << PRECISION_BITS) + 0.5))
                     for x, w in zip(range(xmin, xmax), weights)])
    k = max(len(r) for r in rows)
    index = torch.tensor([[x for x, _ in r] + [r[0][0]] * (k - len(r)) for r in rows])
    # int32 is exact: a sum is at most 255 * 2^22 + 2^21 < 2^31
    weight = torch.tensor([[w for _, w in r] + [0] * (k - len(r)) for r in rows], dtype=torch.int32)
    return index, weight


def pil_box_resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """PIL `Image.resize((width, height), Image.BOX)` on uint8 grey levels [N, C, H, W]: the horizontal
    pass, rounded to 8 bits, then the vertical pass, as Pillow does; integer-exact. Returns uint8."""

    def one_pass(v: torch.Tensor, size_out: int, dim: int) -> torch.Tensor:
        index, weight = _box_taps(v.shape[dim], size_out)
        index = index.to(v.device)
        if index.shape[1] == 1 and bool((weight == 1 << PRECISION_BITS).all()):
            return v.index_select(dim, index[:, 0])  # enlarging: each output copies one input exactly
        weight = weight.to(v.device)
        acc = torch.full_like(v.narrow(dim, 0, 1).expand(*v.shape[:dim], size_out, *v.shape[dim + 1:]),
                              1 << (PRECISION_BITS - 1), dtype=torch.int32)
        shape = [1] * v.dim()
        shape[dim] = size_out
        for k in range(index.shape[1]):  # a few taps: gather each and accumulate, all in int32
            acc.add_(v.index_select(dim, index[:, k]) * weight[:, k].view(shape))
        return (acc >> PRECISION_BITS).clamp_(0, 255).to(torch.uint8)

    x = x if not x.is_floating_point() else x.round().clamp(0, 255)
    x = x.to(torch.uint8)
    rows = x.dim() - 2  # gathering whole rows is ~6x faster than gathering along the last axis
    if width != x.shape[-1]:
        x = one_pass(x.transpose(-1, -2).contiguous(), width, rows).transpose(-1, -2).contiguous()
    if height != x.shape[-2]:
        x = one_pass(x, height, rows)
    return x


@register("pixelate", "digital", random=False, min_size=lambda s: math.ceil(1 / PIXELATE[s - 1]), exact_uint8=True)
def pixelate(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    c = PIXELATE[severity - 1]
    h, w = x.shape[-2:]
    # the reference writes int(224 * c) for both sides
    small = pil_box_resize(x, int(h * c), int(w * c))
    return pil_box_resize(small, h, w)


def affine_from_points(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """cv2.getAffineTransform: the [N, 2, 3] matrices mapping three points src -> dst, [N, 3, 2] (x, y)."""
    n = src.shape[0]
    a = torch.zeros(n, 6, 6, dtype=torch.float64)
    b = dst.reshape(n, 6).double()
    for i in range(3):
        a[:, 2 * i, 0:2] = src[:, i].double()
        a[:, 2 * i, 2] = 1
        a[:, 2 * i + 1, 3:5] = src[:, i].double()
        a[:, 2 * i + 1, 5] = 1
    return torch.linalg.solve(a, b).reshape(n, 2, 3)


def warp_affine(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """cv2.warpAffine(x, M, (W, H)) with INTER_LINEAR and BORDER_REFLECT_101: dst(p) = src(M^-1 p), the
    source coordinates rounded to 1/32 pixel as OpenCV's interpolation tables are."""
    n, _, h, w = x.shape
    full = torch.cat([matrix, torch.tensor([[[0.0, 0.0, 1.0]]], dtype=torch.float64).expand(n, 1, 3)], dim=1)
    inverse = torch.linalg.inv(full)[:, :2, :, None, None]  # [N, 2, 3, 1, 1]
    xs = torch.arange(w, dtype=torch.float64)[None, :]
    ys = torch.arange(h, dtype=torch.float64)[:, None]
    source = inverse[:, :, 0] * xs + inverse[:, :, 1] * ys + inverse[:, :, 2]  # [N, 2, H, W]: (x, y)
    source = torch.floor(source * 32 + 0.5) / 32
    return bilinear_sample(x, source[:, 1].to(x.device), source[:, 0].to(x.device), "mirror")


@register("elastic_transform", "digital", random=True, min_size=8, cpu_chunk=1)
def elastic_transform(x: torch.Tensor, severity: int, rng: Streams) -> torch.Tensor:
    alpha, sigma, jitter = ELASTIC[severity - 1]
    n, _, h, w = x.shape
    x = x / 255.0
    # random affine: three points around the centre, each moved by up to `jitter` pixels
    centre = torch.tensor([h // 2, w // 2], dtype=torch.float64)  # np.float32(shape_size) // 2: (rows, cols)
    size = min(h, w) // 3
    points = torch.stack(
        [centre + size, torch.stack([centre[0] + size, centre[1] - size]), centre - size]
    ).float()  # the reference's pts1, in (row, col) order that it passes to OpenCV as (x, y)
    moved = points + rng.uniform((3, 2), -jitter, jitter).cpu().float()
    x = warp_affine(x, affine_from_points(points.expand(n, 3, 2), moved))
    # smooth random displacement fields, scipy 'reflect' borders, truncate 3
    fields = gaussian_filter(rng.uniform((2, h, w), -1, 1), sigma, mode="reflect", truncate=3.0) * alpha
    dx, dy = fields[:, 0], fields[:, 1]
    rows = torch.arange(h, device=x.device, dtype=torch.float32)[None, :, None] + dy
    cols = torch.arange(w, device=x.device, dtype=torch.float32)[None, None, :] + dx
    return map_coordinates_reflect(x, rows, cols).clamp(0, 1) * 255


def map_coordinates_reflect(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """scipy.ndimage.map_coordinates(order=1, mode='reflect') at (rows, cols) [N, H, W], every channel."""
    return bilinear_sample(x, rows, cols, "reflect")

