"""Metric kernels against reference implementations (scipy) and their edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest

from robustness_tests.metrics import Estimate, accuracy, bootstrap, clopper_pearson


@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_clopper_pearson_matches_scipy_exact_interval(kn, confidence):
    k, n = kn
    ref = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    low, high = clopper_pearson(k, n, confidence)
    assert low == pytest.approx(ref.low, abs=1e-9) and high == pytest.approx(ref.high, abs=1e-9)


@pytest.mark.parametrize("correct, value, low, high", [
    ([True] * 10, 100.0, None, 100.0),
    ([False] * 10, 0.0, 0.0, None),
])
def test_accuracy_edges(correct, value, low, high):
    e = accuracy(correct)
    assert e.value == value and e.n == 10 and e.method == "clopper-pearson"
    assert e.ci_low <= e.value <= e.ci_high
    if low is not None:
        assert e.ci_low == low
    if high is not None:
        assert e.ci_high == high


def test_accuracy_interval_narrows_with_n():
    small = accuracy([True, False] * 50)
    large = accuracy([True, False] * 5000)
    assert small.value == large.value == 50.0
    assert (large.ci_high - large.ci_low) < (small.ci_high - small.ci_low) / 5


def test_accuracy_rejects_empty_input():
    with pytest.raises(ValueError):
        accuracy([])


def test_bootstrap_is_seeded_and_contains_the_value():
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    a = bootstrap(np.mean, x, seed=3, n_resamples=500)
    b = bootstrap(np.mean, x, seed=3, n_resamples=500)
    assert a == b and a.ci_low < a.value < a.ci_high
    assert a.ci_high - a.ci_low == pytest.approx(2 * 1.96 / np.sqrt(500), rel=0.25)


def test_bootstrap_keeps_pairs_together():
    x = np.arange(200, dtype=float)
    e = bootstrap(lambda a, b: float(np.mean(a - b)), x, x.copy(), n_resamples=200)
    assert e.value == e.ci_low == e.ci_high == 0.0


def test_estimate_must_contain_its_value():
    with pytest.raises(ValueError, match="does not contain"):
        Estimate(5.0, 6.0, 7.0, 10, 0.95, "x")
