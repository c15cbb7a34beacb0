"""ImageNet-P: top-1 predictions and top-5 classes per frame of every sequence, released or generated.

Sequences are evaluated a few videos at a time: frames are made (or decoded) for `videos_per_step`
videos, pushed through the model in batches of `Settings.batch_size` frames, and reduced at once to a
prediction and five classes per frame, so memory stays bounded whatever the number of videos.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import perturbations as P
from .data.batches import iter_batches
from .data.imagenet import Dataset
from .data.videos import folder_for, load_videos, read_video
from .evaluate import PRECISIONS, Settings
from .store import ResultStore


@dataclass
class ImageNetP:
    kind: str  # "released" or "generated"
    root: Path | None = None
    clean: Dataset | None = None
    subset: int | None = None
    seed: int = 0

    def folder(self, perturbation: str, difficulty: int) -> Path:
        return folder_for(self.root, perturbation, difficulty, perturbation in P.NOISE)

    def missing(self, perturbation: str, difficulty: int) -> str | None:
        if self.kind == "generated" or self.folder(perturbation, difficulty).is_dir():
            return None
        return f"{self.folder(perturbation, difficulty)} is missing (released layout <perturbation>/<wnid>/*.mp4)"

    def dataset(self, perturbation: str, difficulty: int) -> Dataset:
        if self.kind == "generated":
            return self.clean
        return load_videos(self.folder(perturbation, difficulty)).take(self.subset, seed=self.seed)

    def describe(self) -> str:
        if self.kind == "released":
            return f"released ImageNet-P videos at {self.root}"
        return (f"generated on the fly from {self.clean.name} ({len(self.clean)} images), no video round trip "
                "(deviation: the released frames went through libx264)")


def _frames_of(source: ImageNetP, dataset: Dataset, perturbation: str, difficulty: int, videos: int, device):
    """Yield (start, uint8 frames [B, F, 3, 224, 224] on device)."""
    if source.kind == "released":
        for start in range(0, len(dataset), videos):
            chunk = [read_video(s.path) for s in dataset.samples[start : start + videos]]
            counts = {len(c) for c in chunk}
            if len(counts) != 1:
                raise ValueError(f"videos of {perturbation} have different frame counts {sorted(counts)}")
            yield start, torch.from_numpy(np.stack(chunk)).to(device)
        return
    for batch in iter_batches(dataset, P.INPUT, videos):
        images = torch.from_numpy(batch.images).to(device)
        indices = range(batch.start, batch.start + len(images))
        yield batch.start, P.sequence(images, perturbation, difficulty, seed=source.seed, indices=indices)


def sequence_outcomes(model, source: ImageNetP, dataset: Dataset, perturbation: str, difficulty: int,
                      settings: Settings, videos_per_step: int = 4, progress=None) -> dict[str, np.ndarray]:
    device = torch.device(settings.device)
    autocast = PRECISIONS[settings.precision]
    preds, top5s = [], []
    done = 0
    started = time.perf_counter()
    for _, frames in _frames_of(source, dataset, perturbation, difficulty, videos_per_step, device):
        b, f = frames.shape[:2]
        flat = frames.reshape(b * f, *frames.shape[2:])
        pred, top5 = [], []
        with torch.inference_mode():
            for i in range(0, len(flat), settings.batch_size):
                x = flat[i : i + settings.batch_size].float().div_(255)
                with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
                    logits = model(x).float()
                pred.append(logits.argmax(1))
                top5.append(torch.sort(logits, dim=1, descending=True, stable=True).indices[:, :5])
        preds.append(torch.cat(pred).view(b, f).cpu().numpy().astype(np.int16))
        top5s.append(torch.cat(top5).view(b, f, 5).cpu().numpy().astype(np.int16))
        done += b
        if progress is not None:
            progress(done, len(dataset), time.perf_counter() - started)
    return {"pred": np.concatenate(preds), "top5": np.concatenate(top5s)}


def measure_sequences(store: ResultStore, model, source: ImageNetP, perturbation: str, difficulty: int,
                      settings: Settings, progress=None):
    # non-noise frames do not depend on the difficulty (it is the stride of the comparison)
    frames_difficulty = difficulty if perturbation in P.NOISE else 1
    dataset = source.dataset(perturbation, frames_difficulty)
    generated = source.kind == "generated"
    parts = {
        "benchmark": "imagenet_p",
        "model": model.identity(),
        "data": dataset.identity(),
        "transform": {"perturbation": perturbation, "difficulty": frames_difficulty,
                      "seed": source.seed if generated else None, "source": source.kind,
                      "frames": "robustness_tests.perturbations" if generated else "released"},
        "outcomes": "imagenet_p.pred+ordinal_top5",
        "precision": settings.precision,
    }
    entry = store.get_or_compute(parts, lambda: sequence_outcomes(model, source, dataset, perturbation,
                                                                  frames_difficulty, settings, progress=progress))
    return entry, dataset
