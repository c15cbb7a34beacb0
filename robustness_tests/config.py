"""The run's settings as plain data, parsed and validated once from the command line.

Torch-free: the plugin builds a `RunConfig` in `pytest_configure`, before any worker picks its GPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError
from .paths import DATA_ENV

DEFAULT_MODEL = "efficientnet_lite0"

#: `--ci`: images per benchmark. Small enough for 2 CPU cores, large enough that a broken model
#: or pipeline gives a violated verdict rather than a consistent one.
CI_SUBSETS = {
    "validation": 300,
    "imagenet_c": 20,
    "imagenet_p": 4,
    "imagenet_a": 200,
    "adversarial": 32,
    "shape_bias": 1200,
}

#: Where ImageNet validation is looked for inside a data mirror, in order: the full set, then the
#: 1300-image sample that tests and CI use.
IMAGENET_VAL_DIRS = ("imagenet-val", "imagenet-val-1300")


@dataclass(frozen=True)
class RunConfig:
    models: tuple[str, ...] = (DEFAULT_MODEL,)
    weights: dict[str, Path] = field(default_factory=dict)
    device: str = "auto"
    precision: str = "fp32"
    batch_size: int = 64
    seed: int = 0
    subset: int | None = None
    ci: bool = False
    confidence: float = 0.95
    thresholds_dir: Path = Path("thresholds")
    report_dir: Path | None = None
    data_dir: Path | None = None
    imagenet_val: Path | None = None
    imagenet_a: Path | None = None
    imagenet_c: Path | None = None
    imagenet_c_baseline: str | None = None
    imagenet_c_jpeg: bool = True
    imagenet_p: Path | None = None
    imagenet_p_baseline: str | None = None
    imagenet_p_difficulty: int = 1
    surrogate: str = "resnext50_32x4d"
    feature_vis_steps: int | None = None
    baseline_model: str | None = None
    baseline_report: Path | None = None
    regression_margin: float = 0.0

    def __post_init__(self) -> None:
        if self.subset is not None and self.subset <= 0:
            raise UsageError(f"--subset must be a positive number of images, got {self.subset}")
        if not 0.5 <= self.confidence < 1:
            raise UsageError(f"--confidence must be in [0.5, 1), got {self.confidence}")
        if self.batch_size <= 0:
            raise UsageError(f"--batch-size must be positive, got {self.batch_size}")

    def subset_for(self, benchmark: str) -> int | None:
        """Images to use for `benchmark`: --subset, else the --ci preset, else all."""
        if self.subset is not None:
            return self.subset
        return CI_SUBSETS[benchmark] if self.ci else None

    def feature_vis_steps_for_run(self) -> int:
        """--feature-vis-steps, else 10 under --ci, else the paper's 500."""
        if self.feature_vis_steps is not None:
            return self.feature_vis_steps
        return 10 if self.ci else 500

    def mirror(self) -> Path | None:
        """The data mirror root: --data-dir, else $ROBUSTNESS_TESTS_DATA."""
        if self.data_dir is not None:
            return self.data_dir
        env = os.environ.get(DATA_ENV)
        return Path(env) if env else None

    def imagenet_a_candidates(self) -> list[Path]:
        if self.imagenet_a is not None:
            return [self.imagenet_a]
        mirror = self.mirror()
        return [mirror / "imagenet-a"] if mirror is not None else []

    def imagenet_val_candidates(self) -> list[Path]:
        if self.imagenet_val is not None:
            return [self.imagenet_val]
        mirror = self.mirror()
        return [mirror / d for d in IMAGENET_VAL_DIRS] if mirror is not None else []


def parse_weights(values: list[str] | None) -> dict[str, Path]:
    """`--weights MODEL=PATH` (repeatable) -> {model: path}."""
    out: dict[str, Path] = {}
    for value in values or []:
        model, sep, path = value.partition("=")
        if not sep or not model or not path:
            raise UsageError(f"--weights expects MODEL=PATH, got {value!r}")
        out[model] = Path(path)
    return out
