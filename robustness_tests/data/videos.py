"""ImageNet-P's released videos: `<root>/<perturbation>/<wnid>/<name>.mp4`, decoded as the reference loader
does (OpenCV, frame by frame, BGR -> RGB). Noise difficulties 2 and 3 live in `<name>_2` / `<name>_3`.

OpenCV is an optional dependency (`pip install robustness-tests[imagenet-p]`); without it, reading a
released video is a clear error and generated sequences still work.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from .classes import class_index
from .imagenet import WNID, Dataset, Sample


def _cv2():
    try:
        import cv2
    except ImportError as exc:
        raise DataError("reading ImageNet-P videos needs OpenCV: pip install opencv-python-headless "
                        "(or robustness-tests[imagenet-p])") from exc
    return cv2


def read_video(path: str | os.PathLike, size: int | None = 224) -> np.ndarray:
    """All frames of an mp4 as uint8 [F, 3, H, W] RGB; an unreadable, empty or ragged video is an error
    that names the file."""
    cv2 = _cv2()
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DataError(f"cannot open video {path}: not a readable video file (truncated or corrupt?)")
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if len(frames) < 2:
        raise DataError(f"video {path} has {len(frames)} decodable frame(s); a sequence needs at least 2 "
                        "(truncated or corrupt file?)")
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise DataError(f"video {path} has frames of different sizes: {sorted(shapes)}")
    h, w, _ = frames[0].shape
    if size is not None and (h, w) != (size, size):
        raise DataError(f"video {path} has {w}x{h} frames; ImageNet-P frames are {size}x{size}")
    return np.ascontiguousarray(np.stack(frames).transpose(0, 3, 1, 2))


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: int = 1) -> None:
    """Write uint8 RGB frames [F, 3, H, W] as an MPEG-4 (mp4v) video, for tests and local mirrors."""
    cv2 = _cv2()
    frames = np.asarray(frames, dtype=np.uint8)
    _, _, h, w = frames.shape
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise DataError(f"OpenCV cannot write {path} with the mp4v codec")
    for frame in frames:
        writer.write(cv2.cvtColor(np.ascontiguousarray(frame.transpose(1, 2, 0)), cv2.COLOR_RGB2BGR))
    writer.release()


def folder_for(root: Path, perturbation: str, difficulty: int, noise: bool) -> Path:
    return Path(root) / (f"{perturbation}_{difficulty}" if noise and difficulty > 1 else perturbation)


def load_videos(folder: Path) -> Dataset:
    """`<folder>/<wnid>/*.mp4` as a Dataset of (video path, class)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"ImageNet-P folder {folder} does not exist")
    samples = []
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not WNID.match(d.name):
            raise DataError(f"folder {d} is not an ImageNet class: expected <perturbation>/<wnid>/*.mp4")
        label = class_index(d.name, where=str(d))
        samples += [Sample(p, label) for p in sorted(d.glob("*.mp4"))]
    if not samples:
        raise DataError(f"no videos under {folder}: expected <wnid>/*.mp4")
    samples.sort(key=lambda s: s.path.name)
    return Dataset(name=f"imagenet-p/{folder.name}", root=folder, samples=tuple(samples), full_size=len(samples))
