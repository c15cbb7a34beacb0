"""ImageNet-C's corruptions as batched torch kernels, faithful to the generator that made the released data.

    from robustness_tests.corruptions import corrupt, NAMES, EXTRA
    out = corrupt(images, "glass_blur", 3, seed=0)   # uint8 [N, 3, H, W] in, same shape/device out

The reference is `ImageNet-C/create_c/make_imagenet_c.py` in hendrycks/robustness (not the
`imagecorruptions` package, which differs for elastic_transform, pixelate, frost, motion_blur and snow):
the same parameter tables, the same algorithms and quirks (elastic built on 244, frost from frost1..frost5
only, BOX pixelate, ImageMagick's motion blur for motion_blur and snow, np.uint8 truncation of the result).
Randomness comes from per-image torch generators (see `_random`), so the random corruptions follow the
reference's distributions, not its numpy stream. `tests/test_corruptions_fidelity.py` measures the
agreement with Hendrycks' own functions.

One module per family: `noise`, `blur`, `weather`, `digital`; shared building blocks in `_kernels`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import torch

from ..errors import UsageError
from . import blur, digital, noise, weather  # noqa: F401  (each registers its corruptions)
from ._random import Streams, derive_seed
from ._registry import REGISTRY, Corruption

#: the 15 corruptions of ImageNet-C's mCE, in the canonical order
NAMES = (
    "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog",
    "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
)  # fmt: skip
#: the held-out ("validation") corruptions, reported apart
EXTRA = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
SEVERITIES = (1, 2, 3, 4, 5)


def get(name: str) -> Corruption:
    """The registered corruption `name`; an unknown name is an error that suggests the closest one."""
    if name in REGISTRY:
        return REGISTRY[name]
    known = NAMES + EXTRA
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UsageError(f"unknown corruption {name!r}.{hint} Known: {', '.join(known)}.")


def check_severity(severity: object) -> int:
    if isinstance(severity, bool) or not isinstance(severity, int) or severity not in SEVERITIES:
        raise UsageError(f"severity must be an integer from 1 to 5, got {severity!r}")
    return severity


def check_images(images: object, corruption: Corruption, severity: int) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise UsageError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise UsageError(
            f"images must be uint8 grey levels 0..255, got dtype {images.dtype}. "
            "Fix: pass the decoded images before any normalisation, e.g. (x * 255).round().to(torch.uint8)."
        )
    if images.dim() != 4 or images.shape[1] != 3:
        raise UsageError(
            f"images must be NCHW with 3 channels, got shape {tuple(images.shape)}. "
            "Fix: add the batch dimension (x[None]) or permute NHWC to NCHW (x.permute(0, 3, 1, 2))."
        )
    need = corruption.min_size(severity)
    if min(images.shape[-2:]) < need:
        raise UsageError(
            f"{corruption.name} at severity {severity} needs images of at least {need}x{need} pixels, "
            f"got {images.shape[-2]}x{images.shape[-1]}"
        )
    return images


def corrupt(
    images: torch.Tensor,
    name: str,
    severity: int,
    *,
    seed: int = 0,
    indices: Sequence[int] | torch.Tensor | None = None,
) -> torch.Tensor:
    """Corrupt a batch of uint8 images [N, 3, H, W] on any device; returns uint8 of the same shape there.

    Image i draws its random numbers from a stream seeded by (seed, name, severity, indices[i]);
    `indices` defaults to 0..N-1. Pass dataset positions to make each image's pixels independent of
    how the dataset is cut into batches.
    """
    corruption = get(name)
    severity = check_severity(severity)
    images = check_images(images, corruption, severity)
    n = images.shape[0]
    if n == 0:
        return images.clone()
    if indices is None:
        indices = range(n)
    indices = [int(i) for i in indices]
    if len(indices) != n:
        raise UsageError(f"indices has {len(indices)} entries for {n} images")
    seeds = [derive_seed(seed, name, severity, i) for i in indices]
    chunk = corruption.cpu_chunk if images.device.type == "cpu" else None
    if chunk is None or n <= chunk:
        return _run(corruption, images, severity, seeds)
    out = torch.empty_like(images)
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        out[part] = _run(corruption, images[part], severity, seeds[part])
    return out


def _run(corruption: Corruption, images: torch.Tensor, severity: int, seeds: list[int]) -> torch.Tensor:
    streams = Streams(seeds, images.device)
    with torch.no_grad():
        if corruption.exact_uint8:
            return corruption.kernel(images, severity, streams)
        out = corruption.kernel(images.float(), severity, streams)
    return out.clamp_(0, 255).to(torch.uint8)


__all__ = ["EXTRA", "NAMES", "SEVERITIES", "corrupt", "get"]
