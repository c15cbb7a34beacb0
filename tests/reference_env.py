"""The isolated environment that runs Hendrycks' ImageNet-C functions, for fidelity tests and benchmarks.

The reference (PyPI ``imagenet-c`` 0.0.3 = make_imagenet_c.py's functions) needs ImageMagick's
MagickWand library (Debian: ``libmagickwand-6.q16-6``), numpy < 2, scikit-image 0.19 (``multichannel=``)
and OpenCV; none of it belongs in the project's environment. It is built once, pinned, under the user's
cache directory (``$ROBUSTNESS_TESTS_REFERENCE_ENV`` overrides the location), with a lock so that
concurrent test workers build it once. `reference_python()` returns its interpreter or raises
`ReferenceUnavailable` with what is missing.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from filelock import FileLock

PINNED = (
    "numpy==1.26.4",
    "scipy==1.11.4",
    "scikit-image==0.19.3",
    "opencv-python-headless==4.8.1.78",
    "wand==0.6.13",
    "pillow==13.0.0",
    "setuptools<70",  # the reference imports pkg_resources
)
REFERENCE = "imagenet-c==0.0.3"
ORACLE = Path(__file__).resolve().parent / "oracles" / "imagenet_c_reference.py"


class ReferenceUnavailable(RuntimeError):
    pass


def env_dir() -> Path:
    if os.environ.get("ROBUSTNESS_TESTS_REFERENCE_ENV"):
        return Path(os.environ["ROBUSTNESS_TESTS_REFERENCE_ENV"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "robustness_tests-reference" / "imagenet-c-0.0.3"


def _works(python: Path) -> bool:
    probe = "import imagenet_c.corruptions, wand.image, skimage, cv2"
    return python.is_file() and subprocess.run([python, "-c", probe], capture_output=True, timeout=120).returncode == 0


def reference_python() -> Path:
    root = env_dir()
    python = root / "bin" / "python"
    if _works(python):
        return python
    if ctypes.util.find_library("MagickWand-6.Q16") is None and ctypes.util.find_library("MagickWand") is None:
        raise ReferenceUnavailable(
            "ImageMagick's MagickWand library is not installed (Debian: apt-get install libmagickwand-6.q16-6); "
            "the reference generator calls it for motion_blur and snow"
        )
    if sys.version_info >= (3, 13):
        raise ReferenceUnavailable("the reference stack (numpy 1.26, scikit-image 0.19) needs Python <= 3.12")
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock"):
        if _works(python):
            return python
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(root)],
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *PINNED],
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", REFERENCE],
        ]
        for step in steps:
            proc = subprocess.run([str(s) for s in step], capture_output=True, text=True, timeout=900)
            if proc.returncode != 0:
                raise ReferenceUnavailable(f"building the reference environment failed at {step[:4]}: "
                                           f"{proc.stderr[-1500:]}")
        if not _works(python):
            raise ReferenceUnavailable(f"the reference environment at {root} was built but does not import")
    return python


def run_reference(images_nhwc: np.ndarray, jobs: list[dict], frost_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Run the reference functions on uint8 [N, H, W, 3] images; see the oracle script for `jobs`."""
    python = reference_python()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.savez(tmp / "in.npz", images=images_nhwc)
        (tmp / "jobs.json").write_text(json.dumps(jobs))
        cmd = [str(python), str(ORACLE), str(tmp / "in.npz"), str(tmp / "jobs.json"), str(tmp / "out.npz")]
        if frost_dir is not None:
            cmd += ["--frost-dir", str(frost_dir)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=6 * 3600)
        if proc.returncode != 0:
            raise RuntimeError(f"the reference generator failed:\n{proc.stderr[-3000:]}")
        with np.load(tmp / "out.npz") as data:
            return {key: data[key] for key in data.files}
