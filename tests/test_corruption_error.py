"""CE / mCE with AlexNet's constants: the paper's mCE values from its raw per-corruption errors."""

from __future__ import annotations

import pytest

from robustness_tests import metrics

# REFERENCE.md: raw ImageNet-C top-1 error (%) per corruption, canonical order, and the published mCE.
PAPER = {
    "resnext101_32x8d": ("60.01 61.75 65.74 53.14 65.68 51.83 56.87 60.11 54.62 49.47 28.23 56.12 47.57 43.96 38.70",
                         66.65),
    "wsl_32x8d": ("43.74 45.07 47.21 43.64 59.58 42.99 50.17 45.70 42.50 34.58 21.15 35.09 43.25 28.59 30.71", 51.74),
    "wsl_32x16d": ("40.43 42.20 46.10 42.06 58.71 39.70 45.98 41.65 39.47 31.41 19.74 33.82 41.81 27.51 28.38",
                   48.79),
    "wsl_32x32d": ("38.79 40.21 41.68 40.17 56.02 39.58 45.18 40.38 38.09 30.05 18.58 32.28 40.82 26.76 28.30",
                   46.99),
    "wsl_32x48d": ("36.59 38.44 39.81 39.12 54.82 37.50 44.49 39.67 37.80 29.92 18.38 32.11 40.26 25.63 26.90",
                   45.70),
}


@pytest.mark.parametrize("model", sorted(PAPER))
def test_the_papers_mce_from_its_raw_errors(model):
    raw, published = PAPER[model]
    errors = dict(zip(metrics.IMAGENET_C_CORRUPTIONS, (float(x) / 100 for x in raw.split()), strict=True))
    assert metrics.mce(errors) == pytest.approx(published, abs=0.005)


def test_alexnet_has_an_mce_of_100_and_per_severity_errors_equal_their_mean():
    assert metrics.mce(dict(metrics.ALEXNET_IMAGENET_C_ERRORS)) == pytest.approx(100.0)
    errors = [0.1, 0.2, 0.3, 0.4, 0.5]
    assert metrics.corruption_error(errors, "fog") == pytest.approx(metrics.corruption_error(0.3, "fog"))
    assert set(metrics.ALEXNET_IMAGENET_C_ERRORS) == set(metrics.IMAGENET_C_CORRUPTIONS + metrics.IMAGENET_C_EXTRA)


def test_relative_mce_of_alexnet_is_100():
    assert metrics.relative_mce(dict(metrics.ALEXNET_IMAGENET_C_ERRORS), metrics.ALEXNET_CLEAN_ERROR) == \
        pytest.approx(100.0)


def test_mce_names_missing_corruptions():
    with pytest.raises(ValueError, match="missing: .*jpeg_compression"):
        metrics.mce({"gaussian_noise": 0.5})
    with pytest.raises(ValueError, match="no baseline errors for corruption 'rain'"):
        metrics.corruption_error(0.5, "rain")


def test_estimates_from_per_image_outcomes_equal_the_formulas():
    """imagenet_c_estimates (the suite's path, per-image outcomes + bootstrap) gives the values of
    mce / relative_mce / corruption_error applied to the mean errors, AlexNet- or baseline-normalised."""
    import numpy as np

    from robustness_tests import metrics

    rng = np.random.default_rng(0)
    n = 300
    wrong = {c: rng.random((n, 5)) < rng.uniform(0.2, 0.8, 5) for c in metrics.IMAGENET_C_CORRUPTIONS}
    base = {c: rng.random((n, 5)) < rng.uniform(0.5, 0.9, 5) for c in metrics.IMAGENET_C_CORRUPTIONS}
    clean, base_clean = rng.random(n) < 0.2, rng.random(n) < 0.45
    errors = {c: w.mean(axis=0) for c, w in wrong.items()}
    est = metrics.imagenet_c_estimates(wrong, clean_wrong=clean, n_resamples=200)
    assert est["mce"].value == pytest.approx(metrics.mce(errors))
    assert est["relative_mce"].value == pytest.approx(metrics.relative_mce(errors, clean.mean()))
    assert est["ce:fog"].value == pytest.approx(100 * metrics.corruption_error(errors["fog"], "fog"))
    assert est["mean_error"].value == pytest.approx(100 * np.mean([e.mean() for e in errors.values()]))
    assert est["mce"].ci_low < est["mce"].value < est["mce"].ci_high
    baseline = {c: list(w.mean(axis=0)) for c, w in base.items()}
    paired = metrics.imagenet_c_estimates(wrong, clean_wrong=clean, baseline_wrong=base,
                                          baseline_clean_wrong=base_clean, n_resamples=200)
    assert paired["mce"].value == pytest.approx(metrics.mce(errors, baseline))
    assert paired["relative_mce"].value == pytest.approx(
        metrics.relative_mce(errors, clean.mean(), baseline, base_clean.mean()))
    assert metrics.error_estimate(wrong["fog"][:, 0]).value == pytest.approx(100 * wrong["fog"][:, 0].mean())
