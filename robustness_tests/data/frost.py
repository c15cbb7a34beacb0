"""The frost textures ImageNet-C's frost corruption blends in (hendrycks/robustness, Apache-2.0)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..paths import data_mirror
from .sources import RemoteDataset, materialize

FROST = RemoteDataset.from_manifest(
    "frost.sha256",
    name="frost",
    mirror_dir="frost",
    base_url="https://raw.githubusercontent.com/hendrycks/robustness/master/ImageNet-C/create_c/",
    license="Apache-2.0",
    attribution="Frost textures from ImageNet-C (Hendrycks & Dietterich 2019, github.com/hendrycks/robustness)",
)

#: the generator draws randint(5) from a list of six files: frost6 is never used
USED = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")


@lru_cache(maxsize=4)
def _load(root: Path):
    import torch
    from torchvision.io import ImageReadMode, decode_image, read_file

    # cv2.imread(IMREAD_COLOR) as the generator reads them: alpha dropped, not blended
    return tuple(decode_image(read_file(str(root / name)), mode=ImageReadMode.RGB).to(torch.uint8) for name in USED)


def frost_textures(mirror: Path | None = None):
    """The five used textures as uint8 [3, h, w] RGB tensors, verified against their checksums.

    From `mirror` (default: the data mirror of this process, --data-dir or $ROBUSTNESS_TESTS_DATA),
    else the cache, fetching what is missing from the canonical URL.
    """
    return _load(materialize(FROST, mirror if mirror is not None else data_mirror()))
