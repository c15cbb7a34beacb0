"""Regression gating: is the new model significantly worse than a baseline on the same claims?

Claim records that carry per-image outcomes (accuracy-type metrics attach the correct/incorrect bit
of every image) are paired by metric and context (dataset fingerprint, eps, steps, rule, ...). Each
pair gets an exact one-sided McNemar test; a claim regresses only when the new model is worse by
more than the margin AND the test rejects "not worse" at the run's confidence level.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .metrics import METRICS, mcnemar_worse


def pack_bits(values) -> dict[str, Any]:
    """Per-image booleans in a compact, JSON-friendly form (1 bit per image)."""
    values = np.asarray(values, dtype=bool)
    return {"n": int(values.size), "bits": base64.b64encode(np.packbits(values).tobytes()).decode("ascii")}


def unpack_bits(packed: dict[str, Any]) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(packed["bits"]), dtype=np.uint8)
    return np.unpackbits(raw)[: packed["n"]].astype(bool)


def _pair_key(record: dict[str, Any]) -> str:
    context = {k: v for k, v in (record.get("context") or {}).items()}
    fingerprint = (record.get("dataset") or {}).get("fingerprint")
    return json.dumps([record["metric"], context, fingerprint], sort_keys=True, default=str)


@dataclass(frozen=True)
class Comparison:
    metric: str
    context: dict[str, Any]
    model: str
    baseline: str
    value: float
    baseline_value: float
    change: float  # value - baseline_value, in the metric's unit
    p_value: float  # one-sided: the new model is worse
    only_baseline_right: int
    only_new_right: int
    n: int
    regressed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        unit = METRICS[self.metric].unit if self.metric in METRICS else ""
        where = " ".join(f"{k}={v}" for k, v in sorted(self.context.items()))
        return (f"{self.model} vs {self.baseline}: {self.metric} [{where}] {self.value:.4g}{unit} vs "
                f"{self.baseline_value:.4g}{unit} (change {self.change:+.4g}{unit}, McNemar p={self.p_value:.3g}, "
                f"n={self.n}, discordant {self.only_baseline_right}/{self.only_new_right})")


def compare(records: list[dict[str, Any]], baseline_records: list[dict[str, Any]], *, baseline: str,
            margin: float, confidence: float) -> list[Comparison]:
    """Every paired claim of every non-baseline model in `records` against `baseline_records`."""
    base = {}
    for r in baseline_records:
        if r["model"] == baseline and r.get("per_image"):
            base.setdefault(_pair_key(r), r)
    seen, out = set(), []
    for r in records:
        if r["model"] == baseline or not r.get("per_image"):
            continue
        key = _pair_key(r)
        if (r["model"], key) in seen or key not in base:
            continue
        seen.add((r["model"], key))
        old = base[key]
        new_bits, old_bits = unpack_bits(r["per_image"]), unpack_bits(old["per_image"])
        if new_bits.shape != old_bits.shape:
            continue
        p, b, c = mcnemar_worse(new_bits, old_bits)
        change = r["value"] - old["value"]
        higher_is_better = METRICS[r["metric"]].higher_is_better if r["metric"] in METRICS else True
        worse_by = -change if higher_is_better else change
        out.append(Comparison(r["metric"], r.get("context") or {}, r["model"], baseline, r["value"], old["value"],
                              change, p, b, c, int(new_bits.size),
                              regressed=worse_by > margin and p < 1 - confidence))
    return out
