"""ImageNet-A: calibration metrics against an independent implementation, and the pipeline end to end
on a 200-class folder built from the shared validation images (ImageNet-A itself is not on CI)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import robustness_tests.evaluate  # noqa: F401  (import torch & co. before pytester's in-process runs)
from robustness_tests import metrics
from robustness_tests.data.classes import wnids
from robustness_tests.data.imagenet import load_class_folders
from robustness_tests.errors import DataError
from robustness_tests.imagenet_a import INDICES_IN_1K, imagenet_a_outcomes

SUITE_A = str(__import__("pathlib").Path(robustness_tests.__file__).parent / "suite" / "test_imagenet_a.py")


# -- metrics against a plain implementation written from the description --------------------------


def plain_rms(confidence, correct, beta=100):
    order = np.argsort(confidence)  # the reference's ordering (ties included)
    conf, corr = [float(confidence[i]) for i in order], [float(correct[i]) for i in order]
    n = len(conf)
    starts = list(range(0, (n // beta) * beta, beta))
    total = 0.0
    for k, lo in enumerate(starts[:-1]):  # the reference never adds its last bin
        hi = lo + beta
        total += (hi - lo) / n * (sum(conf[lo:hi]) / (hi - lo) - sum(corr[lo:hi]) / (hi - lo)) ** 2
    return total**0.5


def plain_aurra(confidence, correct):
    order = list(np.argsort(confidence)[::-1])
    hits, rates = 0, []
    for rank, i in enumerate(order, 1):
        hits += bool(correct[i])
        rates.append(hits / rank)
    return sum(rates) / len(rates)


@settings(max_examples=80, deadline=None)
@given(st.integers(100, 750), st.integers(0, 2**31), st.sampled_from(["continuous", "ties", "coarse"]))
def test_calibration_metrics_match_a_plain_implementation(n, seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "continuous":
        confidence = rng.uniform(0.005, 1, n)
    elif kind == "ties":
        confidence = rng.choice([0.2, 0.5, 0.9], n)
    else:
        confidence = np.round(rng.uniform(0, 1, n), 1)
    correct = rng.uniform(size=n) < confidence
    assert metrics.rms_calibration_error(confidence, correct) == pytest.approx(plain_rms(confidence, correct), abs=1e-12)
    assert metrics.aurra(confidence, correct) == pytest.approx(plain_aurra(confidence, correct), abs=1e-12)


@pytest.mark.parametrize("n", [100, 250, 1000])
def test_calibration_edge_cases(n):
    conf = np.linspace(0.3, 0.9, n)
    ones, zeros = np.ones(n, bool), np.zeros(n, bool)
    assert metrics.aurra(conf, ones) == 1.0 and metrics.aurra(conf, zeros) == 0.0
    assert metrics.rms_calibration_error(conf, ones) == pytest.approx(plain_rms(conf, ones))
    assert metrics.rms_calibration_error(conf, zeros) == pytest.approx(plain_rms(conf, zeros))
    constant = np.full(n, 0.7)
    assert metrics.rms_calibration_error(constant, zeros) == pytest.approx(plain_rms(constant, zeros))
    assert metrics.aurra(constant, ones) == 1.0
    perfect = np.r_[np.zeros(n // 2), np.ones(n - n // 2)]  # confidence equals correctness
    assert metrics.rms_calibration_error(perfect, perfect.astype(bool)) == 0.0


def test_calibration_needs_one_bin():
    with pytest.raises(ValueError, match="at least 100 images"):
        metrics.rms_calibration_error(np.ones(99) * 0.5, np.ones(99, bool))


def test_outcomes_restrict_logits_to_the_200_classes():
    logits = torch.zeros(2, 1000)
    logits[:, 0] = 100.0  # class 0 is not an ImageNet-A class: ignored
    logits[0, INDICES_IN_1K[5]] = 3.0
    logits[1, INDICES_IN_1K[7]] = 3.0
    labels = torch.tensor([INDICES_IN_1K[5], INDICES_IN_1K[6]])
    out = imagenet_a_outcomes(logits, labels)
    assert out["pred"].tolist() == [INDICES_IN_1K[5], INDICES_IN_1K[7]]
    assert out["correct"].tolist() == [True, False]
    expected = torch.tensor([0.0] * 199 + [3.0]).softmax(0).max()
    torch.testing.assert_close(out["confidence"], expected.repeat(2))
    assert len(INDICES_IN_1K) == 200 and list(INDICES_IN_1K) == sorted(set(INDICES_IN_1K))


# -- the pipeline end to end ----------------------------------------------------------------------


@pytest.fixture
def fake_imagenet_a(tmp_path, val1300):
    """A 200-class folder of the shared validation images whose class is an ImageNet-A class."""
    keep = {wnids()[i] for i in INDICES_IN_1K}
    root = tmp_path / "imagenet-a"
    for s in val1300.samples:
        if wnids()[s.label] in keep:
            (root / wnids()[s.label]).mkdir(parents=True, exist_ok=True)
            (root / wnids()[s.label] / s.path.name.replace(".JPEG", ".jpg")).symlink_to(s.path)
    return root


def test_imagenet_a_claims_end_to_end(pytester, fake_imagenet_a, tmp_path, lite0):
    n = sum(1 for _ in fake_imagenet_a.rglob("*.jpg"))
    result = pytester.runpytest(SUITE_A, f"--imagenet-a={fake_imagenet_a}", f"--cache-dir={tmp_path / 'c'}",
                                f"--report-dir={tmp_path / 'r'}", "-p", "no:cacheprovider", "-rs")
    # No threshold claims apply to a custom folder: measured and recorded, tests skip with the values.
    result.assert_outcomes(skipped=3)
    records = {r["metric"]: r for r in json.loads((tmp_path / "r" / "results.json").read_text())["claims"]}
    assert set(records) == {"imagenet_a.top1", "imagenet_a.rms_calibration_error", "imagenet_a.aurra"}
    assert all(r["n"] == n and r["dataset"]["name"] == "imagenet-a-custom" for r in records.values())
    # Recompute independently from the model's logits on the same files.
    dataset = load_class_folders(fake_imagenet_a, name="imagenet-a", allowed=set(wnids()), full_size=7500, what="x")
    logits = robustness_tests.evaluate.evaluate(
        lite0, dataset, robustness_tests.evaluate.Settings(), outcomes=lambda lg, lb: {"logits": lg, "label": lb})
    restricted = torch.from_numpy(logits["logits"])[:, list(INDICES_IN_1K)]
    pred = np.asarray(INDICES_IN_1K)[restricted.argmax(1).numpy()]
    correct = pred == logits["label"]
    confidence = restricted.softmax(1).max(1).values.numpy()
    assert records["imagenet_a.top1"]["value"] == pytest.approx(100 * correct.mean())
    assert records["imagenet_a.rms_calibration_error"]["value"] == pytest.approx(100 * plain_rms(confidence, correct), abs=1e-4)
    assert records["imagenet_a.aurra"]["value"] == pytest.approx(100 * plain_aurra(confidence, correct), abs=1e-4)
    assert records["imagenet_a.top1"]["value"] > 60  # clean images of those classes: a sane model


def test_wnids_outside_the_200_classes_are_named(fake_imagenet_a):
    (fake_imagenet_a / "n01440764").mkdir()  # tench: ImageNet, but not ImageNet-A
    with pytest.raises(DataError, match=r"1 folder\(s\) are not one of ImageNet-A's 200 classes: n01440764"):
        load_class_folders(fake_imagenet_a, name="imagenet-a", allowed={wnids()[i] for i in INDICES_IN_1K},
                           full_size=7500, what="one of ImageNet-A's 200 classes")


def test_cue_conflict_protocol_refuses_images_of_another_size(val1300):
    from robustness_tests.data.decode import decode_image
    from robustness_tests.zoo import Preprocessing

    with pytest.raises(DataError, match=r"is 227x227; this protocol uses images of exactly 224x224"):
        decode_image(val1300.samples[0].path, Preprocessing.exact_size(224))
