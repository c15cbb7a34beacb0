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
from typing import Any

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
        Metric("shape_bias.shape_bias", "shape decisions / (shape + texture decisions) on the 1200 cue-conflict "
               "images", "", 0.0, 1.0, True, params=("rule",)),
        Metric("shape_bias.decided_fraction", "fraction of cue-conflict images decided as their shape or their "
               "texture category", "", 0.0, 1.0, True, params=("rule",)),
        Metric("shape_bias.gain_over_baseline", "shape bias minus the baseline model's on the same stimuli "
               "(paired bootstrap)", "", -1.0, 1.0, True, params=("rule", "baseline")),
        Metric("adversarial.accuracy", "% of attacked images still classified as their true label (white-box "
               "PGD; protocol 'paper' = targeted, early stop, clean image kept on failure)", "%", 0.0, 100.0, True,
               params=("eps", "steps", "protocol", "dataset")),
        Metric("adversarial.transfer_accuracy", "% of images crafted on a surrogate (paper protocol) that the "
               "target still classifies correctly", "%", 0.0, 100.0, True, params=("eps", "steps", "surrogate", "dataset")),
        Metric("imagenet_a.top1", "top-1 accuracy on ImageNet-A, logits restricted to its 200 classes", "%",
               0.0, 100.0, True, params=("dataset",)),
        Metric("imagenet_a.rms_calibration_error", "RMS calibration error on ImageNet-A (natural-adv-examples "
               "calib_err, bins of 100)", "%", 0.0, 100.0, False, params=("dataset",)),
        Metric("imagenet_a.aurra", "area under the response rate accuracy curve on ImageNet-A", "%", 0.0, 100.0,
               True, params=("dataset",)),
        Metric("imagenet_c.error", "top-1 error under one ImageNet-C corruption at one severity", "%", 0.0, 100.0,
               False, params=("corruption", "severity", "data", "dataset")),
        Metric("imagenet_c.corruption_error", "CE x 100: top-1 error summed over the 5 severities / the "
               "normaliser's (AlexNet's released-data constants, or a baseline measured on the same images)", "",
               0.0, 1000.0, False, params=("corruption", "normalizer", "data", "dataset")),
        Metric("imagenet_c.corruption_mean_error", "top-1 error under one corruption, mean over the 5 severities "
               "(the paper's raw per-corruption error)", "%", 0.0, 100.0, False,
               params=("corruption", "data", "dataset")),
        Metric("imagenet_p.flip_probability", "ImageNet-P flip probability: fraction of frame pairs whose top-1 "
               "prediction differs (noise: each frame vs frame 0; others: consecutive frames at the difficulty's "
               "stride), mean over sequences", "", 0.0, 1.0, False,
               params=("perturbation", "difficulty", "data", "dataset")),
        Metric("imagenet_p.top5_distance", "ImageNet-P top-5 distance (test.py's dist(mode='top5') on ordinal "
               "ranks), same pairing, mean over sequences", "", 0.0, 25.0, False,
               params=("perturbation", "difficulty", "data", "dataset")),
        Metric("imagenet_p.mean_flip_probability", "flip probability averaged over the 10 ImageNet-P "
               "perturbations", "", 0.0, 1.0, False, params=("difficulty", "data", "dataset")),
        Metric("imagenet_p.mean_top5_distance", "top-5 distance averaged over the 10 perturbations", "", 0.0, 25.0,
               False, params=("difficulty", "data", "dataset")),
        Metric("imagenet_p.mfr", "mean flip rate x 100: FP per perturbation / a baseline model's on the same "
               "sequences, averaged over the 10 (AlexNet's constants are not public in readable form)", "",
               0.0, 10000.0, False, params=("normalizer", "difficulty", "data", "dataset")),
        Metric("imagenet_p.mt5d", "mean top-5 distance x 100 relative to a baseline model on the same sequences", "",
               0.0, 10000.0, False, params=("normalizer", "difficulty", "data", "dataset")),
        Metric("cross.gain", "how much better the model is than another model of the run on a benchmark's "
               "headline (imagenet_c: mCE points; imagenet_p: mean flip probability; imagenet_a: top-1 points; "
               "shape_bias: shape bias, max rule); positive = better; paired bootstrap over the shared images", "",
               -1000.0, 1000.0, True, params=("benchmark", "baseline")),
        Metric("cross.relative_gain_excess", "relative improvement over another model on a robustness benchmark "
               "(its error-like headline) minus the relative improvement in clean top-1 error", "", -100.0, 100.0,
               True, params=("benchmark", "baseline")),
        Metric("imagenet_c.mce", "mean CE x 100 over the 15 ImageNet-C corruptions", "", 0.0, 1000.0, False,
               params=("normalizer", "data", "dataset")),
        Metric("imagenet_c.relative_mce", "mean relative CE x 100 over the 15 corruptions (clean error "
               "subtracted from model and normaliser)", "", -1000.0, 1000.0, False,
               params=("normalizer", "data", "dataset")),
        Metric("imagenet_c.mean_error", "mean top-1 error over the 15 corruptions x 5 severities", "%", 0.0, 100.0,
               False, params=("data", "dataset")),
        Metric("imagenet_c.extra_mean_error", "mean top-1 error over the 4 held-out corruptions x 5 severities",
               "%", 0.0, 100.0, False, params=("data", "dataset")),
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


def bootstrap_draws(statistic: Callable[..., float], *arrays: np.ndarray, n_resamples: int = 2000,
                    seed: int = 0) -> tuple[float, np.ndarray]:
    """(statistic on the data, its values on `n_resamples` joint resamples of the images)."""
    arrays = tuple(np.asarray(a) for a in arrays)
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        raise ValueError("bootstrap needs non-empty arrays of equal length along the first axis")
    rng = np.random.default_rng(seed)
    draws = np.empty(n_resamples)
    for b in range(n_resamples):
        idx = rng.integers(0, n, n)
        draws[b] = statistic(*(a[idx] for a in arrays))
    return float(statistic(*arrays)), draws


def estimate_from_draws(value: float, draws: np.ndarray, confidence: float) -> Estimate:
    """A percentile interval from bootstrap draws (e.g. combined from independent samples). Resamples
    where the statistic is undefined (NaN: no decided image, say) are left out; if all are, or the value
    itself is undefined, this raises ValueError."""
    draws = np.asarray(draws, dtype=np.float64)
    finite = draws[np.isfinite(draws)]
    if not np.isfinite(value) or finite.size == 0:
        raise ValueError(f"the statistic is undefined on these images (value {value}); use more images")
    alpha = 1.0 - confidence
    low, high = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
    return Estimate(value, min(float(low), value), max(float(high), value), len(draws), confidence,
                    "bootstrap-percentile")


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


# --------------------------------------------------------------------------------------------------
# Shape bias (Geirhos et al. 2019): decisions are category indices, one per cue-conflict image.


def _shape_texture_counts(decisions: np.ndarray, shape: np.ndarray, texture: np.ndarray) -> tuple[int, int]:
    return int((decisions == shape).sum()), int((decisions == texture).sum())


def shape_bias_value(decisions: np.ndarray, shape: np.ndarray, texture: np.ndarray) -> float:
    """shape / (shape + texture) decisions; NaN when no image was decided as either."""
    s, t = _shape_texture_counts(np.asarray(decisions), np.asarray(shape), np.asarray(texture))
    return s / (s + t) if s + t else float("nan")


def shape_bias(decisions, shape, texture, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """Shape bias with a bootstrap interval over images (the denominator varies, so not binomial)."""
    decisions, shape, texture = (np.asarray(a) for a in (decisions, shape, texture))
    s, t = _shape_texture_counts(decisions, shape, texture)
    if s + t == 0:
        raise ValueError("no cue-conflict image was decided as its shape or its texture: shape bias is undefined")
    return bootstrap(shape_bias_value, decisions, shape, texture, confidence=confidence, seed=seed)


def decided_fraction(decisions, shape, texture, confidence: float = 0.95) -> Estimate:
    """Fraction of images decided as shape or texture, with its exact binomial interval."""
    decisions, shape, texture = (np.asarray(a) for a in (decisions, shape, texture))
    hit = (decisions == shape) | (decisions == texture)
    n, k = len(hit), int(hit.sum())
    low, high = clopper_pearson(k, n, confidence)
    return Estimate(k / n, min(low, k / n), max(high, k / n), n, confidence, "clopper-pearson")


def shape_bias_gain(decisions, baseline_decisions, shape, texture, confidence: float = 0.95,
                    seed: int = 0) -> Estimate:
    """Shape bias of `decisions` minus that of `baseline_decisions`, paired over the same images."""
    def gain(d, b, s, t):
        return shape_bias_value(d, s, t) - shape_bias_value(b, s, t)

    return bootstrap(gain, *(np.asarray(a) for a in (decisions, baseline_decisions, shape, texture)),
                     confidence=confidence, seed=seed)


def shape_bias_per_category(decisions, shape, texture, categories: tuple[str, ...]) -> dict[str, dict]:
    """Per shape category: shape and texture decision counts and the shape bias (NaN if undecided)."""
    decisions, shape, texture = (np.asarray(a) for a in (decisions, shape, texture))
    out = {}
    for index, name in enumerate(categories):
        rows = shape == index
        s, t = _shape_texture_counts(decisions[rows], shape[rows], texture[rows])
        out[name] = {"n": int(rows.sum()), "shape": s, "texture": t, "shape_bias": s / (s + t) if s + t else None}
    return out


# --------------------------------------------------------------------------------------------------
# Calibration (natural-adv-examples `calibration_tools.py`).


def rms_calibration_error(confidence, correct, bin_size: int = 100) -> float:
    """RMS calibration error as `calib_err(confidence, correct, p='2', beta=100)` computes it.

    Images sorted by confidence are cut into bins of `bin_size` (the last bin takes the rest); the
    squared gap between mean confidence and accuracy is weighted by bin size over all images. As in
    the reference, the last (most confident) bin is left out of the sum while its images still count
    in the total. Needs at least `bin_size` images.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    n = len(confidence)
    if n < bin_size:
        raise ValueError(f"RMS calibration error needs at least {bin_size} images (bins of {bin_size}), got {n}")
    order = np.argsort(confidence)
    confidence, correct = confidence[order], correct[order]
    edges = [i * bin_size for i in range(n // bin_size)] + [n]
    total = 0.0
    for lo, hi in zip(edges[:-2], edges[1:-1], strict=True):  # every bin but the last, as the reference
        gap = abs(confidence[lo:hi].mean() - correct[lo:hi].mean())
        total += (hi - lo) / n * gap**2
    return float(np.sqrt(total))


def aurra(confidence, correct) -> float:
    """Mean accuracy over response rates, answering the most confident images first."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    order = np.argsort(confidence)[::-1]
    return float(np.mean(np.cumsum(correct[order]) / np.arange(1, len(order) + 1)))


def percent(estimate: Estimate) -> Estimate:
    """The same estimate scaled by 100 (fractions reported as percentages)."""
    return Estimate(100 * estimate.value, 100 * estimate.ci_low, 100 * estimate.ci_high, estimate.n,
                    estimate.confidence, estimate.method)


# --------------------------------------------------------------------------------------------------
# Paired comparison of two models on the same images


def mcnemar_worse(new_correct, old_correct) -> tuple[float, int, int]:
    """Exact one-sided McNemar test that the new model is worse than the old on the same images.

    Returns (p-value, b, c): b images only the old model gets right, c only the new one. Under the
    null hypothesis b ~ Binomial(b + c, 1/2); the p-value is P(X >= b).
    """
    from scipy.stats import binomtest

    new_correct = np.asarray(new_correct, dtype=bool)
    old_correct = np.asarray(old_correct, dtype=bool)
    if new_correct.shape != old_correct.shape:
        raise ValueError(f"paired outcomes need the same images: {new_correct.shape} vs {old_correct.shape}")
    b = int((old_correct & ~new_correct).sum())
    c = int((~old_correct & new_correct).sum())
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5, alternative="greater").pvalue)
    return p, b, c


# --------------------------------------------------------------------------------------------------
# ImageNet-C corruption error (Hendrycks & Dietterich 2019), normalised by AlexNet


#: The 15 corruptions of mCE, in the canonical order, and the 4 held-out ones reported apart.
IMAGENET_C_CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
                          "motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast",
                          "elastic_transform", "pixelate", "jpeg_compression")
IMAGENET_C_EXTRA = ("speckle_noise", "gaussian_blur", "spatter", "saturate")

#: torchvision AlexNet's top-1 error on the released ImageNet-C JPEGs, severities 1..5 (REFERENCE.md).
#: These constants belong to the released images: on corruptions generated on the fly, an mCE
#: normalised by them is an estimate.
ALEXNET_IMAGENET_C_ERRORS: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.69528, 0.82542, 0.93554, 0.98138, 0.99452),
    "shot_noise": (0.71224, 0.85108, 0.93574, 0.98182, 0.99146),
    "impulse_noise": (0.78374, 0.89808, 0.94870, 0.98720, 0.99548),
    "defocus_blur": (0.65624, 0.73202, 0.85036, 0.91364, 0.94714),
    "glass_blur": (0.64308, 0.75054, 0.88806, 0.91622, 0.93344),
    "motion_blur": (0.58430, 0.70048, 0.82108, 0.89750, 0.92638),
    "zoom_blur": (0.70008, 0.76992, 0.80784, 0.84198, 0.87198),
    "snow": (0.71726, 0.88392, 0.86468, 0.91870, 0.94952),
    "frost": (0.61390, 0.79734, 0.88790, 0.89942, 0.93430),
    "fog": (0.67474, 0.76050, 0.84378, 0.87260, 0.94500),
    "brightness": (0.45140, 0.48502, 0.54048, 0.62166, 0.72440),
    "contrast": (0.64548, 0.76150, 0.88874, 0.97760, 0.99270),
    "elastic_transform": (0.52596, 0.70116, 0.55686, 0.64076, 0.80554),
    "pixelate": (0.52218, 0.54620, 0.73728, 0.87092, 0.91262),
    "jpeg_compression": (0.51002, 0.54718, 0.57294, 0.65458, 0.74778),
    "speckle_noise": (0.66192, 0.74440, 0.90246, 0.94548, 0.97268),
    "gaussian_blur": (0.54732, 0.70444, 0.82574, 0.89864, 0.95940),
    "spatter": (0.47196, 0.62194, 0.75052, 0.84132, 0.90182),
    "saturate": (0.59342, 0.65514, 0.51174, 0.70834, 0.82260),
}
ALEXNET_CLEAN_ERROR = 0.4348


def _severity_mean(errors) -> float:
    """Mean error over severities; a single number is taken as that mean already."""
    values = np.atleast_1d(np.asarray(errors, dtype=np.float64))
    return float(values.mean())


def corruption_error(errors, corruption: str, baseline: dict[str, Sequence[float]] | None = None) -> float:
    """CE of one corruption: the model's summed error over severities / the baseline's (fractions).

    `errors` holds the five per-severity errors, or their mean (the two give the same ratio).
    """
    baseline = ALEXNET_IMAGENET_C_ERRORS if baseline is None else baseline
    if corruption not in baseline:
        raise ValueError(f"no baseline errors for corruption {corruption!r}; known: {', '.join(baseline)}")
    return _severity_mean(errors) / _severity_mean(baseline[corruption])


def relative_corruption_error(errors, clean_error: float, corruption: str,
                              baseline: dict[str, Sequence[float]] | None = None,
                              baseline_clean_error: float = ALEXNET_CLEAN_ERROR) -> float:
    """Relative CE: the error added by the corruption, over the baseline's added error."""
    baseline = ALEXNET_IMAGENET_C_ERRORS if baseline is None else baseline
    return (_severity_mean(errors) - clean_error) / (_severity_mean(baseline[corruption]) - baseline_clean_error)


def mce(errors: dict[str, Any], baseline: dict[str, Sequence[float]] | None = None) -> float:
    """Mean corruption error x 100 over the 15 ImageNet-C corruptions (errors as fractions)."""
    missing = [c for c in IMAGENET_C_CORRUPTIONS if c not in errors]
    if missing:
        raise ValueError(f"mCE needs all 15 corruptions; missing: {', '.join(missing)}")
    return 100.0 * float(np.mean([corruption_error(errors[c], c, baseline) for c in IMAGENET_C_CORRUPTIONS]))


def relative_mce(errors: dict[str, Any], clean_error: float, baseline: dict[str, Sequence[float]] | None = None,
                 baseline_clean_error: float = ALEXNET_CLEAN_ERROR) -> float:
    """Relative mCE x 100 over the 15 corruptions."""
    return 100.0 * float(np.mean([relative_corruption_error(errors[c], clean_error, c, baseline,
                                                            baseline_clean_error) for c in IMAGENET_C_CORRUPTIONS]))


# --------------------------------------------------------------------------------------------------
# ImageNet-C estimates from per-image outcomes: `wrong[c]` is a bool array [n, 5] (images x severities)
# for corruption c, all on the same n images. Intervals come from a bootstrap over images that keeps
# every corruption, severity and the normaliser's outcomes of one image together.


def error_estimate(wrong, confidence: float = 0.95) -> Estimate:
    """Top-1 error in percent with its Clopper-Pearson interval."""
    e = accuracy(~np.asarray(wrong, dtype=bool), confidence)
    return Estimate(100.0 - e.value, 100.0 - e.ci_high, 100.0 - e.ci_low, e.n, confidence, e.method)


def _stack(wrong: dict[str, Any], corruptions: Sequence[str]) -> np.ndarray:
    """[n, len(corruptions)]: per image, the number of severities it is misclassified at."""
    return np.stack([np.asarray(wrong[c], dtype=bool).sum(axis=1) for c in corruptions], axis=1).astype(np.float64)


def imagenet_c_estimates(wrong: dict[str, Any], *, confidence: float = 0.95, clean_wrong=None,
                         baseline_wrong: dict[str, Any] | None = None, baseline_clean_wrong=None,
                         corruptions: Sequence[str] | None = None, n_resamples: int = 1000,
                         seed: int = 0) -> dict[str, Estimate]:
    """CE per corruption, mCE, relative mCE (when clean outcomes are given) and mean error, with intervals.

    Normalised by AlexNet's constants, or by a baseline model's outcomes on the same images
    (`baseline_wrong`, `baseline_clean_wrong`), paired image by image in the bootstrap.
    """
    names = tuple(corruptions or IMAGENET_C_CORRUPTIONS)
    model = _stack(wrong, names)
    arrays = [model]
    if baseline_wrong is not None:
        arrays.append(_stack(baseline_wrong, names))
    fixed = np.array([5 * _severity_mean(ALEXNET_IMAGENET_C_ERRORS[c]) for c in names])  # summed over severities
    have_clean = clean_wrong is not None and (baseline_wrong is None or baseline_clean_wrong is not None)
    if have_clean:
        arrays.append(np.asarray(clean_wrong, dtype=np.float64))
        if baseline_wrong is not None:
            arrays.append(np.asarray(baseline_clean_wrong, dtype=np.float64))

    def parts(*a):
        m = a[0].mean(axis=0)
        norm = a[1].mean(axis=0) if baseline_wrong is not None else fixed
        return m, norm

    def ce(index):
        def stat(*a):
            m, norm = parts(*a)
            return 100.0 * m[index] / norm[index]
        return stat

    def mce_stat(*a):
        m, norm = parts(*a)
        return 100.0 * float(np.mean(m / norm))

    def relative_stat(*a):
        m, norm = parts(*a)
        k = 2 if baseline_wrong is not None else 1
        clean = a[k].mean()
        base_clean = a[k + 1].mean() if baseline_wrong is not None else ALEXNET_CLEAN_ERROR
        return 100.0 * float(np.mean((m - 5 * clean) / (norm - 5 * base_clean)))

    def mean_error(*a):
        return 100.0 * float(a[0].mean()) / 5

    def corruption_mean(index):
        def stat(*a):
            return 100.0 * float(a[0][:, index].mean()) / 5
        return stat

    kw = {"confidence": confidence, "n_resamples": n_resamples, "seed": seed}
    out = {f"ce:{c}": bootstrap(ce(i), *arrays, **kw) for i, c in enumerate(names)}
    out.update({f"error:{c}": bootstrap(corruption_mean(i), *arrays, **kw) for i, c in enumerate(names)})
    out["mce"] = bootstrap(mce_stat, *arrays, **kw)
    out["mean_error"] = bootstrap(mean_error, *arrays, **kw)
    if have_clean:
        out["relative_mce"] = bootstrap(relative_stat, *arrays, **kw)
    return out


# --------------------------------------------------------------------------------------------------
# ImageNet-P (ImageNet-P/test.py): predictions per sequence [V, F]; noise sequences compare every frame
# with frame 0, the others compare consecutive frames taken `difficulty` apart (each of the `difficulty`
# interleaved sub-sequences on its own).


IMAGENET_P_PERTURBATIONS = ("gaussian_noise", "shot_noise", "motion_blur", "zoom_blur", "snow", "brightness",
                            "translate", "rotate", "tilt", "scale")
IMAGENET_P_HELD_OUT = ("speckle_noise", "gaussian_blur", "spatter", "shear")
IMAGENET_P_NOISE = ("gaussian_noise", "shot_noise", "speckle_noise")  # compared with frame 0


def _pairs(frames: int, noise: bool, difficulty: int) -> tuple[np.ndarray, np.ndarray]:
    """(first, second) frame indices of every compared pair, in test.py's order."""
    step = 1 if noise else difficulty
    first, second = [], []
    for start in range(step):
        chain = list(range(start, frames, step))
        for prev, cur in zip(chain, chain[1:]):
            first.append(chain[0] if noise else prev)
            second.append(cur)
    if not first:
        raise ValueError(f"a sequence of {frames} frame(s) has no frame pair at difficulty {difficulty}")
    return np.asarray(first), np.asarray(second)


def flip_rates(predictions, noise: bool, difficulty: int = 1) -> np.ndarray:
    """Per sequence: the fraction of compared frame pairs whose top-1 predictions differ."""
    predictions = np.asarray(predictions)
    if predictions.ndim != 2:
        raise ValueError(f"predictions must be [sequences, frames], got shape {predictions.shape}")
    first, second = _pairs(predictions.shape[1], noise, difficulty)
    return (predictions[:, first] != predictions[:, second]).mean(axis=1)


def flip_probability(predictions, noise: bool, difficulty: int = 1) -> float:
    """ImageNet-P's flip probability of top-1 predictions [sequences, frames]: mean over sequences."""
    return float(flip_rates(predictions, noise, difficulty).mean())


def ordinal_top5(logits) -> np.ndarray:
    """The 5 best classes per frame, ties broken by class index: the first five of
    rankdata(-logits, method='ordinal'). [..., 1000] -> [..., 5]."""
    import torch

    t = torch.as_tensor(np.asarray(logits))
    return torch.sort(t, dim=-1, descending=True, stable=True).indices[..., :5].numpy()


def _top5_from(ranks_or_logits) -> np.ndarray:
    a = np.asarray(ranks_or_logits)
    if np.issubdtype(a.dtype, np.integer):  # ordinal ranks, 1 = best
        return np.argsort(a, axis=-1, kind="stable")[..., :5]
    return ordinal_top5(a)


def top5_distances(top5, noise: bool, difficulty: int = 1) -> np.ndarray:
    """Per sequence: mean of test.py's dist(sigma, 'top5') over the compared pairs, from each frame's
    five best classes [V, F, 5] (all the distance depends on).

    For a pair (a, b): sigma_j = rank in b of a's j-th best class; dist = sum_j |j - min(sigma_j - 1, 5)|,
    j = 0..4, and a class outside b's top five counts as rank 6.
    """
    top5 = np.asarray(top5)
    first, second = _pairs(top5.shape[1], noise, difficulty)
    a, b = top5[:, first], top5[:, second]  # [V, P, 5]
    match = a[..., :, None] == b[..., None, :]  # [V, P, 5 (a's j), 5 (b's position)]
    position = np.where(match.any(-1), match.argmax(-1), 5)
    return np.abs(np.arange(5) - position).sum(-1).mean(-1)


def top5_distance(ranks_or_logits, noise: bool, difficulty: int = 1) -> float:
    """ImageNet-P's top-5 distance from logits (floats) or ordinal ranks (ints, 1 = best), [V, F, classes]."""
    return float(top5_distances(_top5_from(ranks_or_logits), noise, difficulty).mean())


def mean_over_sequences(per_sequence, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """The mean of a per-sequence statistic with a bootstrap interval over sequences."""
    return bootstrap(lambda v: float(v.mean()), np.asarray(per_sequence, dtype=np.float64), confidence=confidence,
                     seed=seed)


def ratio_over_sequences(per_sequence: dict[str, np.ndarray], baseline: dict[str, np.ndarray],
                         confidence: float = 0.95, seed: int = 0) -> Estimate:
    """100 x mean over perturbations of (model mean / baseline mean), sequences paired in the bootstrap
    (mFR and mT5D relative to a baseline measured on the same sequences)."""
    names = sorted(per_sequence)
    model = np.stack([per_sequence[k] for k in names], axis=1)
    base = np.stack([baseline[k] for k in names], axis=1)

    def stat(m, b):
        return 100.0 * float(np.mean(m.mean(0) / np.maximum(b.mean(0), 1e-12)))

    return bootstrap(stat, model, base, confidence=confidence, seed=seed, n_resamples=1000)
