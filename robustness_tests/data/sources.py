"""Public datasets from their canonical source, with per-file checksums, or from a local mirror.

A `RemoteDataset` is a manifest: relative paths, their sha256, and the base URL they live under.
`materialize` returns a folder holding exactly those files, verified:

1. `<mirror>/<mirror_dir>` when a mirror is given (--data-dir / $ROBUSTNESS_TESTS_DATA) and holds it;
2. otherwise `<cache>/datasets/<name>`, downloading what is missing (atomically, each file checked).

Every problem is named: missing files, unexpected files, and checksum mismatches with both digests.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..atomic import atomic_write
from ..digests import file_digests
from ..errors import DataError, FetchError
from ..paths import cache_dir


@dataclass(frozen=True)
class RemoteDataset:
    name: str
    mirror_dir: str  # folder name inside a data mirror
    base_url: str  # file i lives at base_url + relpath
    files: tuple[tuple[str, str], ...]  # (relative path, sha256)
    license: str
    attribution: str

    @classmethod
    def from_manifest(cls, manifest: str, **fields) -> RemoteDataset:
        """Read `robustness_tests/data/manifests/<manifest>`: lines `<sha256>  <relative path>`."""
        text = resources.files("robustness_tests.data").joinpath("manifests", manifest).read_text()
        files = tuple(
            (path, sha) for sha, path in (line.split(None, 1) for line in text.splitlines() if line.strip())
        )
        return cls(files=files, **fields)


def _verify(ds: RemoteDataset, root: Path, *, allow_missing: bool) -> list[str]:
    """Relative paths missing under `root`; raises on unexpected files and checksum mismatches."""
    expected = dict(ds.files)
    present = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }
    unexpected = sorted(present - set(expected))
    missing = sorted(set(expected) - present)
    problems = []
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected file(s): {', '.join(unexpected[:5])}"
                        + (" ..." if len(unexpected) > 5 else ""))
    if missing and not allow_missing:
        problems.append(f"{len(missing)} missing file(s): {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
    check = sorted(present & set(expected))
    for rel, digest in zip(check, file_digests([root / rel for rel in check]), strict=True):
        if digest != expected[rel]:
            problems.append(f"checksum mismatch for {root / rel}: sha256 {digest}, expected {expected[rel]}")
    if problems:
        raise DataError(
            f"{ds.name} at {root} does not match its manifest ({len(ds.files)} files from {ds.base_url}):\n  "
            + "\n  ".join(problems)
            + "\n  Fix: restore the folder from the canonical source, or remove it to fetch it again."
        )
    return missing


def _download(url: str, dest: Path, sha256: str, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"cannot fetch {url}: {exc}. Without network access, point --data-dir at a mirror.") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise DataError(f"checksum mismatch for {url}: sha256 {digest}, expected {sha256}; nothing was saved")
    with atomic_write(dest) as fh:
        fh.write(data)


def materialize(ds: RemoteDataset, mirror: Path | None = None, *, fetch: bool = True, timeout: float = 60) -> Path:
    """A verified local folder with every file of `ds` (see the module docstring for the order)."""
    if mirror is not None and (mirror / ds.mirror_dir).is_dir():
        root = mirror / ds.mirror_dir
        _verify(ds, root, allow_missing=False)
        return root
    root = cache_dir() / "datasets" / ds.name
    root.mkdir(parents=True, exist_ok=True)
    missing = _verify(ds, root, allow_missing=True)
    if missing and not fetch:
        raise FetchError(f"{ds.name}: {len(missing)} file(s) missing from {root} and fetching is off")
    expected = dict(ds.files)
    for rel in missing:
        _download(ds.base_url + rel, root / rel, expected[rel], timeout)
    return root
