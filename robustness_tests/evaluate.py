"""The one evaluation loop: model x dataset x transform -> per-image outcomes.

Every benchmark goes through `measure` (store lookup, then `evaluate`), so batching, device
placement, precision, the non-finite check and caching live in one place. Decoding runs ahead of
the model in background threads (`data.batches`); the model sees float images in [0, 1].
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from .data.batches import in_order_ahead, iter_batches
from .data.decode import DecodedCache
from .data.imagenet import Dataset
from .errors import ModelError, UsageError
from .robust_model import RobustModel
from .store import Entry, ResultStore
from .zoo import Preprocessing

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

Outcomes = Callable[[torch.Tensor, torch.Tensor], Mapping[str, torch.Tensor]]


class Transform(Protocol):
    """Maps a uint8 batch [B, 3, H, W] on the model's device (and its labels) to images for the model.

    `start` is the dataset index of the batch's first image, so a random transform can derive
    per-image randomness from (seed, image index) and stay independent of the batch size. A
    transform may also return `(images, extras)`: extras are per-image tensors stored with the
    outcomes (an attack's first-success step, say). Transforms run outside inference mode, so an
    attack can take gradients; corruption kernels should use `torch.no_grad()` themselves.
    """

    def __call__(self, images: torch.Tensor, labels: torch.Tensor, start: int) -> Any: ...


class Progress(Protocol):
    def __call__(self, done: int, total: int, seconds: float) -> None: ...


@dataclass(frozen=True)
class Settings:
    """How to run a measurement; only `precision` and `seed` can change its numbers."""

    device: str = "cpu"
    precision: str = "fp32"
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise UsageError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.batch_size <= 0:
            raise UsageError(f"batch size must be positive, got {self.batch_size}")


def top1_outcomes(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per image: prediction, top-5 classes, softmax confidence, and whether top-1 is right."""
    confidence, pred = logits.softmax(dim=1).max(dim=1)
    return {
        "label": labels,
        "pred": pred,
        "top5": logits.topk(5, dim=1).indices,
        "confidence": confidence,
        "correct": pred == labels,
    }


def evaluate(
    model: RobustModel,
    dataset: Dataset,
    settings: Settings,
    *,
    transform: Transform | None = None,
    outcomes: Outcomes = top1_outcomes,
    progress: Progress | None = None,
    cache: DecodedCache | None = None,
    preprocessing: Preprocessing | None = None,
    overlap: bool | None = None,
) -> dict[str, np.ndarray]:
    """Run `model` over `dataset` (optionally transformed) and return per-image outcome arrays.

    `preprocessing` overrides the model's own where a benchmark's protocol fixes it. `overlap`: run an
    `ahead` transform on the next batch while the model runs; None (default) does so when the model is on
    an accelerator. On the CPU the forward pass already keeps every core busy, so the two would only
    compete (bench/imagenet_c_eval.py: 0.96x on 2 cores).
    """
    device = torch.device(settings.device)
    autocast_dtype = PRECISIONS[settings.precision]
    pin = device.type == "cuda"
    chunks: dict[str, list[np.ndarray]] = {}
    done, started, total = 0, time.perf_counter(), len(dataset)
    pre = preprocessing or model.spec.preprocessing

    def on_device(batch):
        images, labels = torch.from_numpy(batch.images), torch.from_numpy(batch.labels)
        if pin:
            images = images.pin_memory()
        return batch, images.to(device, non_blocking=pin), labels.to(device, non_blocking=pin)

    def prepare(batch, images, labels):
        x = transform(images, labels, batch.start) if transform is not None else images
        return (batch, labels, *x) if isinstance(x, tuple) else (batch, labels, x, {})

    batches = (on_device(b) for b in iter_batches(dataset, pre, settings.batch_size, cache=cache))
    ahead = transform is not None and bool(getattr(transform, "ahead", False))
    ahead = ahead and (device.type != "cpu" if overlap is None else overlap)
    # An ahead transform prepares batch k+1 in a background thread while the model runs on batch k. Torch
    # releases the GIL in its kernels; on CUDA the thread's launches (the host-side part of a per-image
    # corruption) overlap the model's queued work on the same stream, which keeps their order safe.
    prepared = (in_order_ahead(lambda b: prepare(*b), batches, ahead=0, name="rt-transform") if ahead
                else (prepare(*b) for b in batches))
    for batch, labels, x, extras in prepared:
        with torch.inference_mode():
            x = x.float().div_(255) if x.dtype == torch.uint8 else x.detach()
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                logits = model(x)
            logits = logits.float()
            finite = torch.isfinite(logits).all(dim=1)
            if not bool(finite.all()):
                bad = [str(dataset.samples[batch.start + i].path) for i in torch.nonzero(~finite).flatten().tolist()]
                raise ModelError(
                    f"model {model.name!r} returned NaN/inf logits for {len(bad)} image(s), e.g. {bad[:3]} "
                    f"(precision {settings.precision}). Try --precision fp32, or check the model."
                )
            for name, value in {**outcomes(logits, labels), **extras}.items():
                chunks.setdefault(name, []).append(value.detach().cpu().numpy())
        done += len(batch.labels)
        if progress is not None:
            progress(done, total, time.perf_counter() - started)
    return {name: np.concatenate(parts) for name, parts in chunks.items()}


def measure(
    store: ResultStore,
    model: RobustModel,
    dataset: Dataset,
    settings: Settings,
    *,
    benchmark: str,
    transform: Transform | None = None,
    transform_id: Mapping[str, Any] | str = "none",
    outcomes: Outcomes = top1_outcomes,
    progress: Progress | None = None,
    preprocessing: Preprocessing | None = None,
) -> Entry:
    """Per-image outcomes of `model` on `dataset`, from the store or measured now.

    The key covers model and weights, dataset and subset, transform, outcome function, seed and
    precision. Device and batch size are left out: they change no number beyond float noise.
    """
    parts = {
        "benchmark": benchmark,
        "model": model.identity(),
        "data": dataset.identity(),
        "transform": transform_id,
        "outcomes": f"{getattr(outcomes, '__module__', '')}.{getattr(outcomes, '__qualname__', outcomes)}",
        "seed": settings.seed,
        "precision": settings.precision,
        "preprocessing": (preprocessing or model.spec.preprocessing).key,
    }
    return store.get_or_compute(
        parts,
        lambda: evaluate(model, dataset, settings, transform=transform, outcomes=outcomes, progress=progress,
                         preprocessing=preprocessing),
    )
