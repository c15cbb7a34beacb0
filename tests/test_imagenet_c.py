"""ImageNet-C data: the `make-imagenet-c` command writes the released layout (resumable), the released
reader reads it back (coverage, missing folders named), the on-the-fly transform gives the same pixels
as the files, and the suite runs on a partial released folder, skipping what is missing with the reason.
The estimates (CE, mCE, relative mCE) are checked against the plain formulas in test_corruption_error.py."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from PIL import Image

from robustness_tests.data.decode import decode_image
from robustness_tests.errors import DataError
from robustness_tests.imagenet_c import PROTOCOL, CorruptionTransform, ImageNetC
from robustness_tests.make_imagenet_c import make_imagenet_c, target

from test_plugin import run_suite


@pytest.fixture(scope="module")
def released(tmp_path_factory, val_root, data_dir):
    import os

    os.environ.setdefault("ROBUSTNESS_TESTS_DATA", str(data_dir))
    dst = tmp_path_factory.mktemp("imagenet-c")
    counts = make_imagenet_c(val_root, dst, subset=8, corruptions=("gaussian_noise", "contrast"), seed=0,
                             log=lambda _: None)
    assert counts == {"written": 80, "skipped": 0}
    return dst


def test_make_imagenet_c_writes_the_released_layout_and_resumes(released, val_root):
    files = sorted(released.rglob("*.JPEG"))
    assert len(files) == 80
    assert {f.relative_to(released).parts[:2] for f in files} == {(c, str(s)) for c in ("gaussian_noise", "contrast")
                                                                 for s in range(1, 6)}
    with Image.open(files[0]) as im:
        assert im.size == (224, 224) and im.format == "JPEG"
    files[0].unlink()
    again = make_imagenet_c(val_root, released, subset=8, corruptions=("gaussian_noise", "contrast"), seed=0,
                            log=lambda _: None)
    assert again == {"written": 1, "skipped": 79}


def test_released_reader_knows_its_coverage(released, tmp_path):
    source = ImageNetC.released(released, subset=None, seed=0)
    coverage = source.coverage()
    assert coverage["gaussian_noise"] == [1, 2, 3, 4, 5] and coverage["glass_blur"] == []
    assert source.missing("gaussian_noise", 3) is None
    assert "no glass_blur/2/ folder" in source.missing("glass_blur", 2)
    assert len(source.dataset("contrast", 4)) == 8
    described = source.describe()  # the coverage, for the report's data sources
    assert "2 of 19 corruptions complete" in described and "glass_blur" in described.partition("missing: ")[2]
    with pytest.raises(DataError, match="holds none of the corruption folders"):
        ImageNetC.released(tmp_path, subset=None, seed=0)


def test_on_the_fly_gives_the_pixels_of_the_written_files(released, val1300):
    """Same seed, same image index: the transform (libjpeg via torchvision) and the files (PIL, as the
    generator saves) agree to within one grey level."""
    clean = val1300.take(8, seed=0)
    images = torch.from_numpy(np.stack([decode_image(s.path, PROTOCOL) for s in clean.samples]))
    for corruption, severity in (("gaussian_noise", 2), ("contrast", 5)):
        on_the_fly = CorruptionTransform(corruption, severity, seed=0)(images, torch.zeros(8), 0)
        for i, sample in enumerate(clean.samples):
            with Image.open(target(released, corruption, severity, sample)) as im:
                from_file = np.asarray(im.convert("RGB")).astype(int)
            assert np.abs(on_the_fly[i].permute(1, 2, 0).numpy().astype(int) - from_file).max() <= 1


def test_suite_runs_on_a_partial_released_folder(released, data_dir, tmp_path):
    out = run_suite("test_imagenet_c.py", "-m", "imagenet_c", f"--imagenet-c={released}", "-k",
                    "gaussian_noise-1 or glass_blur-1 or test_mce", data_dir=data_dir, tmp_path=tmp_path)
    assert "imagenet_c.error" in out and "corruption=gaussian_noise data=released" in out
    assert "no glass_blur/1/ folder" in out
    assert "ImageNet-C is incomplete" in out


class _InOrder(CorruptionTransform):
    ahead = False  # the same transform, run in the loop's own thread


class _Failing(CorruptionTransform):
    def __call__(self, images, labels, start):
        if start > 0:
            raise RuntimeError(f"corruption failed on the batch at {start}")
        return super().__call__(images, labels, start)


def test_corrupting_ahead_of_the_model_changes_nothing_and_surfaces_errors(lite0, val1300):
    """The loop corrupts batch k+1 in a background thread while the model runs on batch k: the outcomes
    are those of the plain loop, and a failure in the thread is raised where its batch is consumed."""
    from robustness_tests.evaluate import Settings, evaluate

    clean = val1300.take(24, seed=3)
    settings = Settings(batch_size=8)
    assert CorruptionTransform.ahead and not _InOrder.ahead
    ahead = evaluate(lite0, clean, settings, transform=CorruptionTransform("shot_noise", 3, seed=0),
                     preprocessing=PROTOCOL, overlap=True)
    in_order = evaluate(lite0, clean, settings, transform=_InOrder("shot_noise", 3, seed=0), preprocessing=PROTOCOL)
    assert ahead.keys() == in_order.keys()
    for name in ahead:
        np.testing.assert_array_equal(ahead[name], in_order[name], err_msg=name)
    with pytest.raises(RuntimeError, match="corruption failed on the batch at 8"):
        evaluate(lite0, clean, settings, transform=_Failing("contrast", 1, seed=0), preprocessing=PROTOCOL,
                 overlap=True)
