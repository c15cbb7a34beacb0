"""ImageNet-C: the released JPEGs or corruptions generated on the fly, and per-image errors per corruption.

Two sources, one interface (`ImageNetC.dataset(corruption, severity)` and `.transform(...)`):

- released: `<root>/<corruption>/<severity>/<wnid>/*.JPEG`, 224x224, used as they are (CenterCrop(224)
  only, no resize). AlexNet's CE constants belong to these files.
- generated: ImageNet validation, Resize(256) + CenterCrop(224), corrupted on the model's device by
  `robustness_tests.corruptions`, then the JPEG quality-85 round trip the released files went through
  (on by default). Not the released pixels: an mCE normalised by AlexNet's constants is an estimate;
  normalise by a baseline model measured on the same images (--imagenet-c-baseline) for a sound ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .corruptions import EXTRA, NAMES, SEVERITIES, corrupt
from .corruptions.digital import jpeg_round_trip
from .data.imagenet import Dataset
from .errors import DataError
from .zoo import Preprocessing

RELEASED_QUALITY = 85  # make_imagenet_c.py saves with PIL quality=85
PROTOCOL = Preprocessing()  # Resize(256), CenterCrop(224): the generator's input


class CorruptionTransform:
    """A `Transform` for `evaluate.measure`: corrupt each uint8 batch on its device, then JPEG round trip.

    Per-image randomness comes from (seed, corruption, severity, dataset index), so results do not
    depend on the batch size or on which worker runs them. `ahead`: it depends on its inputs only, so
    the evaluation loop corrupts the next batch while the model runs on the current one.
    """

    ahead = True

    def __init__(self, corruption: str, severity: int, *, seed: int, jpeg_quality: int | None = RELEASED_QUALITY):
        self.corruption, self.severity, self.seed, self.jpeg_quality = corruption, severity, seed, jpeg_quality

    def identity(self) -> dict:
        return {"corruption": self.corruption, "severity": self.severity, "seed": self.seed,
                "jpeg_quality": self.jpeg_quality, "generator": "robustness_tests.corruptions"}

    def __call__(self, images: torch.Tensor, labels: torch.Tensor, start: int) -> torch.Tensor:
        out = corrupt(images, self.corruption, self.severity, seed=self.seed,
                      indices=range(start, start + len(images)))
        if self.jpeg_quality is not None:
            out = jpeg_round_trip(out, self.jpeg_quality)
        return out


@dataclass
class ImageNetC:
    """Where the corrupted images come from; see the module docstring."""

    kind: str  # "released" or "generated"
    root: Path | None = None  # released
    clean: Dataset | None = None  # generated: the validation images
    subset: int | None = None
    seed: int = 0
    jpeg_quality: int | None = RELEASED_QUALITY

    @classmethod
    def released(cls, root: Path, *, subset: int | None, seed: int) -> ImageNetC:
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"--imagenet-c {root} is not a folder; expected <root>/<corruption>/<1..5>/<wnid>/*.JPEG")
        known = set(NAMES + EXTRA)
        present = {p.name for p in root.iterdir() if p.is_dir()}
        if not present & known:
            raise DataError(f"--imagenet-c {root} holds none of the corruption folders ({', '.join(NAMES[:3])}, ...); "
                            f"found {sorted(present)[:5]}. Point it at the folder that contains gaussian_noise/ etc.")
        return cls("released", root=root, subset=subset, seed=seed)

    @classmethod
    def generated(cls, clean: Dataset, *, seed: int, jpeg_quality: int | None = RELEASED_QUALITY) -> ImageNetC:
        return cls("generated", clean=clean, seed=seed, jpeg_quality=jpeg_quality)

    def coverage(self) -> dict[str, list[int]]:
        """Severities available per corruption (all of them for generated data)."""
        if self.kind == "generated":
            return {c: list(SEVERITIES) for c in NAMES + EXTRA}
        return {c: [s for s in SEVERITIES if (self.root / c / str(s)).is_dir()] for c in NAMES + EXTRA}

    def missing(self, corruption: str, severity: int) -> str | None:
        """Why (corruption, severity) cannot be measured, or None."""
        if severity in self.coverage()[corruption]:
            return None
        return f"{self.root} has no {corruption}/{severity}/ folder (released layout <corruption>/<severity>/<wnid>/)"

    def describe(self) -> str:
        if self.kind == "released":
            coverage = self.coverage()
            complete = [c for c, sev in coverage.items() if len(sev) == len(SEVERITIES)]
            partial = {c: sev for c, sev in coverage.items() if 0 < len(sev) < len(SEVERITIES)}
            missing = [c for c, sev in coverage.items() if not sev]
            parts = [f"{len(complete)} of {len(coverage)} corruptions complete"]
            if partial:
                parts.append("partial: " + ", ".join(f"{c} (severities {sev})" for c, sev in partial.items()))
            if missing:
                parts.append("missing: " + ", ".join(missing))
            return f"released ImageNet-C JPEGs at {self.root} ({'; '.join(parts)})"
        jpeg = f"JPEG q{self.jpeg_quality} round trip" if self.jpeg_quality else "no JPEG round trip (deviation)"
        return f"generated on the fly from {self.clean.name} ({len(self.clean)} images), {jpeg}"

    @property
    def preprocessing(self) -> Preprocessing:
        return Preprocessing.exact_size(224) if self.kind == "released" else PROTOCOL

    def dataset(self, corruption: str, severity: int) -> Dataset:
        if self.kind == "generated":
            return self.clean
        from .data.classes import wnids
        from .data.imagenet import load_class_folders

        folder = self.root / corruption / str(severity)
        ds = load_class_folders(folder, name=f"imagenet-c/{corruption}/{severity}", allowed=set(wnids()),
                                full_size=50000, what="one of the 1000 ImageNet classes")
        return ds.take(self.subset, seed=self.seed)

    def transform(self, corruption: str, severity: int) -> CorruptionTransform | None:
        if self.kind == "released":
            return None
        return CorruptionTransform(corruption, severity, seed=self.seed, jpeg_quality=self.jpeg_quality)


def wrong(measure, model, source: ImageNetC, corruption: str, severity: int):
    """(per-image top-1 wrong flags, the dataset, whether it came from the store)."""
    dataset = source.dataset(corruption, severity)
    transform = source.transform(corruption, severity)
    entry = measure(model, dataset, benchmark="imagenet_c", transform=transform,
                    transform_id=transform.identity() if transform else {"released": corruption, "severity": severity},
                    preprocessing=source.preprocessing)
    return ~entry.arrays["correct"].astype(bool), dataset, entry.cached


def severity_wrong(measure, model, source: ImageNetC, corruption: str):
    """(top-1 wrong flags [images, 5 severities], the dataset, whether all came from the store): what CE,
    mCE and the cross-model claims are computed from. CE needs the same images at every severity."""
    import numpy as np

    columns, cached = [], True
    for severity in SEVERITIES:
        w, dataset, was_cached = wrong(measure, model, source, corruption, severity)
        columns.append(w)
        cached &= bool(was_cached)
    if len({len(c) for c in columns}) != 1:
        raise DataError(f"{corruption}: its severities hold different numbers of images "
                        f"({[len(c) for c in columns]}); CE needs the same images at every severity")
    return np.stack(columns, axis=1), dataset, cached


def clean_wrong(measure, model, source: ImageNetC):
    """Top-1 wrong flags on the clean images (generated data only: released files have no clean copy)."""
    if source.kind != "generated":
        return None
    entry = measure(model, source.clean, benchmark="imagenet_c", transform=None, transform_id="clean",
                    preprocessing=source.preprocessing)
    return ~entry.arrays["correct"].astype(bool)
