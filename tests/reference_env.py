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
OPENCV_ORACLE = ORACLE.with_name("opencv_routines.py")


class ReferenceUnavailable(RuntimeError):
    pass


def env_dir() -> Path:
    if os.environ.get("ROBUSTNESS_TESTS_REFERENCE_ENV"):
        return Path(os.environ["ROBUSTNESS_TESTS_REFERENCE_ENV"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "robustness_tests-reference" / "imagenet-c-0.0.3"


def _works(python: Path) -> bool:
    probe = "import imagenet_c.corruptions, wand.image, skimage, cv2"
    return python.is_file() and subprocess.run([python, "-c", probe], capture_output=True, timeout=120, check=False).returncode == 0


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
            proc = subprocess.run([str(s) for s in step], capture_output=True, text=True, timeout=900, check=False)
            if proc.returncode != 0:
                raise ReferenceUnavailable(f"building the reference environment failed at {step[:4]}: "
                                           f"{proc.stderr[-1500:]}")
        if not _works(python):
            raise ReferenceUnavailable(f"the reference environment at {root} was built but does not import")
    return python


def _run_oracle(script: Path, inputs: dict[str, np.ndarray], extra: list[str] | None = None,
                files: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """Run an oracle script in the reference environment: INPUTS.npz [files...] OUTPUT.npz [extra...]."""
    python = reference_python()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.savez(tmp / "in.npz", **inputs)
        paths = []
        for name, text in (files or {}).items():
            (tmp / name).write_text(text)
            paths.append(str(tmp / name))
        cmd = [str(python), str(script), str(tmp / "in.npz"), *paths, str(tmp / "out.npz"), *(extra or [])]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=6 * 3600, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{script.name} failed in the reference environment:\n{proc.stderr[-3000:]}")
        with np.load(tmp / "out.npz") as data:
            return {key: data[key] for key in data.files}


def run_opencv(grey: np.ndarray, binary: np.ndarray) -> dict[str, np.ndarray]:
    """cv2's Canny, distanceTransform, equalizeHist, filter2D and blur on uint8 [N, H, W] stacks (see the
    oracle script), with the OpenCV the reference generator pins."""
    return _run_oracle(OPENCV_ORACLE, {"grey": grey, "binary": binary})


def run_reference(images_nhwc: np.ndarray, jobs: list[dict], frost_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Run the reference functions on uint8 [N, H, W, 3] images; see the oracle script for `jobs`."""
    extra = ["--frost-dir", str(frost_dir)] if frost_dir is not None else []
    return _run_oracle(ORACLE, {"images": images_nhwc}, extra, files={"jobs.json": json.dumps(jobs)})
