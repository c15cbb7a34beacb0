"""Metrics with confidence intervals, computed from per-image outcomes.

Every metric returns an `Estimate`: a value and an interval at a stated confidence level, with
the method that produced the interval. Accuracies use the exact (Clopper-Pearson) binomial
interval; composite metrics use a percentile bootstrap over images.

`METRICS` names every metric a threshold file may claim; a name outside it is a threshold-file
error. Benchmarks add their metrics here when they land.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    unit: str
    low: float  # the smallest value the metric can take
    high: float  # the largest value the metric can take
    higher_is_better: bool
    params: tuple[str, ...] = ()  # the `params` keys a claim of this metric may set


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "validation.top1",
            "top-1 accuracy on ImageNet validation images (Resize, CenterCrop, the model's own preprocessing)",
            "%",
            0.0,
            100.0,
            True,
            params=("dataset",),
        ),
    )
}


@dataclass(frozen=True)
class Estimate:
    """A measured value with a confidence interval over the images it was measured on."""

    value: float
    ci_low: float
    ci_high: float
    n: int
    confidence: float
    method: str

    def __post_init__(self) -> None:
        if not self.ci_low <= self.value <= self.ci_high:
            raise ValueError(f"interval [{self.ci_low}, {self.ci_high}] does not contain the value {self.value}")

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        pct = round(self.confidence * 100)
        return f"{self.value:.4g} ({pct}% CI [{self.ci_low:.4g}, {self.ci_high:.4g}], n={self.n})"


def clopper_pearson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial interval for a proportion: never narrower than the truth."""
    from scipy.stats import beta

    if n <= 0:
        raise ValueError("a proportion needs at least one trial")
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} must lie in [0, n={n}]")
    alpha = 1.0 - confidence
    low = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, n - successes + 1))
    high = 1.0 if successes == n else float(beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    return low, high


def accuracy(correct: Sequence[bool] | np.ndarray, confidence: float = 0.95) -> Estimate:
    """Percentage of True in `correct`, with its Clopper-Pearson interval (in percent)."""
    correct = np.asarray(correct, dtype=bool).ravel()
    n, k = int(correct.size), int(correct.sum())
    low, high = clopper_pearson(k, n, confidence)
    value = 100.0 * k / n
    # Clamp the float noise of the beta quantiles so the interval always contains the value.
    return Estimate(value, min(100.0 * low, value), max(100.0 * high, value), n, confidence, "clopper-pearson")


def bootstrap(
    statistic: Callable[..., float],
    *arrays: np.ndarray,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """Percentile bootstrap of `statistic(*arrays)`, resampling images (the first axis) jointly.

    Arrays are aligned per image, so paired quantities (two models on the same images, several
    corruptions of the same image) keep their pairing inside every resample.
    """
    arrays = tuple(np.asarray(a) for a in arrays)
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        raise ValueError("bootstrap needs non-empty arrays of equal length along the first axis")
    value = float(statistic(*arrays))
    rng = np.random.default_rng(seed)
    draws = np.empty(n_resamples)
    for b in range(n_resamples):
        idx = rng.integers(0, n, n)
        draws[b] = statistic(*(a[idx] for a in arrays))
    alpha = 1.0 - confidence
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return Estimate(value, min(float(low), value), max(float(high), value), n, confidence, "bootstrap-percentile")
