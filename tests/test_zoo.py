"""The model zoo: registry, architectures, weights files, user models, and their errors."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from robustness_tests import zoo
from robustness_tests.errors import ModelError, UsageError, WeightsError

# REFERENCE.md: exact parameter counts, checkable with random weights.
PARAMETER_COUNTS = {
    "wsl_32x8d": 88_791_336,
    "wsl_32x16d": 194_026_792,
    "wsl_32x32d": 468_530_472,
    "wsl_32x48d": 828_411_176,
    "resnext101_32x8d": 88_791_336,
    "resnext50_32x4d": 25_028_904,
}


def test_registry_holds_the_papers_models_and_the_embedded_ones():
    expected = {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "wsl_32x8d", "wsl_32x16d",
                "wsl_32x32d", "wsl_32x48d", "resnext101_32x8d", "resnext50_32x4d", "resnet50", "alexnet"}
    assert expected <= set(zoo.names())


@pytest.mark.parametrize("name", zoo.names())
def test_every_spec_carries_preprocessing_and_license(name):
    s = zoo.spec(name)
    assert s.preprocessing.crop <= s.preprocessing.resize
    assert s.preprocessing.interpolation in zoo.INTERPOLATIONS
    assert len(s.mean) == len(s.std) == 3
    assert s.license and s.license != "unknown"
    if name.startswith("wsl_"):
        assert "NC" in s.license  # the WSL weights are non-commercial
        assert s.preprocessing == zoo.PAPER_PREPROCESSING


@pytest.mark.parametrize("name", sorted(PARAMETER_COUNTS))
def test_architectures_have_the_published_parameter_counts(name):
    net = zoo.build_architecture(name, device="meta")
    assert sum(p.numel() for p in net.parameters()) == PARAMETER_COUNTS[name]


def test_efficientnet_lite_specs_use_tf_preprocessing():
    for k, size in ((0, 224), (1, 240), (2, 260)):
        s = zoo.spec(f"efficientnet_lite{k}")
        assert s.mean == s.std == (0.5, 0.5, 0.5)
        assert s.input_size == size


def test_load_returns_an_eval_model_that_normalises_inside(lite0):
    assert not lite0.training
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        logits = lite0(x)
        direct = lite0.net((x - 0.5) / 0.5)
    assert logits.shape == (2, 1000)
    torch.testing.assert_close(logits, direct, rtol=1e-4, atol=1e-4)


def test_unknown_name_is_a_usage_error_with_the_closest_match():
    with pytest.raises(UsageError, match=r"Did you mean 'wsl_32x16d'.*Registered models: alexnet"):
        zoo.check_name("wsl_32x16")


@pytest.mark.parametrize("bad", ["timm:", "my module:build", "pkg:"])
def test_malformed_prefixed_names_are_usage_errors(bad):
    with pytest.raises(UsageError):
        zoo.check_name(bad)


def test_prefixed_specs_read_preprocessing_from_their_library():
    tv = zoo.spec("torchvision:resnet18")
    assert (tv.preprocessing.resize, tv.preprocessing.crop, tv.preprocessing.interpolation) == (256, 224, "bilinear")
    tm = zoo.spec("timm:resnext101_32x8d.fb_wsl_ig1b_ft_in1k")
    assert tm.preprocessing == zoo.PAPER_PREPROCESSING and "nc" in tm.license.lower()
    with pytest.raises(UsageError, match="Did you mean"):
        zoo.spec("timm:resnet1")


def test_missing_pretrained_weights_say_where_they_were_looked_for_and_how_to_fix(monkeypatch, tmp_path):
    # An empty hub/HF cache: nothing can be found, and nothing may be downloaded.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch" / "hub"))
    with pytest.raises(WeightsError, match=r"(?s)ig_resnext101_32x8-c38310e5\.pth.*--weights wsl_32x8d=PATH"):
        zoo.find_weights("wsl_32x8d")


def test_weights_file_round_trip(tmp_path, lite0):
    """A real file written by the test, in both formats, gives the same model."""
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in lite0.net.state_dict().items()}
    pickle_path, st_path = tmp_path / "lite0.pth", tmp_path / "lite0.safetensors"
    torch.save({"state_dict": state}, pickle_path)  # a checkpoint wrapper is unwrapped
    save_file(state, str(st_path))
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        expected = lite0(x)
        for path in (pickle_path, st_path):
            model = zoo.load("efficientnet_lite0", weights=path)
            assert model.weights_id != lite0.weights_id
            torch.testing.assert_close(model(x), expected)


def test_weights_file_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(WeightsError, match=r"list.pth holds a list, not a state dict"):
        zoo.load("efficientnet_lite0", weights=path)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a pickle at all")
    with pytest.raises(WeightsError, match=r"junk.pth could not be read"):
        zoo.load("efficientnet_lite0", weights=junk)


def test_weights_file_that_does_not_fit_the_architecture(tmp_path):
    import torchvision

    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    with pytest.raises(WeightsError, match=r"does not fit the architecture of 'efficientnet_lite0': missing \d+"):
        zoo.load("efficientnet_lite0", weights=path)
    lite1 = zoo.build_architecture("efficientnet_lite1")
    path1 = tmp_path / "lite1.pth"
    torch.save(lite1.state_dict(), path1)
    with pytest.raises(WeightsError, match=r"wrong shape"):
        zoo.load("efficientnet_lite0", weights=path1)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "user_models.py").write_text(textwrap.dedent("""
        import torch
        from robustness_tests import zoo

        def good():
            return zoo.load("efficientnet_lite0").net

        def wrapped():
            return zoo.load("efficientnet_lite0")

        def not_a_module():
            return "resnet"

        def ten_classes():
            return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 10))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "user_models"
    sys.modules.pop("user_models", None)


def test_user_callable_models(user_module, lite0):
    x = torch.rand(1, 3, 224, 224)
    plain = zoo.load(f"{user_module}:good")  # ImageNet mean/std by default
    wrapped = zoo.load(f"{user_module}:wrapped")  # a RobustModel keeps its own spec
    assert plain.spec.mean == zoo.IMAGENET_MEAN
    assert wrapped.spec.mean == (0.5, 0.5, 0.5) and wrapped.name == f"{user_module}:wrapped"
    with torch.inference_mode():
        torch.testing.assert_close(wrapped(x), lite0(x))
    assert plain.weights_id.startswith("callable:") and plain.weights_id == wrapped.weights_id


def test_user_callable_errors(user_module):
    with pytest.raises(ModelError, match=r"returned a str, not a torch.nn.Module"):
        zoo.load(f"{user_module}:not_a_module")
    with pytest.raises(ModelError, match=r"returned \(2, 10\).*\[N, 1000\]"):
        zoo.load(f"{user_module}:ten_classes")
    with pytest.raises(UsageError, match="has no attribute 'missing'"):
        zoo.load(f"{user_module}:missing")
    with pytest.raises(UsageError, match="cannot import module"):
        zoo.load("no_such_module_xyz:build")


def test_models_command_lists_specs_and_where_weights_are():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "robustness_tests", "models"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    lite0 = next(line for line in proc.stdout.splitlines() if line.startswith("efficientnet_lite0"))
    assert "resize256-crop224-bicubic" in lite0 and "Apache-2.0" in lite0 and "efficientnet-lite0-57934424.pth" in lite0
    assert all(name in proc.stdout for name in zoo.names())
