"""Cue-conflict decisions: ImageNet logits -> one of the 16 categories, by either rule.

- "max" (the paper's): argmax of the logits restricted to the union of the 16 categories' ImageNet
  classes; the decision is the category that owns that class.
- "mean" (Geirhos et al. / model-vs-human): softmax over the 1000 classes, the mean probability of each
  category's classes, then argmax over categories.

Both decisions come from one forward pass and are stored together.
"""

from __future__ import annotations

import torch

from .data.cue_conflict import CATEGORIES, CATEGORY_INDICES, RULES


def _members(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    classes = [i for c in CATEGORIES for i in CATEGORY_INDICES[c]]
    owner = [k for k, c in enumerate(CATEGORIES) for _ in CATEGORY_INDICES[c]]
    return torch.tensor(classes, device=device), torch.tensor(owner, device=device)


def decisions(logits: torch.Tensor, rule: str) -> torch.Tensor:
    """Category index (into CATEGORIES) per image."""
    classes, owner = _members(logits.device)
    if rule == "max":
        return owner[logits[:, classes].argmax(dim=1)]
    if rule == "mean":
        probs = logits.softmax(dim=1)[:, classes]
        sums = torch.zeros(len(logits), len(CATEGORIES), device=logits.device, dtype=probs.dtype)
        sums.index_add_(1, owner, probs)
        counts = torch.bincount(owner, minlength=len(CATEGORIES)).to(probs.dtype)
        return (sums / counts).argmax(dim=1)
    raise ValueError(f"unknown decision rule {rule!r}; use one of {RULES}")


def cue_conflict_outcomes(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per image: the decision under each rule (labels are the shape categories, kept for reference)."""
    return {"shape": labels, **{f"decision_{rule}": decisions(logits, rule) for rule in RULES}}


def measure_decisions(measure, model, stimuli):
    """The stored entry of `model`'s decisions on the cue-conflict `stimuli` (224x224, used as they are):
    the one call every shape-bias claim, single- or cross-model, reads them through."""
    from .zoo import Preprocessing

    return measure(model, stimuli, benchmark="shape_bias", outcomes=cue_conflict_outcomes,
                   preprocessing=Preprocessing.exact_size(224))
