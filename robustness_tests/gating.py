"""Regression gating: is the new model significantly worse than a baseline on the same claims?

Claim records carry per-image outcomes: accuracy-type metrics the correct bit of every image (an error
metric's too: worse means fewer right), composite metrics what their value is computed from (shape bias:
decisions with shape and texture categories; ImageNet-A calibration: confidence and correctness;
ImageNet-C: each image's number of wrong severities per corruption; ImageNet-P: each sequence's flip rate
or top-5 distance). Records are paired by metric and context (dataset fingerprint, eps, steps, rule, ...).
Accuracies get an exact one-sided McNemar test; composite metrics a paired bootstrap of the difference
(`composite_value` recomputes the metric from a resample; the p-value is the share of resamples in which
the new model is not worse). A claim regresses only when the new model is worse by more than the
margin AND the test rejects "not worse" at the run's confidence level.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .metrics import (
    ALEXNET_CLEAN_ERROR,
    ALEXNET_IMAGENET_C_ERRORS,
    METRICS,
    aurra,
    mcnemar_worse,
    rms_calibration_error,
    shape_bias_value,
)


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
        elif np.issubdtype(values.dtype, np.floating):
            data = values.astype(np.float32).tobytes()
            out[name] = {"dtype": "float32", "data": base64.b64encode(data).decode("ascii")}
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
        elif item["dtype"] == "float32":
            out[name] = np.frombuffer(raw, dtype=np.float32).astype(np.float64)
        else:
            out[name] = np.frombuffer(raw, dtype=item["dtype"]).astype(np.int64)
    return out


def composite_value(metric: str, a: dict[str, np.ndarray]) -> float | None:
    """The value of a composite metric recomputed from its per-image arrays, or None if it has none."""
    if metric == "shape_bias.shape_bias" and {"decision", "shape", "texture"} <= set(a):
        return shape_bias_value(a["decision"], a["shape"], a["texture"])
    if metric == "imagenet_a.rms_calibration_error" and {"confidence", "correct"} <= set(a):
        return 100.0 * rms_calibration_error(a["confidence"], a["correct"])
    if metric == "imagenet_a.aurra" and {"confidence", "correct"} <= set(a):
        return 100.0 * aurra(a["confidence"], a["correct"])
    wrong = {k.partition(":")[2]: v for k, v in a.items() if k.startswith("wrong:")}  # severities wrong, 0..5
    if metric.startswith("imagenet_c.") and wrong:
        errors = {c: v.mean() / 5 for c, v in wrong.items()}
        if metric in ("imagenet_c.mean_error", "imagenet_c.extra_mean_error", "imagenet_c.corruption_mean_error"):
            return 100.0 * float(np.mean(list(errors.values())))
        alexnet = {c: float(np.mean(ALEXNET_IMAGENET_C_ERRORS[c])) for c in errors}
        if metric in ("imagenet_c.mce", "imagenet_c.corruption_error"):
            return 100.0 * float(np.mean([errors[c] / alexnet[c] for c in errors]))
        if metric == "imagenet_c.relative_mce" and "clean_wrong" in a:
            clean = a["clean_wrong"].mean()
            return 100.0 * float(np.mean([(errors[c] - clean) / (alexnet[c] - ALEXNET_CLEAN_ERROR) for c in errors]))
    sequences = [v for k, v in a.items() if k.startswith("sequence:")]  # per-sequence FP or T5D
    if metric.startswith("imagenet_p.") and sequences:
        return float(np.mean([v.mean() for v in sequences]))
    return None


def _paired_bootstrap(metric: str, new: dict[str, np.ndarray], old: dict[str, np.ndarray], higher_is_better: bool,
                      seed: int, resamples: int = 2000) -> float | None:
    """Share of joint resamples of the images in which the new model is not worse."""
    if composite_value(metric, new) is None or composite_value(metric, old) is None:
        return None
    n = len(next(iter(new.values())))
    rng = np.random.default_rng(seed)
    not_worse = 0
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        gain = composite_value(metric, {k: v[idx] for k, v in new.items()}) - \
            composite_value(metric, {k: v[idx] for k, v in old.items()})
        not_worse += bool(gain >= 0 if higher_is_better else gain <= 0)
    return not_worse / resamples


def _paired_test(metric: str, new: dict[str, np.ndarray], old: dict[str, np.ndarray], *, higher_is_better: bool,
                 seed: int = 0) -> tuple[float, int, int] | None:
    """(one-sided p-value that the new model is worse, discordant b, c) or None if not pairable."""
    if set(new) == {"correct"} and set(old) == {"correct"}:
        # fewer images right is worse whichever way the metric is read (accuracy or error)
        return mcnemar_worse(new["correct"], old["correct"])
    for name in ("shape", "texture"):  # shape bias: the same stimuli in the same order
        if name in new and not np.array_equal(new[name], old.get(name)):
            return None
    p = _paired_bootstrap(metric, new, old, higher_is_better, seed)
    return None if p is None else (p, 0, 0)


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
    test: str = "McNemar"  # or "paired bootstrap" (composite metrics)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        unit = METRICS[self.metric].unit if self.metric in METRICS else ""
        where = " ".join(f"{k}={v}" for k, v in sorted(self.context.items()))
        return (f"{self.model} vs {self.baseline}: {self.metric} [{where}] {self.value:.4g}{unit} vs "
                f"{self.baseline_value:.4g}{unit} (change {self.change:+.4g}{unit}, {self.test} p={self.p_value:.3g}, n={self.n}"
                + (f", discordant {self.only_baseline_right}/{self.only_new_right})" if self.test == "McNemar" else ")"))


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
        test = "McNemar" if set(new_arrays) == {"correct"} else "paired bootstrap"
        out.append(Comparison(r["metric"], r.get("context") or {}, r["model"], baseline, r["value"], old["value"],
                              change, p, b, c, int(r["per_image"]["n"]),
                              regressed=worse_by > margin and p < 1 - confidence, test=test))
    return out
