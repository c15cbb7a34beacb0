"""Clean top-1 accuracy on ImageNet validation, against each model's threshold file.

Every robustness number in the paper is read next to clean accuracy; this claim also proves
that the model, its weights and its preprocessing are what the threshold file says.
"""

import pytest

from robustness_tests import metrics

pytestmark = pytest.mark.validation


def test_top1_accuracy(robust_model, imagenet_val, measure, claims):
    entry = measure(robust_model, imagenet_val, benchmark="validation")
    top1 = metrics.accuracy(entry.arrays["correct"], confidence=claims.confidence)
    claims.check("validation.top1", top1, dataset=imagenet_val, cached=entry.cached, per_image=entry.arrays["correct"])
