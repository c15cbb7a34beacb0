"""Geirhos et al.'s cue-conflict stimuli: 1280 style-transferred images, shape and texture from file names.

`<shape>/<shape><i>-<texture><j>.png`, 224x224 RGB. The 80 images whose shape equals their texture
are not conflicts and are excluded, leaving 1200. License CC BY 4.0 (Geirhos et al. 2019,
"ImageNet-trained CNNs are biased towards texture", github.com/rgeirhos/texture-vs-shape).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from .imagenet import Dataset, Sample
from .sources import RemoteDataset

CATEGORIES = ("airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat", "chair", "clock", "dog",
              "elephant", "keyboard", "knife", "oven", "truck")  # sorted, as in texture-vs-shape
CONFLICTS = 1200
RULES = ("max", "mean")  # decision rules: the paper's argmax over the union, Geirhos' mean probability
ATTRIBUTION = ("Cue-conflict stimuli by Geirhos et al. 2019 (github.com/rgeirhos/texture-vs-shape), "
               "licensed CC BY 4.0")

CUE_CONFLICT = RemoteDataset.from_manifest(
    "cue_conflict.sha256",
    name="cue-conflict",
    mirror_dir="cue-conflict",
    base_url="https://raw.githubusercontent.com/rgeirhos/texture-vs-shape/master/stimuli/style-transfer-preprocessed-512/",
    license="CC BY 4.0",
    attribution=ATTRIBUTION,
)

_NAME = re.compile(r"^(?P<shape>[a-z]+)\d+-(?P<texture>[a-z]+)\d+\.png$")


#: ImageNet class indices of each of the 16 categories (texture-vs-shape `human_categories.py`).
CATEGORY_INDICES: dict[str, tuple[int, ...]] = {
    "airplane": (404,),
    "bear": (294, 295, 296, 297),
    "bicycle": (444, 671),
    "bird": (8, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 23, 24, 80, 81, 82, 83, 87, 88, 89, 90, 91, 92, 93, 94,
             95, 96, 98, 99, 100, 127, 128, 129, 130, 131, 132, 133, 135, 136, 137, 138, 139, 140, 141, 142, 143,
             144, 145),
    "boat": (472, 554, 625, 814, 914),
    "bottle": (440, 720, 737, 898, 899, 901, 907),
    "car": (436, 511, 817),
    "cat": (281, 282, 283, 284, 285, 286),
    "chair": (423, 559, 765, 857),
    "clock": (409, 530, 892),
    "dog": tuple(range(152, 192)) + tuple(range(193, 204)) + tuple(range(205, 227)) + tuple(range(228, 242))
    + tuple(range(243, 251)) + tuple(range(252, 258)) + (259, 261, 262, 263, 265, 266, 267, 268),
    "elephant": (385, 386),
    "keyboard": (508, 878),
    "knife": (499,),
    "oven": (766,),
    "truck": (555, 569, 656, 675, 717, 734, 864, 867),
}


def categories_of(dataset: Dataset) -> tuple[list[int], list[int]]:
    """Shape and texture category indices (into CATEGORIES) of each image, from its file name."""
    shape, texture = [], []
    for sample in dataset.samples:
        m = _NAME.match(sample.path.name)
        if m is None:
            raise DataError(f"{sample.path}: not a cue-conflict stimulus name '<shape><i>-<texture><j>.png'")
        shape.append(CATEGORIES.index(m["shape"]))
        texture.append(CATEGORIES.index(m["texture"]))
    return shape, texture


def load_cue_conflict(root: str | Path) -> Dataset:
    """The 1200 conflict images under `root` (a materialized `CUE_CONFLICT`); label = shape category."""
    root = Path(root)
    items = []
    for path in sorted(root.glob("*/*.png")):
        m = _NAME.match(path.name)
        if m is None or m["shape"] != path.parent.name or m["shape"] not in CATEGORIES or m["texture"] not in CATEGORIES:
            raise DataError(f"{path}: not a cue-conflict stimulus name '<shape>/<shape><i>-<texture><j>.png' "
                            f"with categories among {', '.join(CATEGORIES)}")
        if m["shape"] != m["texture"]:
            items.append((path, CATEGORIES.index(m["shape"]), CATEGORIES.index(m["texture"])))
    if len(items) != CONFLICTS:
        raise DataError(f"{root} holds {len(items)} cue-conflict images with shape != texture; the stimulus set "
                        f"has {CONFLICTS}. Restore it from {CUE_CONFLICT.base_url}")
    samples = tuple(Sample(p, s) for p, s, _ in items)
    return Dataset(name="cue-conflict", root=root, samples=samples, full_size=len(samples))
