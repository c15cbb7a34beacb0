"""Threshold files, claims and statistical verdicts.

A threshold file `thresholds/<model>.toml` holds the published numbers for one model and the bounds
the suite checks them against:

    model = "wsl_32x48d"
    source = "Orhan 2019, arXiv:1907.07640"

    [claims.top1]
    metric = "validation.top1"
    params = { dataset = "imagenet-val" }
    published = 85.4
    op = ">="
    bound = 84.4

A claim's verdict compares the measurement's confidence interval with the bound: *confirmed* when
the whole interval satisfies it, *violated* when the whole interval breaks it (the test fails),
*consistent* otherwise (the sample cannot decide).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ThresholdError
from .metrics import METRICS, Estimate

OPS = ("<=", ">=")
VERDICTS = ("confirmed", "consistent", "violated")
TOP_KEYS = {"model": str, "source": str, "notes": str, "claims": dict}
CLAIM_KEYS = {
    "metric": str,
    "op": str,
    "bound": float,
    "published": float,
    "params": dict,
    "source": str,
    "note": str,
}
REQUIRED_CLAIM_KEYS = ("metric", "op", "bound")


def threshold_filename(model: str) -> str:
    """`wsl_32x8d` -> `wsl_32x8d.toml`; `timm:resnet18` -> `timm__resnet18.toml`."""
    return model.replace(":", "__").replace("/", "_") + ".toml"


@dataclass(frozen=True)
class Claim:
    """One bound on one metric of one model, with where the number comes from."""

    model: str
    id: str
    metric: str
    op: str
    bound: float
    published: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    file: Path | None = None

    def applies_to(self, **context: Any) -> bool:
        """True unless a param named in `context` has another value (e.g. another dataset)."""
        return all(self.params[k] == v for k, v in context.items() if k in self.params)

    def verdict(self, estimate: Estimate) -> str:
        if self.op == ">=":
            if estimate.ci_low >= self.bound:
                return "confirmed"
            return "violated" if estimate.ci_high < self.bound else "consistent"
        if estimate.ci_high <= self.bound:
            return "confirmed"
        return "violated" if estimate.ci_low > self.bound else "consistent"

    def evaluate(self, estimate: Estimate, **extra: Any) -> ClaimResult:
        return ClaimResult(self, estimate, self.verdict(estimate), extra)


@dataclass(frozen=True)
class ClaimResult:
    """A claim with the estimate it was judged on: what the report and the test failure show."""

    claim: Claim
    estimate: Estimate
    verdict: str
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The claim record of results.json (flat, JSON-ready)."""
        c, e = self.claim, self.estimate
        return {
            "model": c.model,
            "claim": c.id,
            "metric": c.metric,
            "value": e.value,
            "ci_low": e.ci_low,
            "ci_high": e.ci_high,
            "n": e.n,
            "confidence": e.confidence,
            "interval_method": e.method,
            "op": c.op,
            "bound": c.bound,
            "published": c.published,
            "verdict": self.verdict,
            "params": dict(c.params),
            "source": c.source,
            "thresholds_file": str(c.file) if c.file else None,
            **self.extra,
        }

    def message(self) -> str:
        c, e = self.claim, self.estimate
        unit = METRICS[c.metric].unit if c.metric in METRICS else ""
        pct = round(e.confidence * 100)
        lines = [
            f"claim {c.model}/{c.id} {self.verdict.upper()}: {c.metric} must be {c.op} {c.bound:g}{unit}",
            f"  measured:  {e.value:.4g}{unit}, {pct}% CI [{e.ci_low:.4g}, {e.ci_high:.4g}] ({e.method}), n={e.n}",
            f"  published: {c.published:g}{unit}" if c.published is not None else "  published: (none)",
        ]
        if c.published is not None:
            lines[-1] += f"  (measured - published = {e.value - c.published:+.4g})"
        if c.params:
            lines.append(f"  params:    {c.params}")
        lines.append(f"  source:    {c.source or '(not given)'}  [{c.file}]")
        if self.verdict == "violated":
            lines.append(
                "  The whole interval lies on the wrong side of the bound. If the model changed, this is a "
                "regression; if the protocol changed on purpose, update the bound in the threshold file."
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class ThresholdFile:
    path: Path
    model: str
    source: str
    claims: dict[str, Claim]

    def select(self, metric: str, **context: Any) -> list[Claim]:
        """Claims on `metric` that apply to `context` (e.g. dataset="imagenet-val")."""
        return [c for c in self.claims.values() if c.metric == metric and c.applies_to(**context)]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_ok(value: Any, expected: type) -> bool:
    return _is_number(value) if expected is float else isinstance(value, expected)


def _type_name(expected: type) -> str:
    return {float: "a number", str: "a string", dict: "a table"}[expected]


def _unknown(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(sorted(allowed))})"


def _parse(path: Path, problems: list[str]) -> ThresholdFile | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path}: TOML syntax error: {exc}")
        return None
    except OSError as exc:
        problems.append(f"{path}: cannot read: {exc}")
        return None
    before = len(problems)
    for key, value in data.items():
        if key not in TOP_KEYS:
            problems.append(f"{path}: unknown top-level key {key!r}{_unknown(key, list(TOP_KEYS))}")
        elif not _type_ok(value, TOP_KEYS[key]):
            problems.append(f"{path}: {key} must be {_type_name(TOP_KEYS[key])}, got {value!r}")
    model = data.get("model")
    if not isinstance(model, str):
        problems.append(f"{path}: missing top-level key 'model' (the model name this file is for)")
    elif threshold_filename(model) != path.name:
        problems.append(f"{path}: model = {model!r} but the file for that model is named {threshold_filename(model)}")
    source = data.get("source", "") if isinstance(data.get("source", ""), str) else ""
    claims: dict[str, Claim] = {}
    raw_claims = data.get("claims", {})
    for cid, raw in (raw_claims.items() if isinstance(raw_claims, dict) else []):
        where = f"{path}: claims.{cid}"
        if not isinstance(raw, dict):
            problems.append(f"{where} must be a table ([claims.{cid}])")
            continue
        ok = True
        if raw and all(isinstance(v, dict) for v in raw.values()) and "metric" not in raw:
            problems.append(f"{where}: holds only tables ({', '.join(raw)}): a dot in a claim name makes nested "
                            f"tables in TOML; name it without dots, e.g. [claims.{cid}_{'_'.join(raw)}]")
            continue
        for key, value in raw.items():
            if key not in CLAIM_KEYS:
                problems.append(f"{where}: unknown key {key!r}{_unknown(key, list(CLAIM_KEYS))}")
                ok = False
            elif not _type_ok(value, CLAIM_KEYS[key]):
                problems.append(f"{where}.{key} must be {_type_name(CLAIM_KEYS[key])}, got {value!r}")
                ok = False
        for key in REQUIRED_CLAIM_KEYS:
            if key not in raw:
                problems.append(f"{where}: missing required key {key!r}")
                ok = False
        metric = METRICS.get(raw.get("metric")) if isinstance(raw.get("metric"), str) else None
        if isinstance(raw.get("metric"), str) and metric is None:
            problems.append(f"{where}.metric: unknown metric {raw['metric']!r}{_unknown(raw['metric'], list(METRICS))}")
            ok = False
        if isinstance(raw.get("op"), str) and raw["op"] not in OPS:
            problems.append(f"{where}.op must be '<=' or '>=', got {raw['op']!r}")
            ok = False
        if metric is not None:
            for key in ("bound", "published"):
                value = raw.get(key)
                if _is_number(value) and not metric.low <= value <= metric.high:
                    problems.append(
                        f"{where}.{key} = {value} is impossible for {metric.name}: it lies in "
                        f"[{metric.low:g}, {metric.high:g}] ({metric.unit})"
                    )
                    ok = False
            for key in raw.get("params", {}) if isinstance(raw.get("params"), dict) else {}:
                if key not in metric.params:
                    problems.append(
                        f"{where}.params: unknown param {key!r} for {metric.name}{_unknown(key, list(metric.params))}"
                    )
                    ok = False
        if ok and _is_number(raw.get("published")):
            claim = Claim(model, cid, raw["metric"], raw["op"], float(raw["bound"]), float(raw["published"]))
            if claim.verdict(Estimate(claim.published, claim.published, claim.published, 0, 1.0, "exact")) == "violated":
                problems.append(
                    f"{where}: the published value {raw['published']} itself breaks the bound "
                    f"{raw['op']} {raw['bound']}"
                )
                ok = False
        if ok:
            claims[cid] = Claim(
                model=model if isinstance(model, str) else path.stem,
                id=cid,
                metric=raw["metric"],
                op=raw["op"],
                bound=float(raw["bound"]),
                published=float(raw["published"]) if "published" in raw else None,
                params=dict(raw.get("params", {})),
                source=raw.get("source", source),
                file=path,
            )
    if len(problems) > before or not isinstance(model, str):
        return None
    return ThresholdFile(path=path, model=model, source=source, claims=claims)


def load_threshold_file(path: str | os.PathLike) -> ThresholdFile:
    """Parse and validate one file; a `ThresholdError` lists every problem in it."""
    problems: list[str] = []
    result = _parse(Path(path), problems)
    if problems or result is None:
        raise ThresholdError(problems or [f"{path}: invalid"])
    return result


def load_thresholds(directory: str | os.PathLike, models: list[str]) -> dict[str, ThresholdFile | None]:
    """The threshold file of each model (None where there is none); problems across all files at once."""
    directory = Path(directory)
    problems: list[str] = []
    out: dict[str, ThresholdFile | None] = {}
    for model in models:
        path = directory / threshold_filename(model)
        out[model] = _parse(path, problems) if path.is_file() else None
    if problems:
        raise ThresholdError(problems)
    return out
