"""uint8 batches of a dataset, decoded (or read from the cache) ahead of the model.

Threads, not processes: PIL decoding and file reads release the GIL, the batches stay in one
address space (no pickling of 150 kB images), and there is nothing to fork on 2-core CI.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

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

    yield from in_order_ahead(prepare, range(0, len(paths), batch_size), ahead=prefetch, workers=workers,
                              name="rt-decode")


_END = object()


def in_order_ahead(fn: Callable, items: Iterable, *, ahead: int, workers: int = 1, name: str = "rt-ahead") -> Iterator:
    """fn(item) for each item, yielded in order, while up to `ahead` later items are under way in worker
    threads. `items` is iterated in the caller's thread; an error in fn surfaces where its item is consumed."""
    items = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        pending: deque = deque(pool.submit(fn, item) for item in islice(items, ahead + 1))
        while pending:
            result = pending.popleft().result()
            item = next(items, _END)
            if item is not _END:
                pending.append(pool.submit(fn, item))
            yield result
