"""The table of corruptions: each family module registers its functions here with their needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ._random import Streams

#: fn(x, severity, streams) -> corrupted image; x is float32 [N, 3, H, W] in grey levels 0..255, the
#: result is in grey levels too (unclipped: `corrupt` clips and truncates as the generator's np.uint8 does).
Kernel = Callable[[torch.Tensor, int, Streams], torch.Tensor]


@dataclass(frozen=True)
class Corruption:
    name: str
    family: str
    kernel: Kernel
    random: bool  # draws random numbers (its fidelity is a matter of distributions, not pixels)
    min_size: Callable[[int], int]  # smallest height/width it can corrupt at a severity
    exact_uint8: bool = False  # works on the uint8 images themselves and returns uint8 (no float round trip)
    # Images per kernel call on the CPU. Kernels run many passes over their intermediates; a chunk whose
    # intermediates fit in the cache runs 2-10x faster than a batch of 64 at once (bench/corruptions.py).
    # None: the whole batch in one call (kernels whose cost is per call, or that batch well).
    cpu_chunk: int | None = 4


REGISTRY: dict[str, Corruption] = {}


def register(name: str, family: str, *, random: bool, min_size: int | Callable[[int], int] = 1,
             exact_uint8: bool = False, cpu_chunk: int | None = 4):
    def add(kernel: Kernel) -> Kernel:
        size = min_size if callable(min_size) else (lambda _severity, m=min_size: m)
        REGISTRY[name] = Corruption(name, family, kernel, random, size, exact_uint8, cpu_chunk)
        return kernel

    return add
