"""`RobustModel`: the one interface every benchmark sees.

Float images in [0, 1], NCHW at the model's input size in; logits [N, 1000] out. Normalisation
lives inside, so attacks and corruptions work in pixel space with the bounds [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from .zoo import ModelSpec


class RobustModel(nn.Module):
    """A classifier with its normalisation, its spec (preprocessing, license) and a weights id."""

    def __init__(self, net: nn.Module, spec: ModelSpec, weights_id: str):
        super().__init__()
        self.net = net
        self.spec = spec
        self.weights_id = weights_id
        self.register_buffer("mean", torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1))

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # channels_last: ~1.7x faster depthwise/grouped convolutions on CPU, and what tensor cores
        # want under autocast on CUDA. `load` converts the weights to match.
        x = ((images - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def identity(self) -> dict[str, str]:
        """What makes this model's numbers this model's: for store keys and provenance."""
        return {"name": self.spec.name, "weights": self.weights_id, "preprocessing": self.spec.preprocessing.key}

    def extra_repr(self) -> str:
        return f"name={self.spec.name!r}, input_size={self.spec.input_size}, weights={self.weights_id[:20]}"
