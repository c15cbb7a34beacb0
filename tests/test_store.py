"""The results store: keys, atomic entries, one computation across concurrent processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from robustness_tests.atomic import atomic_write
from robustness_tests.store import ResultStore, code_version

PARTS = {"benchmark": "validation", "model": {"name": "m", "weights": "w"}, "seed": 0}


def test_compute_once_then_read(tmp_path):
    store = ResultStore(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"correct": np.array([True, False, True])}

    first = store.get_or_compute(PARTS, compute)
    second = store.get_or_compute(PARTS, compute)
    assert len(calls) == 1 and not first.cached and second.cached
    np.testing.assert_array_equal(second.arrays["correct"], [True, False, True])
    assert second.meta["parts"]["model"] == {"name": "m", "weights": "w"}
    assert second.meta["code"] == code_version()


def test_every_part_changes_the_key(tmp_path):
    store = ResultStore(tmp_path)
    base = store.key(PARTS)
    assert store.key(dict(PARTS)) == base
    for change in ({"seed": 1}, {"model": {"name": "m", "weights": "w2"}}, {"precision": "bf16"}):
        assert store.key({**PARTS, **change}) != base


def test_a_failed_computation_leaves_no_entry(tmp_path):
    store = ResultStore(tmp_path)

    def boom():
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        store.get_or_compute(PARTS, boom)
    assert store.get(store.key(PARTS)) is None
    assert not list(tmp_path.rglob("*.npz")) and not list(tmp_path.rglob("*.tmp"))


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "f.json"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(path, "w") as fh:
            fh.write("half of the new")
            raise KeyboardInterrupt
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_a_killed_writer_never_leaves_a_readable_partial_entry(tmp_path):
    """SIGKILL mid-write: the entry is either absent or complete, never truncated."""
    script = textwrap.dedent(f"""
        import numpy as np
        from robustness_tests.store import ResultStore
        ResultStore({str(tmp_path)!r}).put("k" * 32, {{"x": np.arange(60_000_000, dtype=np.int64)}}, {{}})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.rglob("*.tmp")) and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    entry = ResultStore(tmp_path).get("k" * 32)
    assert entry is None or entry.arrays["x"].shape == (60_000_000,)


def test_concurrent_processes_compute_a_measurement_once(tmp_path):
    log = tmp_path / "computed.log"
    script = textwrap.dedent(f"""
        import time, numpy as np
        from robustness_tests.store import ResultStore

        def compute():
            with open({str(log)!r}, "a") as fh:
                fh.write("x\\n")
            time.sleep(1.0)
            return {{"v": np.arange(10)}}

        entry = ResultStore({str(tmp_path / 'store')!r}).get_or_compute({{"k": 1}}, compute)
        assert entry.arrays["v"].sum() == 45
    """)
    env = {**os.environ, "ROBUSTNESS_TESTS_CACHE": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert log.read_text().count("x") == 1


def test_find_reads_another_models_entry_by_its_parts(tmp_path):
    store = ResultStore(tmp_path)
    data = {"name": "cue-conflict", "n": 1200, "fingerprint": "f"}
    store.get_or_compute({"benchmark": "shape_bias", "model": {"name": "base", "weights": "w1"}, "data": data},
                         lambda: {"d": np.arange(3)})
    store.get_or_compute({"benchmark": "shape_bias", "model": {"name": "other", "weights": "w2"}, "data": data},
                         lambda: {"d": np.arange(4)})
    hit = store.find(benchmark="shape_bias", model={"name": "base"}, data=data)
    assert hit is not None and len(hit.arrays["d"]) == 3
    assert store.find(benchmark="shape_bias", model={"name": "base"}, data={**data, "n": 10}) is None
    assert store.find(benchmark="validation") is None


def test_the_code_version_covers_every_module_that_decides_outcomes(tmp_path, monkeypatch):
    """Editing a corruption kernel (or any listed module) must change the code version, so stored
    outcomes computed by the old code are not read back."""
    import shutil

    import robustness_tests.store as store_module

    package = Path(store_module.__file__).parent
    copy = tmp_path / "robustness_tests"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(store_module, "__file__", str(copy / "store.py"))
    before = store_module.code_version()
    for module in ("corruptions/noise.py", "imagenet_c.py", "perturbations.py", "evaluate.py"):
        target = copy / module
        original = target.read_bytes()
        target.write_bytes(original + b"\n# edited\n")
        assert store_module.code_version() != before, f"editing {module} left the code version unchanged"
        target.write_bytes(original)
    assert store_module.code_version() == before
