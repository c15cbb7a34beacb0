"""Fidelity to the ImageNet-C generator itself: Hendrycks' own functions (PyPI imagenet-c 0.0.3, the code of
make_imagenet_c.py) run in an isolated environment (tests/reference_env.py) on real validation images.

Deterministic corruptions must agree pixel for pixel up to rounding (mean absolute difference <= 1 grey
level, PSNR >= 35 dB, per severity); random ones draw from another random stream, so their per-image
statistics must agree in distribution. The table of measured differences is printed (-s) and attached to
the test report.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from reference_env import (
    ReferenceUnavailable,
    reference_python,
    run_opencv,
    run_reference,
)

from robustness_tests.corruptions import _opencv, corrupt
from robustness_tests.corruptions.blur import motion_blur_at
from robustness_tests.corruptions.weather import EMBOSS, SPATTER, liquid_layer
from robustness_tests.data.decode import decode_image
from robustness_tests.zoo import Preprocessing

DETERMINISTIC = ("defocus_blur", "gaussian_blur", "zoom_blur", "contrast", "brightness", "saturate", "pixelate",
                 "jpeg_compression", "motion_blur")
RANDOM = ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "glass_blur", "motion_blur", "snow",
          "frost", "fog", "elastic_transform", "spatter")
MOTION_ANGLE = 23.0  # motion_blur at a fixed angle is deterministic


@pytest.fixture(scope="module")
def reference():
    try:
        return reference_python()
    except ReferenceUnavailable as exc:
        if os.environ.get("ROBUSTNESS_TESTS_REQUIRE_REFERENCE"):
            pytest.fail(f"the reference generator is required here but unavailable: {exc}")
        pytest.skip(f"the reference generator is unavailable: {exc}")


def _images(val1300, n: int, seed: int) -> np.ndarray:
    subset = val1300.take(n, seed=seed)
    return np.stack([decode_image(s.path, Preprocessing()) for s in subset.samples])  # [N, 3, 224, 224]


def _ours(images: np.ndarray, name: str, severity: int, seed: int = 0, angle: float | None = None) -> np.ndarray:
    x = torch.from_numpy(images)
    if angle is not None:
        out = motion_blur_at(x.float(), severity, torch.full((len(x),), angle)).clamp(0, 255).to(torch.uint8)
    else:
        out = corrupt(x, name, severity, seed=seed)
    return out.permute(0, 2, 3, 1).numpy()


def test_deterministic_corruptions_match_the_reference_pixel_for_pixel(reference, val1300, data_dir,
                                                                       record_property):
    images = _images(val1300, 8, seed=11)
    jobs = [{"key": f"{name}/{s}", "corruption": name, "severity": s,
             "angle": MOTION_ANGLE if name == "motion_blur" else None}
            for name in DETERMINISTIC for s in range(1, 6)]
    expected = run_reference(images.transpose(0, 2, 3, 1), jobs, data_dir / "frost")
    rows, failures = [], []
    for job in jobs:
        name, s = job["corruption"], job["severity"]
        ours = _ours(images, name, s, angle=job["angle"]).astype(np.float64)
        diff = ours - expected[job["key"]].astype(np.float64)
        mad = float(np.abs(diff).mean())
        mse = float((diff**2).mean())
        psnr = math.inf if mse == 0 else 10 * math.log10(255**2 / mse)
        rows.append(f"{name:17s} s{s}  mean |diff| {mad:.4f}  max {np.abs(diff).max():3.0f}  PSNR {psnr:6.1f} dB")
        if mad > 1 or psnr < 35:
            failures.append(rows[-1])
    table = "\n".join(rows)
    print("\n" + table)
    record_property("fidelity_deterministic", table)
    assert not failures, "differs from the reference generator:\n" + "\n".join(failures)


def _stats(images_nhwc: np.ndarray, corrupted: np.ndarray) -> np.ndarray:
    """Per image: mean, std and mean absolute value of the residual, and the std of the result."""
    r = corrupted.astype(np.float64) - images_nhwc.astype(np.float64)
    flat = r.reshape(len(r), -1)
    return np.stack([flat.mean(1), flat.std(1), np.abs(flat).mean(1),
                     corrupted.reshape(len(r), -1).astype(np.float64).std(1)], axis=1)


def test_random_corruptions_follow_the_reference_distributions(reference, val1300, data_dir, record_property):
    """Paired per-image statistics: the mean difference must be within 4 standard errors (+0.5 grey levels
    for rounding). A systematic deviation such as swapping glass_blur's pixels where the reference copies
    them (1.5 grey levels of mean |residual|, consistent over images) fails this."""
    images = _images(val1300, 12, seed=12)
    nhwc = images.transpose(0, 2, 3, 1)
    severities = (1, 3, 5)
    jobs = [{"key": f"{name}/{s}", "corruption": name, "severity": s, "seed": 100 + s}
            for name in RANDOM for s in severities]
    expected = run_reference(nhwc, jobs, data_dir / "frost")
    labels = ("mean residual", "residual std", "mean |residual|", "result std")
    rows, failures = [], []
    for job in jobs:
        name, s = job["corruption"], job["severity"]
        d = _stats(nhwc, _ours(images, name, s, seed=5)) - _stats(nhwc, expected[job["key"]])
        mean, se = d.mean(0), d.std(0, ddof=1) / math.sqrt(len(d))
        bound = 4 * se + 0.5
        rows.append(f"{name:17s} s{s}  " + "  ".join(f"{lab} {m:+6.2f} (bound {b:5.2f})"
                                                     for lab, m, b in zip(labels, mean, bound, strict=True)))
        if np.any(np.abs(mean) > bound):
            failures.append(rows[-1])
    table = "\n".join(rows)
    print("\n" + table)
    record_property("fidelity_random", table)
    assert not failures, "differs in distribution from the reference generator:\n" + "\n".join(failures)


def _liquid_layers(n: int, seed: int) -> np.ndarray:
    """What spatter's water mode hands to OpenCV: its liquid layers as uint8 [N, H, W]."""
    g = torch.Generator().manual_seed(seed)
    layers = []
    for i in range(n):
        mean, std, sigma, threshold, *_ = SPATTER[i % 3]  # the three water severities
        noise = torch.randn(1, 1, 224, 224, generator=g, dtype=torch.float64) * std + mean
        layers.append(torch.floor(liquid_layer(noise, sigma, threshold) * 255).clamp(0, 255)[0, 0])
    return torch.stack(layers).to(torch.uint8).numpy()


def test_spatter_opencv_routines_match_cv2(reference, val1300):
    """The OpenCV steps of spatter one by one against cv2 itself, on spatter's own liquid layers and on
    real greyscale photographs (many weak edges: Canny's hysteresis does real work there)."""
    photos = _images(val1300, 6, seed=13).mean(axis=1).round().astype(np.uint8)
    grey = np.concatenate([_liquid_layers(6, seed=3), photos])
    edges = _opencv.canny(torch.from_numpy(grey).float()[:, None], 50, 150)
    sparse = np.where(np.random.default_rng(0).random((3, 224, 224)) < 0.002, 0, 255).astype(np.uint8)
    binary = np.concatenate([(255 - edges[:, 0]).to(torch.uint8).numpy(), sparse])  # zeros: the sources
    expected = run_opencv(grey, binary)

    def ours(fn, stack: np.ndarray, *args) -> np.ndarray:
        return fn(torch.from_numpy(stack).float()[:, None], *args)[:, 0].numpy()

    np.testing.assert_array_equal(edges[:, 0].numpy(), expected["canny"], err_msg="Canny edges differ from cv2")
    distance = ours(_opencv.distance_transform_l2_5, binary)
    np.testing.assert_allclose(distance, expected["distance"], rtol=1e-6, atol=0,
                               err_msg="distanceTransform(DIST_L2, 5) differs from cv2")
    np.testing.assert_array_equal(ours(_opencv.equalize_hist, grey), expected["equalized"],
                                  err_msg="equalizeHist differs from cv2")
    np.testing.assert_array_equal(ours(_opencv.filter2d_uint8, grey, EMBOSS), expected["filtered"],
                                  err_msg="filter2D differs from cv2")
    np.testing.assert_allclose(ours(_opencv.box_blur3, expected["distance"]), expected["blurred"], rtol=1e-6,
                               atol=1e-6, err_msg="blur (3, 3) differs from cv2")
