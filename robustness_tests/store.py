"""The results store: per-image outcomes under a key that covers everything that changes them.

A key is the digest of the measurement's parts (model and weights, dataset and subset, transform,
seed, precision) plus the code version of the modules that compute outcomes, so a re-run reads
instead of measuring and a changed setting never reads a stale entry.

Entries are `.npz` files written atomically. `get_or_compute` holds a file lock per key while it
measures, so concurrent xdist workers compute a measurement once: the others wait on the lock
and then read the entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from . import __version__
from .atomic import atomic_write
from .digests import json_digest
from .paths import cache_dir

#: Modules whose code determines stored outcomes; editing one of them invalidates the entries. A folder
#: stands for every module in it (the corruption kernels decide ImageNet-C's pixels).
CODE_MODULES = ("evaluate.py", "robust_model.py", "zoo.py", "data/decode.py", "data/imagenet.py", "data/videos.py",
                "data/frost.py", "attacks.py", "shape_bias.py", "imagenet_a.py", "imagenet_c.py", "imagenet_p.py",
                "perturbations.py", "corruptions/")

_META = "__meta__"


def code_version() -> str:
    """Package version plus a digest of the modules in `CODE_MODULES`."""
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in CODE_MODULES:
        files = sorted((here / name).glob("*.py")) if name.endswith("/") else [here / name]
        for file in files:
            h.update(file.relative_to(here).as_posix().encode())
            h.update(file.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"


@dataclass(frozen=True)
class Entry:
    key: str
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    cached: bool  # True when read from the store, False when computed by this call


class ResultStore:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_dir() / "results"

    def key(self, parts: Mapping[str, Any]) -> str:
        return json_digest({**parts, "code": code_version()})[:32]

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> Entry | None:
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files if k != _META}
                meta = json.loads(str(z[_META])) if _META in z.files else {}
        except FileNotFoundError:
            return None
        return Entry(key, arrays, meta, cached=True)

    def put(self, key: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> Entry:
        if _META in arrays:
            raise ValueError(f"array name {_META!r} is reserved")
        with atomic_write(self._path(key)) as fh:
            np.savez(fh, **arrays, **{_META: np.array(json.dumps(meta, default=str))})
        return Entry(key, dict(arrays), dict(meta), cached=False)

    def find(self, **match: Any) -> Entry | None:
        """The newest entry whose key parts contain `match` (nested dicts match by their given keys).

        For reading another model's stored outcomes without that model at hand (its weights may be
        missing on this machine), e.g. find(benchmark="shape_bias", model={"name": "resnext101_32x8d"}).
        Scans the store's entries; only their metadata is read.
        """
        def contains(have: Any, want: Any) -> bool:
            if isinstance(want, dict):
                return isinstance(have, dict) and all(k in have and contains(have[k], v) for k, v in want.items())
            return have == want

        best: tuple[str, Path] | None = None
        for path in self.root.glob("*/*.npz"):
            try:
                with np.load(path, allow_pickle=False) as z:
                    meta = json.loads(str(z[_META])) if _META in z.files else {}
            except (OSError, ValueError):
                continue
            if meta.get("code") == code_version() and contains(meta.get("parts", {}), match):
                if best is None or meta.get("created", "") > best[0]:
                    best = (meta.get("created", ""), path)
        return self.get(best[1].stem) if best is not None else None

    def get_or_compute(
        self, parts: Mapping[str, Any], compute: Callable[[], Mapping[str, np.ndarray]]
    ) -> Entry:
        """The entry for `parts`, computing and storing it first if no worker has yet."""
        key = self.key(parts)
        hit = self.get(key)
        if hit is not None:
            return hit
        lock = self._path(key).with_suffix(".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(lock):
            hit = self.get(key)  # another worker may have finished while we waited
            if hit is not None:
                return hit
            started = time.time()
            arrays = compute()
            meta = {"parts": dict(parts), "code": code_version(), "seconds": time.time() - started,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            return self.put(key, arrays, meta)
