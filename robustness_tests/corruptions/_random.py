"""Per-image random streams, so that an image's corruption does not depend on its batch.

Image `i` of a call draws from a `torch.Generator` seeded from (seed, corruption, severity, index), where
index is the image's position in its dataset (`indices=`) or in the batch. The same image with the same
seed gets the same pixels whatever the batch size; on CUDA the stream is CUDA's, so CPU and GPU pixels
differ (both follow the same distributions).
"""

from __future__ import annotations

import hashlib

import torch


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any printable parts: stable across processes and Python versions."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class Streams:
    """One generator per image; every draw returns a tensor stacked over the batch."""

    def __init__(self, seeds: list[int], device: torch.device):
        self.device = device
        kind = "cuda" if device.type == "cuda" else "cpu"
        self.generators = []
        for seed in seeds:
            g = torch.Generator(device=kind)
            g.manual_seed(seed)
            self.generators.append(g)

    def __len__(self) -> int:
        return len(self.generators)

    def _fill(self, shape: tuple[int, ...], fill, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """One [N, *shape] tensor; image i's slice filled in place from generator i (no stacking copy)."""
        kind = "cuda" if self.device.type == "cuda" else "cpu"
        out = torch.empty((len(self.generators), *shape), device=kind, dtype=dtype)
        for row, g in zip(out, self.generators):
            fill(row, g)
        return out.to(self.device)

    def uniform(self, shape: tuple[int, ...], low: float = 0.0, high: float = 1.0,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return self._fill(shape, lambda row, g: row.uniform_(low, high, generator=g), dtype)

    def normal(self, shape: tuple[int, ...], mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
        return self._fill(shape, lambda row, g: row.normal_(mean, std, generator=g))

    def randint(self, low: int, high: int, shape: tuple[int, ...]) -> torch.Tensor:
        """Integers in [low, high), like numpy's randint."""
        kind = "cuda" if self.device.type == "cuda" else "cpu"
        out = torch.empty((len(self.generators), *shape), dtype=torch.int64, device=kind)
        for row, g in zip(out, self.generators):
            row.random_(low, high, generator=g)
        return out.to(self.device)

    def poisson(self, rates: torch.Tensor) -> torch.Tensor:
        kind = "cuda" if self.device.type == "cuda" else "cpu"
        return torch.stack([torch.poisson(r.to(kind), generator=g) for r, g in zip(rates, self.generators)]).to(
            self.device
        )
