"""Where the package keeps what it computes: one cache root, set by option or environment."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "ROBUSTNESS_TESTS_CACHE"
DATA_ENV = "ROBUSTNESS_TESTS_DATA"


def cache_dir() -> Path:
    """`$ROBUSTNESS_TESTS_CACHE`, else `$XDG_CACHE_HOME/robustness_tests`, else `~/.cache/...`.

    Never inside a data mirror: mirrors may be read-only (CI's `../shared/data` is).
    """
    if os.environ.get(CACHE_ENV):
        root = Path(os.environ[CACHE_ENV])
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "robustness_tests"
    root.mkdir(parents=True, exist_ok=True)
    return root
