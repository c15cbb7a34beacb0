"""Building blocks shared by the corruption families, each matching one routine of the reference stack.

The reference generator (make_imagenet_c.py) works on one HWC image with scipy, scikit-image, OpenCV,
PIL and ImageMagick. Each function here is the batched torch equivalent of one such routine on
[N, C, H, W] tensors, with the same boundary handling; the name of the routine it replaces is in its
docstring. Linear filters are applied as [n, n] operator matrices built once per size, which handle any
boundary mode and any width (a Gaussian with sigma 170 and truncate 3 has 1025 taps on 224 samples),
cut into row blocks that skip the zeros of narrow filters.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

# -- boundary modes ---------------------------------------------------------------------------------


def extend(index: torch.Tensor, n: int, mode: str) -> torch.Tensor:
    """Map any integer index into [0, n) as the named boundary mode does.

    nearest   a a a | a b c d | d d d   (scipy 'nearest', OpenCV BORDER_REPLICATE, ImageMagick edge)
    reflect   b a | a b c d | d c       (scipy / scikit-image 'reflect': the edge sample repeats)
    mirror    c b | a b c d | c b       (scipy 'mirror', OpenCV BORDER_REFLECT_101, torch 'reflect')
    """
    if mode == "nearest":
        return index.clamp(0, n - 1)
    if n == 1:
        return torch.zeros_like(index)
    if mode == "reflect":
        period = 2 * n
        i = index.remainder(period)
        return torch.where(i >= n, period - 1 - i, i)
    if mode == "mirror":
        period = 2 * n - 2
        i = index.remainder(period)
        return torch.where(i >= n, period - i, i)
    raise ValueError(f"unknown boundary mode {mode!r}")


# -- linear filters as matrices ---------------------------------------------------------------------


def gaussian_taps(sigma: float, truncate: float) -> torch.Tensor:
    """scipy.ndimage's Gaussian kernel: radius int(truncate * sigma + 0.5), normalised to sum 1."""
    radius = int(truncate * float(sigma) + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    taps = torch.exp(-0.5 / (sigma * sigma) * x * x)
    return taps / taps.sum()


@lru_cache(maxsize=256)
def _filter_matrix(n: int, taps: tuple[float, ...], mode: str) -> torch.Tensor:
    radius = len(taps) // 2
    out = torch.arange(n).unsqueeze(1)
    offsets = torch.arange(-radius, radius + 1).unsqueeze(0)
    source = extend(out + offsets, n, mode)  # [n, taps]
    matrix = torch.zeros(n, n, dtype=torch.float64)
    matrix.scatter_add_(1, source, torch.tensor(taps, dtype=torch.float64).expand(n, -1).contiguous())
    return matrix


def filter_matrix(n: int, taps: torch.Tensor, mode: str, like: torch.Tensor) -> torch.Tensor:
    """[n, n] matrix M with (M @ v)[o] = sum_k taps[k] * v[extend(o + k - radius)] (a 1-D correlation)."""
    key = tuple(float(t) for t in taps.tolist())
    return _filter_matrix(n, key, mode).to(device=like.device, dtype=like.dtype)


def separable(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Apply `rows` along H and `cols` along W of [..., H, W]."""
    return torch.matmul(torch.matmul(rows, x), cols.transpose(0, 1))


BAND_BLOCK = 32  # output rows per block of a banded filter matrix


@lru_cache(maxsize=256)
def _band_blocks(n: int, taps: tuple[float, ...], mode: str) -> tuple[tuple[int, int, int, int, torch.Tensor], ...]:
    """A filter matrix cut into blocks of BAND_BLOCK output rows, each with only the input columns it
    reads: (out_start, out_end, in_start, in_end, block). A narrow filter (a few dozen taps on 224 samples)
    then costs a fraction of the dense product; a wide one degrades to it."""
    matrix = _filter_matrix(n, taps, mode)
    blocks = []
    for start in range(0, n, BAND_BLOCK):
        end = min(n, start + BAND_BLOCK)
        used = (matrix[start:end] != 0).any(0).nonzero().flatten()
        first, last = int(used.min()), int(used.max()) + 1
        blocks.append((start, end, first, last, matrix[start:end, first:last].contiguous()))
    return tuple(blocks)


def gaussian_filter(x: torch.Tensor, sigma: float, *, mode: str = "nearest", truncate: float = 4.0) -> torch.Tensor:
    """scipy.ndimage.gaussian_filter over the last two axes (what skimage.filters.gaussian does per channel):
    the rows' filter matrix from the left, the columns' from the right, each applied block by block."""
    key = tuple(float(t) for t in gaussian_taps(sigma, truncate).tolist())
    h, w = x.shape[-2:]
    down = torch.empty_like(x)
    for start, end, first, last, block in _band_blocks(h, key, mode):
        torch.matmul(block.to(x.device, x.dtype), x[..., first:last, :], out=down[..., start:end, :])
    out = torch.empty_like(x)
    for start, end, first, last, block in _band_blocks(w, key, mode):
        torch.matmul(down[..., :, first:last], block.to(x.device, x.dtype).T, out=out[..., :, start:end])
    return out


def correlate2d_fft(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """cv2.filter2D(x, -1, kernel) with BORDER_REFLECT_101 for a square odd kernel, through the FFT."""
    k = kernel.shape[-1]
    r = k // 2
    h, w = x.shape[-2:]
    padded = torch.nn.functional.pad(x, (r, r, r, r), mode="reflect")
    ph, pw = padded.shape[-2:]
    # correlation = convolution with the flipped kernel; place it so that output (r, r) is aligned
    spectrum = torch.fft.rfft2(padded, s=(ph, pw))
    kspec = torch.fft.rfft2(kernel.flip(-1, -2).to(x.dtype), s=(ph, pw))
    full = torch.fft.irfft2(spectrum * kspec, s=(ph, pw))
    return full[..., 2 * r : 2 * r + h, 2 * r : 2 * r + w]


# -- resampling -------------------------------------------------------------------------------------


def numpy_arange(start: float, stop: float, step: float) -> list[float]:
    """np.arange for floats, to the last bit: ceil((stop - start) / step) values start + i * delta, where
    numpy's delta is (start + step) - start."""
    count = math.ceil((stop - start) / step)
    delta = (start + step) - start
    return [start + i * delta for i in range(count)]


def clipped_zoom(x: torch.Tensor, zoom: float) -> torch.Tensor:
    """make_imagenet_c.py's clipped_zoom on [..., H, W] (the reference assumes a square image).

    scipy.ndimage.zoom(order=1) maps output o to input o * (crop - 1) / (out - 1): bilinear interpolation
    with aligned corners, which F.interpolate computes in one vectorised pass.
    """
    h, w = x.shape[-2:]
    crops = [math.ceil(n / zoom) for n in (h, w)]
    tops = [(n - c) // 2 for n, c in zip((h, w), crops)]
    outs = [round(c * zoom) for c in crops]
    trims = [(o - n) // 2 for o, n in zip(outs, (h, w))]
    lead = x.shape[:-2]
    crop = x[..., tops[0] : tops[0] + crops[0], tops[1] : tops[1] + crops[1]].reshape(-1, 1, *crops)
    big = torch.nn.functional.interpolate(crop, size=outs, mode="bilinear", align_corners=True)
    return big[..., trims[0] : trims[0] + h, trims[1] : trims[1] + w].reshape(*lead, h, w)


def bilinear_sample(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, mode: str) -> torch.Tensor:
    """Sample [N, C, H, W] at real coordinates rows/cols [N, H', W'] with linear interpolation; neighbours
    outside the image are mapped back with `mode` (see `extend`): 'mirror' (OpenCV BORDER_REFLECT_101),
    'reflect' (scipy's half-sample reflection) or 'nearest'.

    One F.grid_sample call. Its reflection padding reflects the coordinate about the first and last pixel
    centres (align_corners=True) or the image edges (align_corners=False); a linear interpolation of a
    signal extended symmetrically about a point equals the interpolation at the reflected coordinate, so
    both match the index-extension definition exactly (tested against scipy's map_coordinates).
    """
    h, w = x.shape[-2:]
    corners = {"mirror": True, "reflect": False, "nearest": True}[mode]
    padding = "border" if mode == "nearest" else "reflection"

    def normalise(coord: torch.Tensor, size: int) -> torch.Tensor:
        if corners:
            return coord * (2.0 / max(size - 1, 1)) - 1.0
        return (coord * 2.0 + 1.0) / size - 1.0

    grid = torch.stack([normalise(cols, w), normalise(rows, h)], dim=-1).to(x.dtype)
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=corners)


# -- ImageMagick ------------------------------------------------------------------------------------


def magick_motion_blur(x: torch.Tensor, radius: float, sigma: float, angles: torch.Tensor) -> torch.Tensor:
    """ImageMagick 6's MotionBlurImage (what Wand's `motion_blur` calls) on [N, C, H, W] grey levels.

    A one-sided Gaussian line kernel: width 2 * ceil(radius) + 1 taps, weight of tap i proportional to
    exp(-i^2 / (2 sigma^2)), tap i reads the pixel at offset (ceil(i cos a - 0.5), ceil(i sin a - 0.5))
    (x, y) from the output pixel, out-of-image reads repeat the edge. Returns unrounded sums.
    """
    n, _c, h, w = x.shape
    width = int(2 * math.ceil(radius) + 1)
    i = torch.arange(width, dtype=torch.float64)
    kernel = torch.exp(-(i * i) / (2.0 * sigma * sigma))
    kernel = (kernel / kernel.sum()).tolist()
    theta = torch.deg2rad(angles.to(torch.float64).cpu())
    px, py = width * torch.sin(theta), width * torch.cos(theta)
    norm = torch.hypot(px, py)
    dx = torch.ceil(i.unsqueeze(0) * py.unsqueeze(1) / norm.unsqueeze(1) - 0.5).long().tolist()  # [N][width]
    dy = torch.ceil(i.unsqueeze(0) * px.unsqueeze(1) / norm.unsqueeze(1) - 0.5).long().tolist()
    # Edge-repeating padding once; every tap is then a shifted view of it (no gather), accumulated in
    # float64 as ImageMagick does (float32 sums move ~10x more pixels across a rounding edge).
    pad = width
    padded = torch.nn.functional.pad(x.double(), (pad, pad, pad, pad), mode="replicate")
    out = torch.zeros_like(x, dtype=torch.float64)
    for image in range(n):
        taps: dict[tuple[int, int], float] = {}
        for t in range(width):  # near 45 degrees neighbouring taps read the same pixel: one pass for both
            offset = (dy[image][t], dx[image][t])
            taps[offset] = taps.get(offset, 0.0) + kernel[t]
        target, source = out[image], padded[image]
        for (oy, ox), weight in taps.items():
            target.add_(source[:, pad + oy : pad + oy + h, pad + ox : pad + ox + w], alpha=weight)
    return out.to(x.dtype)


def magick_quantize(x: torch.Tensor) -> torch.Tensor:
    """8-bit grey levels as ImageMagick (Q16) stores a sum, rounded to 16 bits, and then writes it as an
    8-bit PNG, which truncates (checked pixel-exact against Wand on real images)."""
    q = torch.floor(x.double() * 257.0 + 0.5).clamp(0, 65535)
    return torch.floor(q / 257.0).to(x.dtype)


# -- conversions ------------------------------------------------------------------------------------


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """`np.uint8(img)` as the generator does before saving: clip to [0, 255], truncate."""
    return x.clamp(0, 255).to(torch.uint8)


def rgb_to_grey(x: torch.Tensor) -> torch.Tensor:
    """cv2.cvtColor(RGB2GRAY) on floats: 0.299 R + 0.587 G + 0.114 B, [N, 1, H, W]."""
    return 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
