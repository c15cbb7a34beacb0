"""Labelled image lists: ImageNet validation in its two layouts, and deterministic subsets.

A `Dataset` is just samples (path, label) plus an identity for cache keys: its name, a
fingerprint of what it holds, and how it was subset. Pixels are read elsewhere (`decode`).
"""

from __future__ import annotations

import csv
import functools
import os
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..digests import json_digest
from ..errors import DataError, UsageError
from .classes import class_index

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
WNID = re.compile(r"^n\d{8}$")
LABEL_FILES = ("LOC_val_solution.csv", "val.txt", "labels.txt")

#: Fingerprints of datasets this project knows by name; anything else is "imagenet-val-custom".
#: The 1300-image mirror of `../shared/data/imagenet-val-1300` (725 classes, ILSVRC2012 val files).
KNOWN_FINGERPRINTS = {
    "68b485d48d95dba2": "imagenet-val-1300",
}
FULL_VAL_SIZE = 50_000


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


@dataclass(frozen=True)
class Dataset:
    """Samples with an identity. `name` says which dataset; `subset` how much of it is used."""

    name: str
    root: Path
    samples: tuple[Sample, ...]
    full_size: int
    subset: dict = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def labels(self) -> list[int]:
        return [s.label for s in self.samples]

    def fingerprint(self) -> str:
        """Digest of the relative paths, sizes and labels of the samples (not of the root)."""
        return self._fingerprint

    @functools.cached_property
    def _fingerprint(self) -> str:
        return json_digest(
            [(s.path.relative_to(self.root).as_posix(), s.path.stat().st_size, s.label) for s in self.samples]
        )[:16]

    def identity(self) -> dict:
        """What makes a measurement on this data this data's: for store keys and reports."""
        return {"name": self.name, "n": len(self), "full_size": self.full_size, "fingerprint": self.fingerprint()}

    def take(self, n: int | None, seed: int = 0) -> Dataset:
        """A deterministic subset of `n` samples, stratified by class (see `stratified_indices`)."""
        if n is None or n == len(self):
            return self
        indices = stratified_indices(self.labels, n, seed, what=f"dataset {self.name} at {self.root}")
        return Dataset(
            name=self.name,
            root=self.root,
            samples=tuple(self.samples[i] for i in indices),
            full_size=self.full_size,
            subset={"n": n, "seed": seed, "of": len(self)},
        )


def stratified_indices(labels: list[int], n: int, seed: int, what: str = "dataset") -> list[int]:
    """`n` indices into `labels`, allocated to classes in proportion to their size.

    Allocation uses largest remainders with ties broken by a seeded class order; inside a class
    the first images of a seeded shuffle are taken. Deterministic for (labels, n, seed), whatever
    the machine, and the result is sorted so batches read files in dataset order.
    """
    total = len(labels)
    if not isinstance(n, int) or n <= 0:
        raise UsageError(f"--subset must be a positive number of images, got {n!r}")
    if n > total:
        raise UsageError(f"--subset {n} is larger than the {what} ({total} images); use at most {total}")
    by_class: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_class[label].append(i)
    rng = random.Random(f"stratified:{seed}")
    classes = sorted(by_class)
    rng.shuffle(classes)  # seeded tie-break order
    quotas = {c: n * len(by_class[c]) / total for c in classes}
    take = {c: int(q) for c, q in quotas.items()}
    left = n - sum(take.values())
    for c in sorted(classes, key=lambda c: -(quotas[c] - take[c]))[:left]:  # stable: keeps seeded order
        take[c] += 1
    chosen: list[int] = []
    for c in sorted(by_class):
        members = list(by_class[c])
        random.Random(f"stratified:{seed}:{c}").shuffle(members)
        chosen.extend(members[: take[c]])
    return sorted(chosen)


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load_imagenet_val(root: str | os.PathLike, labels_file: str | os.PathLike | None = None) -> Dataset:
    """ImageNet validation from `<root>/<wnid>/*.JPEG`, or flat `<root>/*.JPEG` plus a labels file.

    Labels files: `LOC_val_solution.csv` (Kaggle), or lines `<file name> <wnid or class index>`
    (e.g. Caffe's `val.txt`, whose indices follow the sorted-wnid order).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            f"ImageNet validation root {root} does not exist or is not a folder. "
            "Point --imagenet-val (or --data-dir / ROBUSTNESS_TESTS_DATA) at it."
        )
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subdirs:
        samples = _class_folder_samples(root, subdirs)
    elif _images_in(root):
        samples = _flat_samples(root, labels_file)
    else:
        samples = []
    if not samples:
        raise DataError(
            f"no images under {root}: expected <root>/<wnid>/*.JPEG, or <root>/*.JPEG with a labels file"
        )
    samples.sort(key=lambda s: s.path.name)
    dataset = Dataset(name="imagenet-val", root=root, samples=tuple(samples), full_size=len(samples))
    if len(samples) != FULL_VAL_SIZE:
        name = KNOWN_FINGERPRINTS.get(dataset.fingerprint(), "imagenet-val-custom")
        dataset = Dataset(name=name, root=root, samples=dataset.samples, full_size=len(samples))
    return dataset


def _class_folder_samples(root: Path, subdirs: list[Path], allowed: set[str] | None = None,
                          what: str = "an ImageNet class") -> list[Sample]:
    samples = []
    outside = []
    for d in subdirs:
        if not WNID.match(d.name):
            raise DataError(f"folder {d} is not {what}: expected wnid folders like n01440764 (<root>/<wnid>/*)")
        label = class_index(d.name, where=str(d))
        if allowed is not None and d.name not in allowed:
            outside.append(d.name)
        samples.extend(Sample(p, label) for p in _images_in(d))
    if outside:
        raise DataError(f"{root}: {len(outside)} folder(s) are not {what}: {', '.join(outside[:8])}"
                        + (" ..." if len(outside) > 8 else ""))
    return samples


def load_class_folders(root: str | os.PathLike, *, name: str, allowed: set[str], full_size: int,
                       what: str) -> Dataset:
    """`<root>/<wnid>/*` restricted to the wnids in `allowed`; named `name` when it holds all
    `full_size` images, `<name>-custom` otherwise."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{name} root {root} does not exist or is not a folder")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    samples = sorted(_class_folder_samples(root, subdirs, allowed, what), key=lambda s: s.path.name)
    if not samples:
        raise DataError(f"no images under {root}: expected <root>/<wnid>/*.jpg")
    return Dataset(name=name if len(samples) == full_size else f"{name}-custom", root=root,
                   samples=tuple(samples), full_size=len(samples))


def _flat_samples(root: Path, labels_file: str | os.PathLike | None) -> list[Sample]:
    if labels_file is None:
        found = [root / f for f in LABEL_FILES if (root / f).is_file()]
        if not found:
            raise DataError(
                f"{root} has images but no class folders and no labels file ({', '.join(LABEL_FILES)}). "
                "Arrange it as <root>/<wnid>/*.JPEG or pass a labels file."
            )
        labels_file = found[0]
    labels_path = Path(labels_file)
    if not labels_path.is_file():
        raise DataError(f"labels file {labels_path} does not exist")
    labels: dict[str, int] = {}
    if labels_path.suffix == ".csv":
        with open(labels_path, newline="") as fh:
            for row in csv.DictReader(fh):
                image_id = row.get("ImageId")
                prediction = (row.get("PredictionString") or "").split()
                if not image_id or not prediction:
                    raise DataError(f"{labels_path}: expected columns ImageId,PredictionString, got {row}")
                labels[image_id] = class_index(prediction[0], where=str(labels_path))
    else:
        for lineno, line in enumerate(labels_path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2:
                raise DataError(f"{labels_path}:{lineno}: expected '<file name> <wnid or index>', got {line!r}")
            name, value = parts
            if value.isdigit():
                if not 0 <= int(value) < 1000:
                    raise DataError(f"{labels_path}:{lineno}: class index {value} is outside 0..999")
                labels[Path(name).stem] = int(value)
            else:
                labels[Path(name).stem] = class_index(value, where=f"{labels_path}:{lineno}")
    samples = []
    for p in _images_in(root):
        if p.stem not in labels:
            raise DataError(f"image {p} has no label in {labels_path}")
        samples.append(Sample(p, labels[p.stem]))
    return samples
