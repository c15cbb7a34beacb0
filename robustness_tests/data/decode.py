"""Decode an image once: RGB, Resize (shorter side), CenterCrop, uint8 [3, H, W], cached on disk.

The cache is keyed by the file's content digest and the preprocessing, so a renamed file is
still a hit and an edited file is a miss. Entries are written atomically: concurrent workers may
both decode an image, but a reader never sees half an entry.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import atomic_write
from ..digests import file_digests
from ..errors import DataError
from ..paths import cache_dir
from ..zoo import Preprocessing

_PIL_FILTERS = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
}


def decode_image(path: str | os.PathLike, pre: Preprocessing) -> np.ndarray:
    """Read `path` and return uint8 [3, crop, crop] after Resize(pre.resize) and CenterCrop(pre.crop).

    Same arithmetic as torchvision's Resize(int)/CenterCrop on a PIL image: the shorter side
    becomes `resize` (the longer one int(resize * long / short)), then a centred crop with
    round((size - crop) / 2) offsets. Grayscale, palette and CMYK images become RGB.
    """
    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except Exception as exc:  # noqa: BLE001 - any PIL failure means "this file is not a usable image"
        raise DataError(f"cannot decode image {path}: {type(exc).__name__}: {exc}") from exc
    w, h = rgb.size
    if pre.exact:
        if (w, h) != (pre.crop, pre.crop):
            raise DataError(f"image {path} is {w}x{h}; this protocol uses images of exactly {pre.crop}x{pre.crop} "
                            "without resizing")
        return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1))
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = pre.resize, int(pre.resize * long / short)
    size = (new_short, new_long) if w <= h else (new_long, new_short)
    if size != (w, h):
        rgb = rgb.resize(size, _PIL_FILTERS[pre.interpolation])
    w, h = rgb.size
    if w < pre.crop or h < pre.crop:  # cannot happen since crop <= resize; kept as a guard
        raise DataError(f"image {path} is {w}x{h} after resizing, smaller than the crop {pre.crop}")
    left, top = int(round((w - pre.crop) / 2.0)), int(round((h - pre.crop) / 2.0))
    rgb = rgb.crop((left, top, left + pre.crop, top + pre.crop))
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1))


class DecodedCache:
    """uint8 images keyed by (content digest, preprocessing) under `<cache>/decoded/`."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_dir() / "decoded"

    def _entry(self, digest: str, pre: Preprocessing) -> Path:
        return self.root / pre.key / digest[:2] / f"{digest}.npy"

    def load_many(self, paths: list[Path], pre: Preprocessing) -> list[np.ndarray]:
        """Decoded images for `paths`, decoding and storing the ones not cached yet."""
        out = []
        for path, digest in zip(paths, file_digests(paths), strict=True):
            entry = self._entry(digest, pre)
            try:
                image = np.load(entry)
            except (FileNotFoundError, ValueError, EOFError, OSError):
                image = decode_image(path, pre)
                with atomic_write(entry) as fh:
                    np.save(fh, image)
            out.append(image)
        return out
