"""The data layer: layouts, decoding faithful to torchvision, the decoded cache, subsets, errors."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from robustness_tests.data.batches import iter_batches
from robustness_tests.data.classes import class_index, wnids
from robustness_tests.data.decode import DecodedCache, decode_image
from robustness_tests.data.imagenet import load_imagenet_val, stratified_indices
from robustness_tests.errors import DataError, UsageError
from robustness_tests.zoo import PAPER_PREPROCESSING, Preprocessing


def test_wnids_are_the_sorted_imagenet_classes():
    ids = wnids()
    assert len(ids) == 1000 and ids[0] == "n01440764" and list(ids) == sorted(ids)
    assert class_index("n01440764") == 0 and class_index("n15075141") == 999


def test_the_1300_image_mirror_is_recognised(val1300):
    assert val1300.name == "imagenet-val-1300"
    assert len(val1300) == 1300
    assert len(set(val1300.labels)) == 725
    assert all(s.path.name.startswith("ILSVRC2012_val_") for s in val1300.samples)


@pytest.mark.parametrize("pre", [PAPER_PREPROCESSING, Preprocessing(256, 224, "bicubic"), Preprocessing(272, 240, "bicubic")])
def test_decode_matches_torchvision_resize_and_center_crop(val1300, pre):
    import torchvision.transforms as T
    from torchvision.transforms import InterpolationMode

    reference = T.Compose([T.Resize(pre.resize, interpolation=InterpolationMode(pre.interpolation)),
                           T.CenterCrop(pre.crop), T.PILToTensor()])
    for sample in val1300.samples[:: len(val1300) // 6]:
        ours = decode_image(sample.path, pre)
        with Image.open(sample.path) as im:
            expected = reference(im.convert("RGB")).numpy()
        assert ours.dtype == np.uint8 and ours.shape == (3, pre.crop, pre.crop)
        np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("mode", ["L", "CMYK", "P", "RGBA"])
def test_grayscale_cmyk_and_palette_images_become_rgb(tmp_path, val1300, mode):
    with Image.open(val1300.samples[0].path) as im:
        converted = im.convert(mode)
    path = tmp_path / ("x.png" if mode in ("P", "RGBA") else "x.jpg")
    converted.save(path)
    out = decode_image(path, PAPER_PREPROCESSING)
    assert out.shape == (3, 224, 224)
    if mode == "L":
        assert (out[0] == out[1]).all() and (out[1] == out[2]).all()


def test_truncated_jpeg_error_names_the_file(tmp_path, val1300):
    src = val1300.samples[0].path
    bad = tmp_path / "n01440764" / "truncated.JPEG"
    bad.parent.mkdir()
    bad.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(DataError, match=r"cannot decode image .*truncated\.JPEG"):
        decode_image(bad, PAPER_PREPROCESSING)
    dataset = load_imagenet_val(tmp_path)
    with pytest.raises(DataError, match=r"truncated\.JPEG"):
        list(iter_batches(dataset, PAPER_PREPROCESSING, 4, cache=DecodedCache(tmp_path / "cache")))


def _copy_some(val1300, dst: Path, n: int = 12) -> list:
    samples = val1300.samples[:n]
    for s in samples:
        shutil.copy(s.path, dst / s.path.name)
    return samples


def test_flat_layout_with_labels_file_of_wnids_or_indices(tmp_path, val1300):
    samples = _copy_some(val1300, tmp_path)
    lines = [f"{s.path.name} {wnids()[s.label] if i % 2 else s.label}" for i, s in enumerate(samples)]
    (tmp_path / "val.txt").write_text("\n".join(lines) + "\n")
    flat = load_imagenet_val(tmp_path)
    assert [(s.path.name, s.label) for s in flat.samples] == [(s.path.name, s.label) for s in samples]
    assert flat.name == "imagenet-val-custom"


def test_flat_layout_with_kaggle_csv(tmp_path, val1300):
    samples = _copy_some(val1300, tmp_path)
    rows = ["ImageId,PredictionString"] + [f"{s.path.stem},{wnids()[s.label]} 1 2 3 4" for s in samples]
    (tmp_path / "LOC_val_solution.csv").write_text("\n".join(rows) + "\n")
    assert load_imagenet_val(tmp_path).labels == [s.label for s in samples]


def test_flat_layout_without_labels_is_a_clear_error(tmp_path, val1300):
    _copy_some(val1300, tmp_path, 2)
    with pytest.raises(DataError, match=r"no class folders and no labels file"):
        load_imagenet_val(tmp_path)


def test_dataset_root_errors(tmp_path):
    with pytest.raises(DataError, match=r"does not exist.*--imagenet-val"):
        load_imagenet_val(tmp_path / "missing")
    with pytest.raises(DataError, match=r"no images under"):
        load_imagenet_val(tmp_path)
    (tmp_path / "n99999999").mkdir()
    with pytest.raises(DataError, match=r"'n99999999' in .* is not an ImageNet-1k class wnid"):
        load_imagenet_val(tmp_path)
    (tmp_path / "n99999999").rmdir()
    (tmp_path / "dogs").mkdir()
    with pytest.raises(DataError, match=r"folder .*dogs is not an ImageNet class"):
        load_imagenet_val(tmp_path)


def test_stratified_subset_is_deterministic_and_proportional(val1300):
    a, b = val1300.take(300, seed=0), val1300.take(300, seed=0)
    assert [s.path for s in a.samples] == [s.path for s in b.samples]
    assert [s.path for s in val1300.take(300, seed=1).samples] != [s.path for s in a.samples]
    assert len(a) == 300 and a.subset == {"n": 300, "seed": 0, "of": 1300}
    full, sub = Counter(val1300.labels), Counter(a.labels)
    for label, count in sub.items():  # largest-remainder allocation: within one of the quota
        assert abs(count - 300 * full[label] / 1300) < 1
    assert a.fingerprint() != val1300.fingerprint()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=200), st.data(), st.integers(0, 5))
def test_stratified_indices_properties(labels, data, seed):
    n = data.draw(st.integers(1, len(labels)))
    idx = stratified_indices(labels, n, seed)
    assert len(idx) == n == len(set(idx)) and idx == sorted(idx)
    full, sub = Counter(labels), Counter(labels[i] for i in idx)
    assert all(abs(sub[c] - n * full[c] / len(labels)) < 1 for c in full)


def test_subset_size_errors(val1300):
    with pytest.raises(UsageError, match=r"--subset 1301 is larger than the dataset imagenet-val-1300 .*1300 images"):
        val1300.take(1301)
    with pytest.raises(UsageError, match=r"positive"):
        val1300.take(0)


def test_decoded_cache_is_keyed_by_content(tmp_path, val1300):
    cache = DecodedCache(tmp_path / "cache")
    src = val1300.samples[3].path
    copy = tmp_path / "renamed.JPEG"
    shutil.copy(src, copy)
    first = cache.load_many([src], PAPER_PREPROCESSING)[0]
    entries = list((tmp_path / "cache").rglob("*.npy"))
    assert len(entries) == 1
    again = cache.load_many([copy], PAPER_PREPROCESSING)[0]  # same bytes, other name: a hit
    assert list((tmp_path / "cache").rglob("*.npy")) == entries
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, decode_image(src, PAPER_PREPROCESSING))
    cache.load_many([src], Preprocessing(256, 224, "bicubic"))  # other preprocessing: another entry
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2


def test_batches_come_in_dataset_order(val1300, tmp_path):
    small = val1300.take(50)
    batches = list(iter_batches(small, PAPER_PREPROCESSING, 16, cache=DecodedCache(tmp_path / "c")))
    assert [b.start for b in batches] == [0, 16, 32, 48]
    assert np.concatenate([b.labels for b in batches]).tolist() == small.labels
    assert batches[0].images.shape == (16, 3, 224, 224) and batches[-1].images.shape == (2, 3, 224, 224)
    np.testing.assert_array_equal(batches[1].images[0], decode_image(small.samples[16].path, PAPER_PREPROCESSING))
