"""ImageNet-A: accuracy and calibration on natural adversarial examples (logits over its 200 classes).

The paper: WSL models reach 45-61% top-1 where the ImageNet-trained ResNeXt gets 10%, with far lower
RMS calibration error and higher AURRA.
"""

import pytest

from robustness_tests import metrics

pytestmark = pytest.mark.imagenet_a


def _estimates(confidence, correct, level, seed):
    yield "imagenet_a.top1", lambda: metrics.accuracy(correct, level)
    yield "imagenet_a.rms_calibration_error", lambda: metrics.percent(
        metrics.bootstrap(metrics.rms_calibration_error, confidence, correct, confidence=level, seed=seed))
    yield "imagenet_a.aurra", lambda: metrics.percent(
        metrics.bootstrap(metrics.aurra, confidence, correct, confidence=level, seed=seed))


@pytest.mark.parametrize("metric", ["imagenet_a.top1", "imagenet_a.rms_calibration_error", "imagenet_a.aurra"])
def test_imagenet_a(metric, robust_model, imagenet_a, measure, claims, rt_config):
    from robustness_tests.imagenet_a import imagenet_a_outcomes  # torch: not at collection

    entry = measure(robust_model, imagenet_a, benchmark="imagenet_a", outcomes=imagenet_a_outcomes)
    estimates = dict(_estimates(entry.arrays["confidence"], entry.arrays["correct"], claims.confidence,
                                rt_config.seed))
    per_image = {"correct": entry.arrays["correct"]}
    if metric != "imagenet_a.top1":  # calibration: the gate recomputes it from confidence and correctness
        per_image["confidence"] = entry.arrays["confidence"]
    claims.check(metric, estimates[metric](), dataset=imagenet_a, cached=entry.cached, per_image=per_image)
