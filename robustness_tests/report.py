"""Reports: `results.json` (canonical), the terminal summary table, provenance.

`results.json` is written by the pytest controller only, atomically, from the claim records the
tests attached to their reports.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from .atomic import atomic_write

SCHEMA_VERSION = 1
PACKAGES = ("robustness_tests", "torch", "torchvision", "timm", "numpy", "pillow", "scipy", "pytest", "pytest-xdist")
VERDICT_ORDER = ("violated", "consistent", "confirmed", "measured")


def package_versions() -> dict[str, str | None]:
    """Installed versions, read from metadata (imports nothing)."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(where: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True, timeout=10, check=False,
    ).stdout.strip()
    return result.stdout.strip() + ("-dirty" if dirty else "")


def provenance(records: list[dict[str, Any]], *, seed: int, rootdir: Path, settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "git_commit": git_commit(rootdir),
        "devices": sorted({r["device"] for r in records if r.get("device")}),
        "seed": seed,
        "settings": settings,
        "datasets": sorted(
            {json.dumps(r["dataset"], sort_keys=True) for r in records if r.get("dataset")}
        ),
    }


def write_results(path: Path, records: list[dict[str, Any]], prov: dict[str, Any]) -> None:
    doc = {"schema_version": SCHEMA_VERSION, "provenance": prov, "claims": records}
    doc["provenance"]["datasets"] = [json.loads(d) for d in prov.get("datasets", [])]
    with atomic_write(path, "w") as fh:
        json.dump(doc, fh, indent=2, sort_keys=False, default=str)
        fh.write("\n")


def verdict_counts(records: Iterable[dict[str, Any]]) -> Counter:
    return Counter(r["verdict"] for r in records)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def summary_lines(records: list[dict[str, Any]]) -> list[str]:
    """A compact fixed-width table, one row per claim record, grouped by model."""
    header = ("model", "claim", "metric", "value", "CI", "bound", "published", "verdict")
    rows = [header]
    for r in sorted(records, key=lambda r: (r["model"], r["metric"], r.get("claim") or "")):
        bound = f"{r['op']} {_fmt(r['bound'])}" if r.get("op") else "-"
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        rows.append((r["model"], r.get("claim") or "-", r["metric"], _fmt(r["value"]), ci, bound,
                     _fmt(r.get("published")), r["verdict"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    counts = verdict_counts(records)
    lines.append("verdicts: " + ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICT_ORDER))
    return lines
