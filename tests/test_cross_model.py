"""Cross-model claims end to end: two embedded models in one run, each other's outcomes through the store,
paired bootstrap intervals, and immediate skips where no claim names the other model."""

from __future__ import annotations

import json
import textwrap

import robustness_tests.evaluate  # noqa: F401  (torch & co. before pytester's in-process runs)

from test_plugin import SUITE, common  # noqa: F401  (the shared run options fixture)


def test_cross_model_claims_compare_two_models_of_the_run(pytester, common, tmp_path):
    thresholds = tmp_path / "thresholds"
    thresholds.mkdir()
    (thresholds / "efficientnet_lite2.toml").write_text(textwrap.dedent("""
        model = "efficientnet_lite2"
        [claims.imagenet_c_gain]
        metric = "cross.gain"
        params = { benchmark = "imagenet_c", baseline = "efficientnet_lite0" }
        op = ">="
        bound = -1.0

        [claims.imagenet_c_relative]
        metric = "cross.relative_gain_excess"
        params = { benchmark = "imagenet_c", baseline = "efficientnet_lite0" }
        op = ">="
        bound = -100.0
        """))
    result = pytester.runpytest(str(SUITE / "test_cross_model.py"), "--model=efficientnet_lite2",
                                "--model=efficientnet_lite0", "--subset=4", f"--thresholds-dir={thresholds}",
                                "-rs", *common)
    result.assert_outcomes(passed=2, skipped=26)
    out = result.stdout.str()
    assert "no cross.gain claim of efficientnet_lite0 names efficientnet_lite2 on imagenet_c" in out
    assert "a model is not compared with itself" in out
    doc = json.loads((tmp_path / "report" / "results.json").read_text())
    by_metric = {r["metric"]: r for r in doc["claims"]}
    gain = by_metric["cross.gain"]
    assert gain["model"] == "efficientnet_lite2" and gain["context"]["baseline"] == "efficientnet_lite0"
    # mCE: lower is better, so the gain is the baseline's minus the model's
    assert abs(gain["value"] - (gain["details"]["baseline_value"] - gain["details"]["model_value"])) < 1e-9
    assert gain["ci_low"] <= gain["value"] <= gain["ci_high"]
    rel = by_metric["cross.relative_gain_excess"]
    assert abs(rel["value"] - (rel["details"]["relative_gain"] - rel["details"]["clean_relative_gain"])) < 1e-9
