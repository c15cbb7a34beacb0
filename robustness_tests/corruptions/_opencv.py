"""OpenCV routines that spatter's water mode chains, on uint8-valued [N, 1, H, W] tensors (values as
floats): Canny, distanceTransform, equalizeHist, box blur and filter2D, with OpenCV's borders and
rounding. Each follows the semantics documented for OpenCV 4 (cv::Canny with L1 gradients and
3x3 Sobel, BORDER_REPLICATE; the 5x5 chamfer mask of DIST_L2 in 16-bit fixed point; ...)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _correlate3(x: torch.Tensor, kernel: list[list[float]], pad_mode: str) -> torch.Tensor:
    """3x3 correlation as a sum of shifted views of the padded image (CPU conv2d has no fast path for one
    channel). Every caller passes integer grey levels and an integer kernel, so the sums are exact in
    float32 whatever their order."""
    padded = F.pad(x, (1, 1, 1, 1), mode=pad_mode)
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    for i, row in enumerate(kernel):
        for j, weight in enumerate(row):
            if weight:
                out.add_(padded[..., i : i + h, j : j + w], alpha=weight)
    return out


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
    far = 1 << 30  # int32 is enough: 2^30 plus a few costs stays below 2^31, real distances stay far below
    n, ch, h, w = x.shape
    pad = torch.full((n * ch, h + 4, w + 4), far, dtype=torch.int32, device=x.device)
    pad[:, 2 : h + 2, 2 : w + 2] = torch.where(x == 0, 0, far).reshape(n * ch, h, w)
    ramp = torch.arange(w, device=x.device, dtype=torch.int32) * a
    back = ramp.flip(0)
    # costs of the mask's already-visited neighbours: five in the row before (column offsets -2..2), two
    # in the row before that (-1, +1); the backward pass mirrors them (symmetric costs, same vectors)
    near = torch.tensor([c, b, a, b, c], dtype=torch.int32, device=x.device)
    next_near = torch.tensor([c, far - 1, c], dtype=torch.int32, device=x.device)  # no overflow: far + far - 1
    stride = pad.stride()

    def windows(r: int, size: int) -> torch.Tensor:  # [N, W, size] view: row r, columns j .. j + size - 1
        first = (5 - size) // 2
        return pad[:, r, first:].as_strided((n * ch, w, size), (stride[0], 1, 1))

    for direction in (1, -1):
        rows = range(2, h + 2) if direction == 1 else range(h + 1, 1, -1)
        for r in rows:
            t = torch.minimum(pad[:, r, 2 : w + 2], (windows(r - direction, 5) + near).amin(2))
            t = torch.minimum(t, (windows(r - 2 * direction, 3) + next_near).amin(2))
            if direction == 1:  # left neighbour chain d[j] = min(t[j], d[j-1] + a): a running minimum
                t = ramp + torch.cummin(t - ramp, dim=1).values
            else:
                t = back + torch.cummin((t - back).flip(1), dim=1).values.flip(1)
            pad[:, r, 2 : w + 2] = t
    d = pad[:, 2 : h + 2, 2 : w + 2].reshape(n, ch, h, w)
    return (d.float() * (1.0 / 65536)).to(x.dtype)  # one rounding to float32 (the scale is a power of 2)


def box_blur3(x: torch.Tensor) -> torch.Tensor:
    """cv2.blur(x, (3, 3)) before its final cast (BORDER_REFLECT_101): the (exact, integer) sum times 1/9
    in double, then float32, as OpenCV's box filter computes it."""
    total = _correlate3(x, [[1] * 3] * 3, "reflect")
    return (total.double() * (1.0 / 9)).float().to(x.dtype)


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
