"""Threshold files: schema, every problem reported at once, verdicts, and the repository's files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from robustness_tests.claims import Claim, load_threshold_file, load_thresholds, threshold_filename
from robustness_tests.errors import ThresholdError
from robustness_tests.metrics import Estimate

REPO_THRESHOLDS = Path(__file__).resolve().parent.parent / "thresholds"

GOOD = """
model = "m"
source = "a paper"

[claims.top1]
metric = "validation.top1"
params = { dataset = "imagenet-val" }
published = 80.0
op = ">="
bound = 79
"""


def write(tmp_path: Path, text: str, name: str = "m.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_valid_file(tmp_path):
    tf = load_threshold_file(write(tmp_path, GOOD))
    claim = tf.claims["top1"]
    assert (claim.metric, claim.op, claim.bound, claim.published) == ("validation.top1", ">=", 79.0, 80.0)
    assert claim.source == "a paper" and claim.file == tmp_path / "m.toml"
    assert tf.select("validation.top1", dataset="imagenet-val") == [claim]
    assert tf.select("validation.top1", dataset="imagenet-val-1300") == []


@pytest.mark.parametrize("text, message", [
    ("model = 'm'\n[claims.a\n", r"TOML syntax error"),
    (GOOD + "typo = 1\n", r"claims.top1: unknown key 'typo'"),
    (GOOD.replace("op =", "opp ="), r"unknown key 'opp' \(did you mean 'op'\?\)"),
    (GOOD.replace("bound = 79", "bound = '79'"), r"claims.top1.bound must be a number, got '79'"),
    (GOOD.replace("bound = 79", "bound = true"), r"bound must be a number, got True"),
    (GOOD.replace('"validation.top1"', '"validation.top5"'), r"unknown metric 'validation.top5' \(did you mean 'validation.top1'\?\)"),
    (GOOD.replace('">="', '">"'), r"op must be '<=' or '>=', got '>'"),
    (GOOD.replace("bound = 79", "bound = 120"), r"bound = 120 is impossible for validation.top1"),
    (GOOD.replace("dataset =", "datset ="), r"unknown param 'datset' .*did you mean 'dataset'"),
    (GOOD.replace("bound = 79", "bound = 81"), r"published value 80.0 itself breaks the bound >= 81"),
    (GOOD.replace('model = "m"', 'model = "other"'), r"model = 'other' but the file for that model is named other.toml"),
    (GOOD.replace("op = \">=\"\n", ""), r"missing required key 'op'"),
    ("modle = 'm'\n", r"unknown top-level key 'modle' \(did you mean 'model'\?\)"),
])
def test_each_problem_is_named_with_file_and_key(tmp_path, text, message):
    with pytest.raises(ThresholdError, match=message) as info:
        load_threshold_file(write(tmp_path, text))
    assert str(tmp_path / "m.toml") in str(info.value)


def test_all_problems_are_reported_at_once(tmp_path):
    write(tmp_path, GOOD.replace("op =", "opp =").replace("bound = 79", "bound = 'x'"))
    write(tmp_path, GOOD.replace('model = "m"', 'model = "n"').replace('"validation.top1"', '"nope"'), "n.toml")
    with pytest.raises(ThresholdError) as info:
        load_thresholds(tmp_path, ["m", "n", "absent"])
    problems = info.value.problems
    assert len(problems) >= 3
    assert any("m.toml" in p and "opp" in p for p in problems)
    assert any("m.toml" in p and "bound must be a number" in p for p in problems)
    assert any("n.toml" in p and "unknown metric 'nope'" in p for p in problems)


def test_missing_files_mean_no_claims(tmp_path):
    assert load_thresholds(tmp_path, ["nobody"]) == {"nobody": None}


def test_file_names_of_prefixed_models():
    assert threshold_filename("wsl_32x8d") == "wsl_32x8d.toml"
    assert threshold_filename("timm:resnet18.a1_in1k") == "timm__resnet18.a1_in1k.toml"
    assert threshold_filename("pkg.models:build") == "pkg.models__build.toml"


def _estimate(low, high):
    return Estimate((low + high) / 2, low, high, 100, 0.95, "test")


@pytest.mark.parametrize("op, low, high, verdict", [
    (">=", 80, 90, "confirmed"),
    (">=", 70, 80, "consistent"),  # the interval touches the bound: cannot decide
    (">=", 60, 74.9, "violated"),
    ("<=", 60, 75, "confirmed"),
    ("<=", 70, 80, "consistent"),
    ("<=", 75.1, 90, "violated"),
])
def test_verdicts_compare_the_whole_interval_with_the_bound(op, low, high, verdict):
    claim = Claim("m", "c", "validation.top1", op, 75.0, 76.0)
    assert claim.verdict(_estimate(low, high)) == verdict


def test_failure_message_shows_what_a_reader_needs():
    claim = Claim("m", "top1", "validation.top1", ">=", 75.0, 76.0, {"dataset": "d"}, "a paper", Path("t/m.toml"))
    result = claim.evaluate(Estimate(60.0, 55.0, 65.0, 300, 0.95, "clopper-pearson"))
    text = result.message()
    for part in ("VIOLATED", "must be >= 75%", "measured:  60%", "95% CI [55, 65]", "n=300", "published: 76%",
                 "-16", "a paper", "t/m.toml", "regression"):
        assert part in text, part
    record = result.record()
    assert {"model", "claim", "metric", "value", "ci_low", "ci_high", "n", "op", "bound", "published", "verdict",
            "params"} <= set(record)


def test_the_repository_threshold_files_are_valid():
    files = sorted(REPO_THRESHOLDS.glob("*.toml"))
    models = [load_threshold_file(f).model for f in files]
    assert {"wsl_32x8d", "wsl_32x16d", "wsl_32x32d", "wsl_32x48d", "resnext101_32x8d",
            "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"} <= set(models)
    published = {m: load_threshold_file(REPO_THRESHOLDS / f"{m}.toml").claims["top1"].published
                 for m in ("resnext101_32x8d", "wsl_32x8d", "wsl_32x16d", "wsl_32x32d", "wsl_32x48d")}
    assert published == {"resnext101_32x8d": 79.31, "wsl_32x8d": 82.2, "wsl_32x16d": 84.2, "wsl_32x32d": 85.1,
                         "wsl_32x48d": 85.4}
