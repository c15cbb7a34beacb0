"""Regression gating: is the new model significantly worse than a baseline on the same claims?

Claim records carry per-image outcomes: accuracy-type metrics the correct bit of every image, shape
bias every image's decision with its shape and texture categories. Records are paired by metric and
context (dataset fingerprint, eps, steps, rule, ...). Accuracies get an exact one-sided McNemar test;
composite metrics a paired bootstrap of the difference (its p-value is the share of resamples in which
the new model is not worse). A claim regresses only when the new model is worse by more than the
margin AND the test rejects "not worse" at the run's confidence level.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .metrics import METRICS, mcnemar_worse, shape_bias_value


def pack_arrays(arrays: dict[str, Any]) -> dict[str, Any]:
    """Per-image arrays in a compact, JSON-friendly form: booleans as bits, small integers as bytes."""
    out: dict[str, Any] = {}
    n = None
    for name, values in arrays.items():
        values = np.asarray(values)
        n = values.size if n is None else n
        if values.size != n:
            raise ValueError(f"per-image arrays must have one entry per image: {name} has {values.size}, not {n}")
        if values.dtype == bool:
            out[name] = {"dtype": "bool", "data": base64.b64encode(np.packbits(values).tobytes()).decode("ascii")}
        else:
            if values.min(initial=0) < 0 or values.max(initial=0) > 65535:
                raise ValueError(f"per-image array {name} must hold booleans or integers in [0, 65535]")
            dtype = "uint8" if values.max(initial=0) < 256 else "uint16"
            data = values.astype(dtype).tobytes()
            out[name] = {"dtype": dtype, "data": base64.b64encode(data).decode("ascii")}
    return {"n": int(n or 0), "arrays": out}


def unpack_arrays(packed: dict[str, Any]) -> dict[str, np.ndarray]:
    n, out = packed["n"], {}
    for name, item in packed["arrays"].items():
        raw = base64.b64decode(item["data"])
        if item["dtype"] == "bool":
            out[name] = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[:n].astype(bool)
        else:
            out[name] = np.frombuffer(raw, dtype=item["dtype"]).astype(np.int64)
    return out


def _paired_test(metric: str, new: dict[str, np.ndarray], old: dict[str, np.ndarray], *, higher_is_better: bool,
                 seed: int = 0) -> tuple[float, int, int] | None:
    """(one-sided p-value that the new model is worse, discordant b, c) or None if not pairable."""
    if "correct" in new and "correct" in old:
        if higher_is_better:
            return mcnemar_worse(new["correct"], old["correct"])
        p, b, c = mcnemar_worse(old["correct"], new["correct"])
        return p, c, b
    if metric == "shape_bias.shape_bias" and {"decision", "shape", "texture"} <= set(new) & set(old):
        if not (np.array_equal(new["shape"], old["shape"]) and np.array_equal(new["texture"], old["texture"])):
            return None
        rng = np.random.default_rng(seed)
        n = len(new["decision"])
        gains = []
        for _ in range(2000):
            idx = rng.integers(0, n, n)
            gains.append(shape_bias_value(new["decision"][idx], new["shape"][idx], new["texture"][idx])
                         - shape_bias_value(old["decision"][idx], old["shape"][idx], old["texture"][idx]))
        gains = np.asarray(gains)
        not_worse = gains >= 0 if higher_is_better else gains <= 0
        return float(np.mean(not_worse)), 0, 0
    return None


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
        new_arrays, old_arrays = unpack_arrays(r["per_image"]), unpack_arrays(old["per_image"])
        if r["per_image"]["n"] != old["per_image"]["n"]:
            continue
        higher_is_better = METRICS[r["metric"]].higher_is_better if r["metric"] in METRICS else True
        tested = _paired_test(r["metric"], new_arrays, old_arrays, higher_is_better=higher_is_better)
        if tested is None:
            continue
        p, b, c = tested
        change = r["value"] - old["value"]
        worse_by = -change if higher_is_better else change
        out.append(Comparison(r["metric"], r.get("context") or {}, r["model"], baseline, r["value"], old["value"],
                              change, p, b, c, int(r["per_image"]["n"]),
                              regressed=worse_by > margin and p < 1 - confidence))
    return out
