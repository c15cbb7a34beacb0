"""Shared fixtures of the project's own tests: real data from the mirror, the real embedded model.

The data mirror is found the way a user points at it: --data-dir or $ROBUSTNESS_TESTS_DATA
(CI sets it to ../shared/data). Every test session gets a fresh cache directory, so stored
results and decoded images from earlier sessions never leak into assertions.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from robustness_tests.plugin import config_key


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory):
    old = os.environ.get("ROBUSTNESS_TESTS_CACHE")
    os.environ["ROBUSTNESS_TESTS_CACHE"] = str(tmp_path_factory.mktemp("rt-cache"))
    yield
    if old is None:
        os.environ.pop("ROBUSTNESS_TESTS_CACHE", None)
    else:
        os.environ["ROBUSTNESS_TESTS_CACHE"] = old


@pytest.fixture(scope="session")
def data_dir(pytestconfig: pytest.Config) -> Path:
    mirror = pytestconfig.stash[config_key].mirror()
    if mirror is None or not mirror.is_dir():
        pytest.skip("no data mirror: set --data-dir or ROBUSTNESS_TESTS_DATA (e.g. ../shared/data)")
    return mirror.resolve()


@pytest.fixture(scope="session")
def val_root(data_dir: Path) -> Path:
    root = data_dir / "imagenet-val-1300"
    if not root.is_dir():
        pytest.skip(f"{root} is missing from the data mirror")
    return root


@pytest.fixture(scope="session")
def val1300(val_root: Path):
    from robustness_tests.data.imagenet import load_imagenet_val

    return load_imagenet_val(val_root)


@pytest.fixture(scope="session")
def lite0():
    from robustness_tests import zoo

    return zoo.load("efficientnet_lite0")
