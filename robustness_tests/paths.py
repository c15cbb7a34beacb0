"""Where the package keeps what it computes: one cache root, set by option or environment."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "ROBUSTNESS_TESTS_CACHE"
DATA_ENV = "ROBUSTNESS_TESTS_DATA"


_override: Path | None = None
_mirror: Path | None = None


def set_cache_dir(path: str | os.PathLike | None) -> None:
    """Use `path` as the cache root in this process (the plugin's --cache-dir); None to unset."""
    global _override
    _override = Path(path).resolve() if path is not None else None


def cache_dir() -> Path:
    """--cache-dir, else `$ROBUSTNESS_TESTS_CACHE`, else `$XDG_CACHE_HOME/robustness_tests`,
    else `~/.cache/robustness_tests`.

    Never inside a data mirror: mirrors may be read-only (CI's `../shared/data` is).
    """
    if _override is not None:
        root = _override
    elif os.environ.get(CACHE_ENV):
        root = Path(os.environ[CACHE_ENV])
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "robustness_tests"
    root.mkdir(parents=True, exist_ok=True)
    return root


def set_data_mirror(path: str | os.PathLike | None) -> None:
    """Use `path` as the data mirror in this process (the plugin's --data-dir); None to unset."""
    global _mirror
    _mirror = Path(path).resolve() if path is not None else None


def data_mirror() -> Path | None:
    """--data-dir, else `$ROBUSTNESS_TESTS_DATA`, else None (fetch from the canonical sources)."""
    if _mirror is not None:
        return _mirror
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else None
