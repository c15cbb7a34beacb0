"""uint8 batches of a dataset, decoded (or read from the cache) ahead of the model.

Threads, not processes: PIL decoding and file reads release the GIL, the batches stay in one
address space (no pickling of 150 kB images), and there is nothing to fork on 2-core CI.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..zoo import Preprocessing
from .decode import DecodedCache
from .imagenet import Dataset


@dataclass
class Batch:
    images: np.ndarray  # uint8 [B, 3, H, W]
    labels: np.ndarray  # int64 [B]
    start: int  # index of the first image in the dataset


def iter_batches(
    dataset: Dataset,
    pre: Preprocessing,
    batch_size: int,
    *,
    cache: DecodedCache | None = None,
    prefetch: int = 2,
    workers: int | None = None,
) -> Iterator[Batch]:
    """Yield `Batch`es in dataset order while up to `prefetch` later batches are being prepared."""
    cache = cache or DecodedCache()
    workers = workers or min(4, os.cpu_count() or 1)
    paths = [s.path for s in dataset.samples]
    labels = np.asarray(dataset.labels, dtype=np.int64)

    def prepare(start: int) -> Batch:
        images = cache.load_many(paths[start : start + batch_size], pre)
        return Batch(np.stack(images), labels[start : start + batch_size], start)

    starts = iter(range(0, len(paths), batch_size))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rt-decode") as pool:
        pending: deque = deque()
        for start in starts:
            pending.append(pool.submit(prepare, start))
            if len(pending) > prefetch:
                break
        while pending:
            batch = pending.popleft().result()
            nxt = next(starts, None)
            if nxt is not None:
                pending.append(pool.submit(prepare, nxt))
            yield batch
