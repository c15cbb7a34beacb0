"""The evaluation loop on the real embedded model and real images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robustness_tests.errors import ModelError, UsageError
from robustness_tests.evaluate import Settings, evaluate, measure
from robustness_tests.robust_model import RobustModel
from robustness_tests.store import ResultStore


@pytest.fixture(scope="module")
def images(val1300):
    return val1300.take(48, seed=0)


@pytest.fixture(scope="module")
def outcomes(lite0, images):
    return evaluate(lite0, images, Settings(batch_size=16))


def test_outcomes_are_per_image_and_consistent(outcomes, images):
    assert outcomes["correct"].shape == (48,) and outcomes["top5"].shape == (48, 5)
    np.testing.assert_array_equal(outcomes["label"], images.labels)
    np.testing.assert_array_equal(outcomes["pred"], outcomes["top5"][:, 0])
    np.testing.assert_array_equal(outcomes["correct"], outcomes["pred"] == outcomes["label"])
    assert ((outcomes["confidence"] > 0) & (outcomes["confidence"] <= 1)).all()
    assert outcomes["correct"].mean() > 0.6  # a real ImageNet model on real images


def test_results_do_not_depend_on_batch_size(lite0, images, outcomes):
    other = evaluate(lite0, images, Settings(batch_size=7))
    np.testing.assert_array_equal(other["pred"], outcomes["pred"])
    np.testing.assert_allclose(other["confidence"], outcomes["confidence"], atol=1e-4)


def test_transform_sees_uint8_batches_and_their_dataset_index(lite0, images):
    seen = []

    def blank(batch, labels, start):
        assert batch.dtype == torch.uint8 and batch.shape[1:] == (3, 224, 224)
        seen.append((start, len(batch)))
        return torch.full_like(batch, 128)

    out = evaluate(lite0, images, Settings(batch_size=20), transform=blank)
    assert seen == [(0, 20), (20, 20), (40, 8)]
    assert len(set(out["pred"].tolist())) == 1  # the model saw the transformed images


def test_bf16_autocast_agrees_with_fp32(lite0, images, outcomes):
    bf16 = evaluate(lite0, images, Settings(batch_size=16, precision="bf16"))
    assert (bf16["pred"] == outcomes["pred"]).mean() > 0.85


def test_nan_logits_name_the_images(lite0, images):
    class NaNAfterFirst(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            out = self.net(x)
            out[1] = float("nan")
            return out

    broken = RobustModel(NaNAfterFirst(lite0.net), lite0.spec, "broken")
    with pytest.raises(ModelError, match=r"NaN/inf logits for 1 image\(s\), e.g. \['.*ILSVRC2012_val_.*JPEG'\]"):
        evaluate(broken, images, Settings(batch_size=16))


def test_settings_are_validated():
    with pytest.raises(UsageError, match="precision 'fp8'"):
        Settings(precision="fp8")
    with pytest.raises(UsageError, match="batch size"):
        Settings(batch_size=0)


def test_measure_stores_and_rereads(lite0, images, tmp_path, outcomes):
    store = ResultStore(tmp_path)
    first = measure(store, lite0, images, Settings(batch_size=16), benchmark="validation")
    again = measure(store, lite0, images, Settings(batch_size=32), benchmark="validation")
    assert not first.cached and again.cached  # batch size is not part of the key
    np.testing.assert_array_equal(again.arrays["pred"], outcomes["pred"])
    other_subset = measure(store, lite0, images.take(24), Settings(batch_size=16), benchmark="validation")
    assert not other_subset.cached and len(other_subset.arrays["pred"]) == 24
