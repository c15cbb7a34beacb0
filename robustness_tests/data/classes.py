"""The 1000 ImageNet-1k classes: index = position of the wnid in the sorted wnid list."""

from __future__ import annotations

import difflib
import functools
import importlib.util
from pathlib import Path

from ..errors import DataError


@functools.cache
def wnids() -> tuple[str, ...]:
    """The sorted ImageNet-1k wnids (the torchvision / timm class order).

    Read from the synset list that timm ships, without importing timm (which imports torch).
    """
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("timm is not installed; it ships the ImageNet wnid list this package uses")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "_info" / "imagenet_synsets.txt"
    ids = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if len(ids) != 1000 or list(ids) != sorted(ids):
        raise DataError(f"{path} does not hold the 1000 sorted ImageNet wnids")
    return ids


@functools.cache
def wnid_to_index() -> dict[str, int]:
    return {w: i for i, w in enumerate(wnids())}


def class_index(wnid: str, where: str = "") -> int:
    """Index of `wnid`, or a `DataError` naming `where` it came from and the closest class."""
    try:
        return wnid_to_index()[wnid]
    except KeyError:
        close = difflib.get_close_matches(wnid, wnids(), n=1)
        hint = f" (closest class: {close[0]})" if close else ""
        at = f" in {where}" if where else ""
        raise DataError(f"{wnid!r}{at} is not an ImageNet-1k class wnid{hint}") from None
