"""OpenCV routines that spatter's water mode chains, on uint8-valued [N, 1, H, W] tensors (values as
floats): Canny, distanceTransform, equalizeHist, box blur and filter2D, with OpenCV's borders and
rounding. Each follows the semantics documented for OpenCV 4 (cv::Canny with L1 gradients and
3x3 Sobel, BORDER_REPLICATE; the 5x5 chamfer mask of DIST_L2 in 16-bit fixed point; ...)."""

from __future__ import annotations

import math

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


def _dilate3(mask: torch.Tensor) -> torch.Tensor:
    """3x3 binary dilation (8-connectivity), as two separable passes of shifted views."""
    h, w = mask.shape[-2:]
    p = F.pad(mask, (1, 1, 1, 1))
    rows = p[..., :, :w] | p[..., :, 1 : w + 1] | p[..., :, 2:]
    return rows[..., :h, :] | rows[..., 1 : h + 1, :] | rows[..., 2:, :]


def _any(mask: torch.Tensor) -> bool:
    """mask.any(), read 8 bytes at a time where the layout allows (bool reductions are slow on the CPU)."""
    if mask.is_contiguous() and mask.numel() % 8 == 0:
        return bool(mask.reshape(-1).view(torch.int64).any())
    return bool(mask.any())


def canny(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """cv2.Canny(x, low, high): 255 on edges, 0 elsewhere."""
    h, w = x.shape[-2:]
    # 3x3 Sobel (BORDER_REPLICATE) as its separable factors: [1, 2, 1] smoothing and [-1, 0, 1] difference
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    smooth = p[..., :, :w] + p[..., :, 2:]
    smooth.add_(p[..., :, 1 : w + 1], alpha=2)
    dy = smooth[..., 2:, :] - smooth[..., :h, :]
    diff = p[..., :, 2:] - p[..., :, :w]
    dx = diff[..., :h, :] + diff[..., 2:, :]
    dx.add_(diff[..., 1 : h + 1, :], alpha=2)
    ax, ay = dx.abs(), dy.abs()
    mag = ax + ay  # L1 gradient
    m = F.pad(mag, (1, 1, 1, 1))  # outside the image the magnitude is 0

    def at(dr: int, dc: int) -> torch.Tensor:
        return m[..., 1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w]

    # OpenCV's sectors in 15-bit fixed point: y = |dy| << 15, tg22x = |dx| * 13573 (tan 22.5 deg),
    # tg67x = tg22x + (|dx| << 16). Divided by 2^15 these are exact in float32 (|dx| < 2^10, 13573 < 2^14).
    tg22 = ax * (13573 / 32768)
    horizontal = ay < tg22
    vertical = (ay - 2 * ax) > tg22  # y > tg67x
    diagonal = ~(horizontal | vertical)
    same_sign = (dx < 0) == (dy < 0)  # (xs ^ ys) >= 0: the 45-degree diagonal, else the 135-degree one
    local_max = horizontal & (mag > at(0, -1)) & (mag >= at(0, 1))
    local_max |= vertical & (mag > at(-1, 0)) & (mag >= at(1, 0))
    local_max |= diagonal & same_sign & (mag > at(-1, -1)) & (mag > at(1, 1))
    local_max |= diagonal & ~same_sign & (mag > at(-1, 1)) & (mag > at(1, -1))
    candidate = local_max & (mag > low)
    strong = candidate & (mag > high)
    weak = candidate ^ strong
    frontier = strong
    while True:  # hysteresis: weak pixels 8-connected to a strong one become strong, one ring at a time
        grown = weak & _dilate3(frontier)
        if not _any(grown):
            break
        strong = strong | grown
        weak = weak ^ grown
        frontier = grown
    return strong.to(x.dtype) * 255


def distance_transform_l2_5(x: torch.Tensor, limit: float | None = None) -> torch.Tensor:
    """cv2.distanceTransform(x, DIST_L2, 5): distance to the nearest zero pixel under the 5x5 chamfer mask,
    by its two raster passes; with `limit`, distances above it come back as `limit` (cv2.threshold's
    THRESH_TRUNC, as spatter applies next).

    The OpenCV wheels the generator ran with (opencv-python 4.x on x86-64) dispatch this call to Intel
    IPP, which adds the mask's float32 costs (1, 1.4f, 2.1969f) in float32; OpenCV's own code would use
    16-bit fixed point (1.4 -> 91750/65536) and differ by up to 5e-4. Every float32 cost is a multiple of
    2^-23, so the passes here add them exactly in integer units of 2^-23 and round once to float32 at the
    end: equal to IPP's result up to its own float32 accumulation (a few ulps).

    Each pass runs row by row, vectorised over the batch and the row (rows are laid out [H, N, W] so that
    one row of every image is one contiguous block): first the candidates from the two rows already done,
    then the left neighbour, whose chain d[j] = min(t[j], d[j-1] + a) is a running minimum:
    a*j + cummin(t[k] - a*k). The backward pass is the forward pass on the image turned by 180 degrees (the
    mask's costs are symmetric). Outside the image is "far", as in OpenCV.

    With a small `limit` and width the units fit int32 (much faster on the CPU than 64 bits): "far" is then
    a cap just above the limit, which costs nothing, because every path through a capped pixel is longer
    than the cap anyway. Otherwise the units are float64, exact below 2^53.
    """
    a, b, c = 1 << 23, 11744051, 18428932  # float32 1, 1.4f, 2.1969f in units of 2^-23, exactly
    n, ch, h, w = x.shape
    if limit is not None and limit < 200 and w <= 256:
        dtype, far = torch.int32, (math.floor(limit) + 3) * a  # cap + c and a * (w - 1) stay below 2^31
    else:
        dtype, far = torch.float64, float(1 << 50)
    pad = torch.full((h + 4, n * ch, w + 4), far, dtype=dtype, device=x.device)
    pad[2 : h + 2, :, 2 : w + 2].masked_fill_((x == 0).reshape(n * ch, h, w).transpose(0, 1), 0)  # sources
    ramp = torch.arange(w, device=x.device, dtype=dtype) * a
    best = torch.empty((n * ch, w), dtype=dtype, device=x.device)
    diagonal = torch.empty_like(best)
    chain = (torch.empty_like(best), torch.empty((n * ch, w), dtype=torch.long, device=x.device))

    def forward_pass(pad: torch.Tensor) -> None:
        for r in range(2, h + 2):
            above, above2 = pad[r - 1], pad[r - 2]
            # knight moves (cost c): columns -2, +2 of the row above, -1, +1 of the row before that
            torch.minimum(above[:, :w], above[:, 4:], out=best)
            torch.minimum(best, above2[:, 1 : w + 1], out=best)
            torch.minimum(best, above2[:, 3 : w + 3], out=best)
            torch.minimum(above[:, 1 : w + 1], above[:, 3 : w + 3], out=diagonal)  # cost b
            best.add_(c - b)
            torch.minimum(best, diagonal, out=best)
            best.add_(b - a)
            torch.minimum(best, above[:, 2 : w + 2], out=best)  # straight up, cost a
            best.add_(a)
            row = pad[r, :, 2 : w + 2]
            torch.minimum(best, row, out=best)
            best.sub_(ramp)
            torch.cummin(best, dim=1, out=chain)
            torch.add(chain[0], ramp, out=row)

    forward_pass(pad)
    turned = pad.flip(0, 2)
    forward_pass(turned)
    d = turned[2 : h + 2, :, 2 : w + 2].flip(0, 2).transpose(0, 1).reshape(n, ch, h, w)
    d = d.float() * 2.0**-23  # one correct rounding to float32, then an exact power-of-2 scale
    return (d if limit is None else d.clamp(max=limit)).to(x.dtype)


def box_blur3(x: torch.Tensor) -> torch.Tensor:
    """cv2.blur(x, (3, 3)) before its final cast (BORDER_REFLECT_101): the (exact, integer) sum times 1/9
    in double, then float32, as OpenCV's box filter computes it."""
    total = _correlate3(x, [[1] * 3] * 3, "reflect")
    return (total.double() * (1.0 / 9)).float().to(x.dtype)


def equalize_hist(x: torch.Tensor) -> torch.Tensor:
    """cv2.equalizeHist per image of [N, 1, H, W] uint8 values, all images at once."""
    n = x.shape[0]
    flat = x.reshape(n, -1).long()
    total = flat.shape[1]
    offsets = torch.arange(n, device=x.device)[:, None] * 256
    hist = torch.bincount((flat + offsets).reshape(-1), minlength=256 * n).reshape(n, 256)
    first = (hist > 0).int().argmax(dim=1, keepdim=True)  # the lowest grey level present
    count = hist.gather(1, first)
    # OpenCV: scale = 255 / (total - hist[first]) in float32, lut = saturate(cumulative count * scale), with
    # the levels up to the first one at 0; an image of one grey level maps to itself
    rest = (total - count).clamp(min=1)
    scale = (255.0 / rest.double()).float()
    cumulative = torch.cumsum(hist, dim=1) - count
    lut = saturate_uint8(cumulative.float() * scale)
    lut = torch.where(torch.arange(256, device=x.device) <= first, torch.zeros_like(lut), lut)
    lut = torch.where(count == total, first.to(lut.dtype).expand_as(lut), lut)
    return lut.gather(1, flat).reshape(x.shape).to(x.dtype)


def filter2d_uint8(x: torch.Tensor, kernel: list[list[float]]) -> torch.Tensor:
    """cv2.filter2D(x, cv2.CV_8U, kernel) on uint8 values (BORDER_REFLECT_101, saturated)."""
    return saturate_uint8(_correlate3(x, kernel, "reflect"))
