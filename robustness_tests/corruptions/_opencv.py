"""OpenCV routines that spatter's water mode chains, on uint8-valued [N, 1, H, W] tensors (values as
floats): Canny, distanceTransform, equalizeHist, box blur and filter2D, with OpenCV's borders and
rounding. Each follows the semantics documented for OpenCV 4 (cv::Canny with L1 gradients and
3x3 Sobel, BORDER_REPLICATE; the 5x5 chamfer mask of DIST_L2 in 16-bit fixed point; ...)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _correlate3(x: torch.Tensor, kernel: list[list[float]], pad_mode: str) -> torch.Tensor:
    k = torch.tensor(kernel, dtype=x.dtype, device=x.device)[None, None]
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode=pad_mode), k)


def saturate_uint8(x: torch.Tensor) -> torch.Tensor:
    """saturate_cast<uchar>: round half to even, clip to 0..255."""
    return torch.round(x).clamp(0, 255)


def canny(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """cv2.Canny(x, low, high): 255 on edges, 0 elsewhere."""
    dx = _correlate3(x, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], "replicate")
    dy = _correlate3(x, [[-1, -2, -1], [0, 0, 0], [1, 2, 1]], "replicate")
    mag = dx.abs() + dy.abs()
    m = F.pad(mag, (1, 1, 1, 1))  # outside the image the magnitude is 0
    h, w = x.shape[-2:]

    def at(dr: int, dc: int) -> torch.Tensor:
        return m[..., 1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]

    shift = 1 << 15
    ax, ay = dx.abs(), dy.abs() * shift
    tg22x = ax * 13573  # tan(22.5 deg) in 15-bit fixed point
    tg67x = tg22x + ax * (shift * 2)
    horizontal = ay < tg22x
    vertical = ~horizontal & (ay > tg67x)  # neither: diagonal
    same_sign = (dx * dy) >= 0  # (xs ^ ys) >= 0: s = +1
    local_max = torch.where(
        horizontal,
        (mag > at(0, -1)) & (mag >= at(0, 1)),
        torch.where(
            vertical,
            (mag > at(-1, 0)) & (mag >= at(1, 0)),
            torch.where(same_sign, (mag > at(-1, -1)) & (mag > at(1, 1)), (mag > at(-1, 1)) & (mag > at(1, -1))),
        ),
    )
    candidate = (mag > low) & local_max
    strong = candidate & (mag > high)
    weak = candidate & ~strong
    h, w = strong.shape[-2:]
    while True:  # hysteresis: weak pixels 8-connected to a strong one become strong
        before = strong
        for _ in range(8):  # a few rings per convergence check
            p = F.pad(strong, (1, 1, 1, 1))
            ring = p[..., :h, :w] | p[..., :h, 1 : w + 1] | p[..., :h, 2:] | p[..., 1 : h + 1, :w] \
                | p[..., 1 : h + 1, 2:] | p[..., 2:, :w] | p[..., 2:, 1 : w + 1] | p[..., 2:, 2:]
            strong = strong | (weak & ring)
        if torch.equal(strong, before):
            break
    return strong.to(x.dtype) * 255


def distance_transform_l2_5(x: torch.Tensor, limit: float | None = None) -> torch.Tensor:
    """cv2.distanceTransform(x, DIST_L2, 5): distance to the nearest zero pixel under the 5x5 chamfer mask
    (1, 1.4, 2.1969) in OpenCV's 16-bit fixed point, by its two raster passes.

    Each pass runs row by row, vectorised over the batch and the row: first the candidates from the two
    rows already done, then the left (right) neighbour, whose chain d[j] = min(t[j], d[j-1] + a) is a
    running minimum: a*j + cummin(t[k] - a*k). Outside the image is "far", as OpenCV's border is.
    `limit` is accepted for callers that truncate the result afterwards; the passes are exact anyway.
    """
    a, b, c = 65536, round(1.4 * 65536), round(2.1969 * 65536)
    far = 1 << 40
    n, ch, h, w = x.shape
    d = torch.where(x == 0, 0, far).to(torch.int64).reshape(n * ch, h, w)
    pad = torch.full((n * ch, h + 4, w + 4), far, dtype=torch.int64, device=x.device)
    pad[:, 2 : h + 2, 2 : w + 2] = d
    ramp = torch.arange(w, device=x.device, dtype=torch.int64) * a
    # (row offset, column offset, cost) read by the forward pass; the backward pass mirrors them
    upper = ((-2, -1, c), (-2, 1, c), (-1, -2, c), (-1, -1, b), (-1, 0, a), (-1, 1, b), (-1, 2, c))
    for direction in (1, -1):
        rows = range(h) if direction == 1 else range(h - 1, -1, -1)
        for i in rows:
            r = i + 2
            t = pad[:, r, 2 : w + 2]
            for dr, dc, cost in upper:
                dr, dc = dr * direction, dc * direction
                t = torch.minimum(t, pad[:, r + dr, 2 + dc : 2 + dc + w] + cost)
            if direction == 1:
                t = ramp + torch.cummin(t - ramp, dim=1).values
            else:
                back = ramp.flip(0)
                t = back + torch.cummin((t - back).flip(1), dim=1).values.flip(1)
            pad[:, r, 2 : w + 2] = t
    d = pad[:, 2 : h + 2, 2 : w + 2].clamp(max=far).reshape(n, ch, h, w)
    return (d.double() / 65536).to(torch.float32).to(x.dtype)


def box_blur3(x: torch.Tensor) -> torch.Tensor:
    """cv2.blur(x, (3, 3)) before its final cast (BORDER_REFLECT_101): the sum times 1/9 in double,
    then float32, as OpenCV's box filter computes it."""
    total = _correlate3(x.double(), [[1.0] * 3] * 3, "reflect")
    return (total * (1.0 / 9)).float().to(x.dtype)


def equalize_hist(x: torch.Tensor) -> torch.Tensor:
    """cv2.equalizeHist per image of [N, 1, H, W] uint8 values."""
    out = torch.empty_like(x)
    for i, image in enumerate(x):
        flat = image.flatten().long()
        hist = torch.bincount(flat, minlength=256)
        first = int(torch.nonzero(hist)[0])
        total = flat.numel()
        if int(hist[first]) == total:
            out[i] = first
            continue
        scale = torch.tensor(255.0 / (total - int(hist[first])), dtype=torch.float32)
        cumulative = torch.cumsum(hist, 0) - hist[first]
        lut = saturate_uint8(cumulative.to(torch.float32) * scale)
        lut[: first + 1] = 0
        out[i] = lut[flat].reshape(image.shape).to(x.dtype)
    return out


def filter2d_uint8(x: torch.Tensor, kernel: list[list[float]]) -> torch.Tensor:
    """cv2.filter2D(x, cv2.CV_8U, kernel) on uint8 values (BORDER_REFLECT_101, saturated)."""
    return saturate_uint8(_correlate3(x, kernel, "reflect"))
