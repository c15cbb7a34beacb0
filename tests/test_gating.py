"""Regression gating: paired McNemar tests on per-image outcomes, end to end with a worse model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest

import robustness_tests.evaluate  # noqa: F401  (torch & co. before pytester's in-process runs)
from robustness_tests.gating import compare, pack_arrays, unpack_arrays
from robustness_tests.metrics import mcnemar_worse

from test_plugin import VALIDATION


@pytest.mark.parametrize("n", [1, 7, 8, 9, 1300])
def test_per_image_arrays_round_trip(n):
    rng = np.random.default_rng(n)
    arrays = {"correct": rng.uniform(size=n) < 0.3, "decision": rng.integers(0, 16, n), "big": rng.integers(0, 999, n)}
    packed = pack_arrays(arrays)
    assert json.loads(json.dumps(packed)) == packed
    for name, values in unpack_arrays(packed).items():
        np.testing.assert_array_equal(values, arrays[name])
    with pytest.raises(ValueError, match="one entry per image"):
        pack_arrays({"a": np.zeros(n, bool), "b": np.zeros(n + 1, bool)})


def test_mcnemar_matches_the_binomial_test_on_discordant_pairs():
    old = np.array([1, 1, 1, 1, 1, 1, 0, 0, 1, 1], bool)
    new = np.array([0, 0, 0, 0, 0, 1, 1, 0, 1, 1], bool)
    p, b, c = mcnemar_worse(new, old)
    assert (b, c) == (5, 1)
    assert p == pytest.approx(binomtest(5, 6, 0.5, alternative="greater").pvalue)
    assert mcnemar_worse(old, old) == (1.0, 0, 0)
    with pytest.raises(ValueError, match="same images"):
        mcnemar_worse(old, old[:5])


def _record(model, correct, metric="validation.top1", fingerprint="f"):
    correct = np.asarray(correct, bool)
    return {"model": model, "metric": metric, "value": 100 * correct.mean(), "context": {"dataset": "d"},
            "dataset": {"fingerprint": fingerprint}, "per_image": pack_arrays({"correct": correct})}


def test_shape_bias_is_gated_with_a_paired_bootstrap():
    from robustness_tests.metrics import shape_bias_value

    rng = np.random.default_rng(1)
    shape, texture = rng.integers(0, 8, 600), rng.integers(8, 16, 600)
    old = np.where(rng.uniform(size=600) < 0.5, shape, texture)
    new = np.where(rng.uniform(size=600) < 0.2, shape, texture)  # far more texture-biased

    def record(model, decision):
        return {"model": model, "metric": "shape_bias.shape_bias", "value": shape_bias_value(decision, shape, texture),
                "context": {"rule": "max"}, "dataset": {"fingerprint": "f"},
                "per_image": pack_arrays({"decision": decision, "shape": shape, "texture": texture})}

    records = [record("base", old), record("new", new), record("same", old)]
    result = {c.model: c for c in compare(records, records, baseline="base", margin=0.0, confidence=0.95)}
    assert result["new"].regressed and result["new"].p_value < 0.01 and result["new"].change < -0.2
    assert not result["same"].regressed and result["same"].p_value == 1.0


def test_compare_flags_only_significant_regressions_beyond_the_margin():
    rng = np.random.default_rng(0)
    old = rng.uniform(size=400) < 0.8
    much_worse = old & (rng.uniform(size=400) < 0.7)  # loses ~24 points
    slightly = old.copy()
    slightly[np.flatnonzero(old)[:2]] = False  # loses 2 images: not significant
    records = [_record("base", old), _record("bad", much_worse), _record("fine", slightly),
               _record("other_data", much_worse, fingerprint="g")]
    result = {c.model: c for c in compare(records, records, baseline="base", margin=0.0, confidence=0.95)}
    assert set(result) == {"bad", "fine"}  # different images are never paired
    assert result["bad"].regressed and result["bad"].p_value < 1e-6 and result["bad"].change < -20
    assert not result["fine"].regressed
    lenient = compare(records, records, baseline="base", margin=50.0, confidence=0.95)
    assert not any(c.regressed for c in lenient)  # worse, but by less than the margin


WORSE = """
import torch
from robustness_tests import zoo

def blurry():
    model = zoo.load("efficientnet_lite0")
    model.net = torch.nn.Sequential(torch.nn.AvgPool2d(15, stride=1, padding=7), model.net)
    return model
"""


def test_gate_fails_a_worse_model_and_passes_the_baseline(pytester, data_dir, tmp_path):
    pytester.makepyfile(user_models=WORSE)
    pytester.syspathinsert()
    common = [VALIDATION, "--subset=80", f"--data-dir={data_dir}", f"--cache-dir={tmp_path / 'c'}",
              "-p", "no:cacheprovider"]
    worse = pytester.runpytest(*common, "--model", "user_models:blurry", "--baseline-model", "efficientnet_lite0",
                               f"--report-dir={tmp_path / 'r1'}")
    assert worse.ret == pytest.ExitCode.TESTS_FAILED
    worse.stdout.fnmatch_lines(["*regression gate: 1 of 1 paired claims regressed*",
                                "REGRESSED  user_models:blurry vs efficientnet_lite0: validation.top1 *change -*"
                                "McNemar p=*n=80*"])
    comparisons = json.loads((tmp_path / "r1" / "results.json").read_text())["comparisons"]
    assert len(comparisons) == 1 and comparisons[0]["regressed"]

    # Against the stored report of the worse model, the embedded model is no regression.
    better = pytester.runpytest(*common, "--model", "efficientnet_lite0", "--baseline-model", "user_models:blurry",
                                f"--baseline-report={tmp_path / 'r1' / 'results.json'}")
    assert better.ret == pytest.ExitCode.OK
    better.stdout.fnmatch_lines(["*regression gate: 0 of 1 paired claims regressed*"])


def test_baseline_report_errors(pytester, data_dir, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = pytester.runpytest(VALIDATION, f"--data-dir={data_dir}", f"--baseline-report={bad}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--baseline-report*bad.json: not a readable results.json*"])


def _composite_record(model, metric, value, per_image, **context):
    return {"model": model, "metric": metric, "value": value, "context": context,
            "dataset": {"fingerprint": "f"}, "per_image": pack_arrays(per_image)}


def test_composite_metrics_are_gated_by_a_paired_bootstrap():
    """mCE, ImageNet-P means and ImageNet-A calibration: the gate recomputes each metric from its per-image
    arrays on joint resamples; a clearly worse model regresses, an identical one does not."""
    from robustness_tests.gating import composite_value
    from robustness_tests.metrics import IMAGENET_C_CORRUPTIONS, mce

    rng = np.random.default_rng(0)
    n = 200
    good = {f"wrong:{c}": rng.binomial(5, 0.3, n) for c in IMAGENET_C_CORRUPTIONS}
    bad = {k: np.minimum(v + rng.binomial(2, 0.5, n), 5) for k, v in good.items()}
    value = composite_value("imagenet_c.mce", good)
    assert value == pytest.approx(mce({k[6:]: v.mean() / 5 for k, v in good.items()}))
    ctx = {"normalizer": "alexnet", "data": "generated"}
    base = [_composite_record("old", "imagenet_c.mce", value, good, **ctx)]
    worse = compare([_composite_record("new", "imagenet_c.mce", composite_value("imagenet_c.mce", bad), bad, **ctx)], base,
                    baseline="old", margin=0.0, confidence=0.95)
    assert len(worse) == 1 and worse[0].regressed and worse[0].test == "paired bootstrap" and worse[0].change > 0
    assert "paired bootstrap p=" in worse[0].line()
    same = compare([_composite_record("new", "imagenet_c.mce", value, good, **ctx)], base, baseline="old", margin=0.0,
                   confidence=0.95)
    assert not same[0].regressed

    flips = {f"sequence:{p}": rng.uniform(0, 0.1, 50) for p in ("rotate", "scale")}
    jumpy = {k: v + 0.05 for k, v in flips.items()}
    fp = compare([_composite_record("new", "imagenet_p.mean_flip_probability", composite_value("imagenet_p.x", jumpy), jumpy)],
                 [_composite_record("old", "imagenet_p.mean_flip_probability", composite_value("imagenet_p.x", flips), flips)],
                 baseline="old", margin=0.0, confidence=0.95)
    assert fp[0].regressed

    confidence = rng.uniform(0.2, 1.0, 300)
    correct = rng.uniform(size=300) < confidence  # calibrated
    overconfident = np.minimum(confidence + 0.3, 1.0)
    calib = [_composite_record(m, "imagenet_a.rms_calibration_error",
                     composite_value("imagenet_a.rms_calibration_error", {"confidence": c, "correct": correct}),
                     {"confidence": c, "correct": correct}) for m, c in (("new", overconfident), ("old", confidence))]
    gated = compare(calib[:1], calib[1:], baseline="old", margin=0.0, confidence=0.95)
    assert gated[0].regressed and gated[0].change > 0


def test_error_metrics_are_gated_on_correctness():
    """imagenet_c.error carries per-image correctness: fewer images right is worse (McNemar), even though
    lower error is better."""
    rng = np.random.default_rng(1)
    right = rng.uniform(size=300) < 0.7
    worse = right & (rng.uniform(size=300) < 0.8)
    rec = lambda m, c: _composite_record(m, "imagenet_c.error", 100 * (1 - c.mean()), {"correct": c}, corruption="fog",  # noqa: E731
                               severity=3)
    gated = compare([rec("new", worse)], [rec("old", right)], baseline="old", margin=0.0, confidence=0.95)
    assert gated[0].regressed and gated[0].test == "McNemar"
    assert not compare([rec("new", right)], [rec("old", worse)], baseline="old", margin=0.0,
                       confidence=0.95)[0].regressed
