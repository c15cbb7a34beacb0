"""Content digests of files and tensors, for cache keys that change exactly when content does.

File digests are remembered by (path, size, mtime) in a small SQLite index, so a 50,000-image
dataset or a 3 GB weights file is hashed once, not on every run (as git's index does).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .paths import cache_dir

_local = threading.local()


def _db() -> sqlite3.Connection:
    path = cache_dir() / "digests.sqlite"
    conn = getattr(_local, "conn", None)
    if conn is None or getattr(_local, "path", None) != path:
        conn = sqlite3.connect(path, timeout=60)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER, sha256 TEXT)"
        )
        _local.conn, _local.path = conn, path
    return conn


def file_digest(path: str | os.PathLike) -> str:
    """sha256 hex digest of the file's bytes (cached by path, size and modification time)."""
    path = Path(path).resolve()
    st = path.stat()
    db = _db()
    row = db.execute("SELECT size, mtime, sha256 FROM digests WHERE path = ?", (str(path),)).fetchone()
    if row is not None and row[0] == st.st_size and row[1] == st.st_mtime_ns:
        return row[2]
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    with db:
        db.execute(
            "INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?)", (str(path), st.st_size, st.st_mtime_ns, digest)
        )
    return digest


def file_digests(paths: list[Path]) -> list[str]:
    """Digests of many files with one transaction for the index (fast for whole datasets)."""
    db = _db()
    resolved = [Path(p).resolve() for p in paths]
    known = {}
    for chunk in range(0, len(resolved), 500):
        part = [str(p) for p in resolved[chunk : chunk + 500]]
        marks = ",".join("?" * len(part))
        for p, size, mtime, sha in db.execute(
            f"SELECT path, size, mtime, sha256 FROM digests WHERE path IN ({marks})", part
        ):
            known[p] = (size, mtime, sha)
    out, new = [], []
    for p in resolved:
        st = p.stat()
        hit = known.get(str(p))
        if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            out.append(hit[2])
            continue
        with open(p, "rb") as fh:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
        new.append((str(p), st.st_size, st.st_mtime_ns, sha))
        out.append(sha)
    if new:
        with db:
            db.executemany("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?)", new)
    return out


def tensor_digest(state: Mapping[str, Any]) -> str:
    """sha256 over the names, shapes, dtypes and bytes of a state dict's tensors."""
    import torch

    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def json_digest(obj: Any) -> str:
    """sha256 of the canonical JSON of `obj` (sorted keys, no whitespace)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
