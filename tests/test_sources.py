"""Datasets from their canonical source over real HTTP (on loopback), or from a verified mirror."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from robustness_tests.data.cue_conflict import CUE_CONFLICT, load_cue_conflict
from robustness_tests.data.sources import RemoteDataset, materialize
from robustness_tests.errors import DataError, FetchError
from robustness_tests.paths import set_cache_dir


@pytest.fixture
def cache(tmp_path):
    set_cache_dir(tmp_path / "cache")
    yield tmp_path / "cache"
    set_cache_dir(None)


@pytest.fixture
def server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving tmp_path/remote; yields (base_url, root, request log)."""
    root = tmp_path / "remote"
    root.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", root, requests
    httpd.shutdown()
    httpd.server_close()


def _three_stimuli(data_dir: Path, root: Path) -> tuple[tuple[str, str], ...]:
    files = CUE_CONFLICT.files[:3]
    for rel, _ in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / "cue-conflict" / rel, root / rel)
    return files


def test_fetch_once_with_checksums(server, cache, data_dir):
    base, root, requests = server
    files = _three_stimuli(data_dir, root)
    ds = RemoteDataset("tiny", "tiny", base, files, "CC BY 4.0", "test")
    local = materialize(ds)
    assert local == cache / "datasets" / "tiny"
    for rel, sha in files:
        assert hashlib.sha256((local / rel).read_bytes()).hexdigest() == sha
    assert len(requests) == 3
    assert materialize(ds) == local and len(requests) == 3  # cached: no second download


def test_a_served_file_with_the_wrong_checksum_is_not_saved(server, cache, data_dir):
    base, root, _ = server
    files = _three_stimuli(data_dir, root)
    (root / files[1][0]).write_bytes(b"tampered")
    ds = RemoteDataset("tiny", "tiny", base, files, "CC BY 4.0", "test")
    with pytest.raises(DataError, match=rf"checksum mismatch for {base}{files[1][0]}: sha256 [0-9a-f]+, expected {files[1][1]}"):
        materialize(ds)
    assert not (cache / "datasets" / "tiny" / files[1][0]).exists()


def test_no_network_and_no_mirror_is_a_fetch_error(cache):
    ds = RemoteDataset("tiny", "tiny", "http://127.0.0.1:9/", (("a.png", "0" * 64),), "x", "x")
    with pytest.raises(FetchError, match=r"cannot fetch http://127.0.0.1:9/a.png.*point --data-dir at a mirror"):
        materialize(ds, timeout=5)


@pytest.fixture
def stimuli_mirror(tmp_path, data_dir):
    """A mirror whose cue-conflict folder links to the real stimuli (so it can be damaged cheaply)."""
    mirror = tmp_path / "mirror"
    for rel, _ in CUE_CONFLICT.files:
        (mirror / "cue-conflict" / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / "cue-conflict" / rel).symlink_to(data_dir / "cue-conflict" / rel)
    return mirror


def test_the_shared_mirror_matches_the_manifest(data_dir, cache):
    root = materialize(CUE_CONFLICT, data_dir, fetch=False)
    assert root == data_dir / "cue-conflict"
    stimuli = load_cue_conflict(root)
    assert len(stimuli) == 1200 and len(CUE_CONFLICT.files) == 1280  # 80 shape == texture images excluded
    assert not any(s.path.name.split("-")[0].rstrip("0123456789") == s.path.stem.split("-")[1].rstrip("0123456789")
                   for s in stimuli.samples)


def test_missing_unexpected_and_altered_stimuli_are_named(stimuli_mirror, cache):
    folder = stimuli_mirror / "cue-conflict"
    (folder / "dog" / "dog1-bear1.png").unlink()
    with pytest.raises(DataError, match=r"1 missing file\(s\): dog/dog1-bear1.png"):
        materialize(CUE_CONFLICT, stimuli_mirror)
    (folder / "dog" / "dog1-bear1.png").symlink_to((folder / "dog" / "dog1-bird1.png").resolve())
    (folder / "cat" / "extra.png").write_bytes(b"x")
    with pytest.raises(DataError) as info:
        materialize(CUE_CONFLICT, stimuli_mirror)
    assert "1 unexpected file(s): cat/extra.png" in str(info.value)
    assert f"checksum mismatch for {folder / 'dog' / 'dog1-bear1.png'}" in str(info.value)


def test_a_stimulus_set_with_the_wrong_count_is_refused(tmp_path, data_dir):
    for rel, _ in CUE_CONFLICT.files[:100]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).symlink_to(data_dir / "cue-conflict" / rel)
    with pytest.raises(DataError, match=r"holds \d+ cue-conflict images with shape != texture; the stimulus set has 1200"):
        load_cue_conflict(tmp_path)
