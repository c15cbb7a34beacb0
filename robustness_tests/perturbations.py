"""ImageNet-P's perturbation sequences, generated in batches on the model's device.

Follows `ImageNet-P/create_p/make_imagenet_p.py` (hendrycks/robustness): 31 frames (translate: 41), frame
0 the clean image for the noise sequences; the per-frame parameters below. The input is the image
after Resize(256); geometric perturbations transform it before CenterCrop(224), the others corrupt the
crop. Kernels shared with ImageNet-C (ImageMagick motion blur, clipped zoom, HSV, Gaussian filter, the
spatter chain) come from `robustness_tests.corruptions`.

Deviations, stated in the report: (1) the input is the central 256x256 of the Resize(256) image, so for a
non-square image the geometric sequences see black beyond that square where the reference sees more of
the image (none for square inputs such as the shared 1300); (2) affine warps use torchvision's tensor
implementation, not PIL's (same geometry, interpolation rounding differs); (3) the released frames went
through libx264; generated frames skip that lossy video round trip.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .corruptions._kernels import (
    clipped_zoom,
    gaussian_filter,
    magick_motion_blur,
    magick_quantize,
    rgb_to_grey,
    to_uint8,
)
from .corruptions._random import Streams, derive_seed
from .corruptions.digital import hsv_to_rgb, rgb_to_hsv
from .errors import UsageError
from .metrics import IMAGENET_P_HELD_OUT, IMAGENET_P_NOISE, IMAGENET_P_PERTURBATIONS
from .zoo import Preprocessing

PERTURBATIONS = IMAGENET_P_PERTURBATIONS
HELD_OUT = IMAGENET_P_HELD_OUT
NOISE = IMAGENET_P_NOISE  # compared with frame 0; difficulty = noise level
DIFFICULTIES = (1, 2, 3)
INPUT = Preprocessing(resize=256, crop=256)  # Resize(256), then the central square (see deviation 1)
CROP = 224

GAUSSIAN_SIGMA = (0.03, 0.05, 0.08)
SHOT_RATE = (300, 120, 60)
SPECKLE_SIGMA = (0.05, 0.10, 0.15)


def frame_count(name: str) -> int:
    return 41 if name == "translate" else 31


def check(name: str, difficulty: int = 1) -> None:
    import difflib

    known = PERTURBATIONS + HELD_OUT
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"unknown perturbation {name!r}.{hint} Known: {', '.join(known)}.")
    if difficulty not in DIFFICULTIES:
        raise UsageError(f"difficulty must be 1, 2 or 3, got {difficulty!r}")


def _crop(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = round((h - CROP) / 2), round((w - CROP) / 2)
    return x[..., top : top + CROP, left : left + CROP]


def _to_uint8(x01: torch.Tensor) -> torch.Tensor:
    """np.uint8(255 * x) / ToPILImage of a float tensor: truncation."""
    return to_uint8(x01 * 255)


def _affine(x: torch.Tensor, **kwargs) -> torch.Tensor:
    """torchvision's affine around the image centre, bilinear unless told, black outside; uint8 out."""
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    interpolation = kwargs.pop("interpolation", InterpolationMode.BILINEAR)
    args = {"angle": 0.0, "translate": [0, 0], "scale": 1.0, "shear": [0.0, 0.0]} | kwargs
    out = TF.affine(x.float(), interpolation=interpolation, fill=0.0, **args)
    return out.round().clamp(0, 255).to(torch.uint8)


def _tilt(x: torch.Tensor, degrees: float) -> torch.Tensor:
    """cv2.warpPerspective with the generator's matrix (rotations about x and y by the same angle,
    focal length sqrt(w^2 + h^2)), bilinear, black outside."""
    n, _c, h, w = x.shape
    phi = theta = math.radians(degrees)
    f = math.sqrt(w**2 + h**2)
    p1 = torch.tensor([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1], [0, 0, 1]], dtype=torch.float64)
    rx = torch.tensor([[1, 0, 0, 0], [0, math.cos(theta), -math.sin(theta), 0],
                       [0, math.sin(theta), math.cos(theta), 0], [0, 0, 0, 1]], dtype=torch.float64)
    ry = torch.tensor([[math.cos(phi), 0, -math.sin(phi), 0], [0, 1, 0, 0],
                       [math.sin(phi), 0, math.cos(phi), 0], [0, 0, 0, 1]], dtype=torch.float64)
    t = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, f], [0, 0, 0, 1]], dtype=torch.float64)
    p2 = torch.tensor([[f, 0, w / 2, 0], [0, f, h / 2, 0], [0, 0, 1, 0]], dtype=torch.float64)
    inverse = torch.linalg.inv(p2 @ t @ rx @ ry @ p1)  # dst -> src
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    src = torch.einsum("ij,jhw->ihw", inverse, torch.stack([xs, ys, torch.ones_like(xs)]))
    sx, sy = src[0] / src[2], src[1] / src[2]
    grid = torch.stack([(2 * sx + 1) / w - 1, (2 * sy + 1) / h - 1], dim=-1).to(x.device, torch.float32)
    out = F.grid_sample(x.float(), grid.expand(n, h, w, 2), mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8)


def _spatter_frames(x01: torch.Tensor, rng: Streams, frames: int) -> list[torch.Tensor]:
    from .corruptions._opencv import (
        box_blur3,
        canny,
        distance_transform_l2_5,
        equalize_hist,
        filter2d_uint8,
    )
    from .corruptions.weather import EMBOSS, WATER

    n, _, h, w = x01.shape
    liquid = gaussian_filter(rng.normal((1, h, w), 0.65, 0.27).double(), 3.7)
    liquid = torch.where(liquid < 0.69, torch.zeros_like(liquid), liquid)
    drift = torch.tensor([0.05, 0.1, 0.15, 0.7], dtype=liquid.dtype, device=liquid.device)
    colour = torch.tensor(WATER, dtype=torch.float64, device=x01.device).view(1, 3, 1, 1)
    out = []
    for _ in range(frames):
        layer = torch.floor(liquid * 255).clamp(0, 255)
        dist = distance_transform_l2_5(255 - canny(layer, 50, 150), limit=20)
        dist = equalize_hist(torch.floor(box_blur3(dist)))
        dist = torch.round(box_blur3(filter2d_uint8(dist, EMBOSS)))
        m = layer * dist
        peak = m.amax(dim=(1, 2, 3), keepdim=True)
        m = m / torch.where(peak > 0, peak, torch.ones_like(peak)) * 0.6
        out.append(_to_uint8((x01.double() + m * colour).clamp(0, 1)))
        # np.convolve(column, [0.05, 0.1, 0.15, 0.7], mode='same') down every column: the liquid runs
        padded = F.pad(liquid.transpose(-1, -2).reshape(-1, 1, h), (2, 1))
        liquid = F.conv1d(padded, drift.flip(0).view(1, 1, 4)).reshape(n, 1, w, h).transpose(-1, -2)
    return out


def sequence(images: torch.Tensor, name: str, difficulty: int = 1, *, seed: int = 0, indices=None) -> torch.Tensor:
    """Frames [N, F, 3, 224, 224] uint8 of perturbation `name` for uint8 images [N, 3, H, W] (after
    Resize(256); see INPUT). Random perturbations draw per image from (seed, name, difficulty, index)."""
    check(name, difficulty)
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
        raise UsageError(f"images must be uint8 [N, 3, H, W], got {images.dtype} {tuple(images.shape)}")
    if min(images.shape[-2:]) < CROP:
        raise UsageError(f"ImageNet-P needs images of at least {CROP}x{CROP} (Resize(256) first), "
                         f"got {images.shape[-2]}x{images.shape[-1]}")
    n = images.shape[0]
    indices = list(range(n)) if indices is None else [int(i) for i in indices]
    rng = Streams([derive_seed(seed, "imagenet-p", name, difficulty, i) for i in indices], images.device)
    count = frame_count(name)
    crop = _crop(images)
    x = crop.float() / 255
    frames: list[torch.Tensor]
    with torch.no_grad():
        if name == "gaussian_noise":
            s = GAUSSIAN_SIGMA[difficulty - 1]
            frames = [crop] + [_to_uint8((x + rng.normal(x.shape[1:], std=s)).clamp(0, 1)) for _ in range(count - 1)]
        elif name == "shot_noise":
            c = SHOT_RATE[difficulty - 1]
            frames = [crop] + [_to_uint8((rng.poisson(x.double() * c) / c).clamp(0, 1)) for _ in range(count - 1)]
        elif name == "speckle_noise":
            s = SPECKLE_SIGMA[difficulty - 1]
            frames = [crop] + [_to_uint8((x + x * rng.normal(x.shape[1:], std=s)).clamp(0, 1))
                               for _ in range(count - 1)]
        elif name == "motion_blur":
            frames = [magick_quantize(magick_motion_blur(crop.float(), 10, 3, torch.full((n,), (i - 30) * 4.0)))
                      .clamp(0, 255).to(torch.uint8) for i in range(count)]
        elif name == "zoom_blur":
            total, frames = x.clone(), [crop]
            for i in range(1, count):
                total += _crop(_affine(images, scale=1 + 0.004 * i)).float() / 255
                frames.append(_to_uint8(total / (i + 1)))
        elif name == "snow":
            layer = clipped_zoom(rng.normal((1, CROP, CROP), 0.05, 0.3), 3)
            layer = torch.floor(torch.where(layer < 0.5, torch.zeros_like(layer), layer).clamp(0, 1) * 255)
            base = 0.85 * x + 0.15 * torch.maximum(x, rgb_to_grey(x) * 1.5 + 0.5)
            frames = []
            for i in range(count):
                moving = magick_quantize(magick_motion_blur(layer, 14, 4, torch.full((n,), i * 4.0 - 150))) / 255
                frames.append(_to_uint8((base + moving + moving.flip(-1, -2)).clamp(0, 1)))
        elif name == "brightness":
            h, s, v = rgb_to_hsv(x.double())
            frames = [_to_uint8(hsv_to_rgb(h, s, (v + (i - 15) * 2 / 100.0).clamp(0, 1))) for i in range(count)]
        elif name == "translate":
            from torchvision.transforms.v2 import InterpolationMode

            frames = [_crop(_affine(images, translate=[i - 20, 0], interpolation=InterpolationMode.NEAREST))
                      for i in range(count)]
        elif name == "rotate":
            frames = [_crop(_affine(images, angle=float(i - 15))) for i in range(count)]
        elif name == "tilt":
            frames = [_crop(_tilt(images, i - 15)) for i in range(count)]
        elif name == "scale":
            frames = [_crop(_affine(images, scale=(i * 2.5 + 40) / 100.0)) for i in range(count)]
        elif name == "gaussian_blur":
            frames = [_to_uint8(gaussian_filter(x.double(), 0.25 + 0.035 * i, truncate=6.0)) for i in range(count)]
        elif name == "spatter":
            frames = _spatter_frames(x, rng, count)
        else:  # shear
            frames = [_crop(_affine(images, shear=[float(i - 15), 0.0])) for i in range(count)]
    return torch.stack(frames, dim=1)
