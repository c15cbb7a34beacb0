"""The corruption kernels: public API, bad input, and each building block against the library routine the
reference generator calls (scipy, PIL, libjpeg), on real images. Fidelity to Hendrycks' own functions is
in test_corruptions_fidelity.py."""

from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from PIL import Image

from robustness_tests.corruptions import EXTRA, NAMES, corrupt
from robustness_tests.corruptions._kernels import clipped_zoom, gaussian_filter, numpy_arange
from robustness_tests.corruptions.blur import ZOOMS, glass_shuffle
from robustness_tests.corruptions.digital import map_coordinates_reflect, pil_box_resize
from robustness_tests.data.decode import decode_image
from robustness_tests.errors import DataError, UsageError
from robustness_tests.zoo import Preprocessing

ALL = NAMES + EXTRA


@pytest.fixture(scope="module")
def images(val1300) -> torch.Tensor:
    """Six real validation images, Resize(256) + CenterCrop(224) as the generator prepares them."""
    subset = val1300.take(6, seed=1)
    return torch.from_numpy(np.stack([decode_image(s.path, Preprocessing()) for s in subset.samples]))


@pytest.fixture(autouse=True)
def _mirror(data_dir, monkeypatch):
    monkeypatch.setenv("ROBUSTNESS_TESTS_DATA", str(data_dir))  # frost textures


def test_names_are_the_canonical_lists():
    assert len(NAMES) == 15 and len(EXTRA) == 4 and not set(NAMES) & set(EXTRA)
    assert NAMES[0] == "gaussian_noise" and NAMES[-1] == "jpeg_compression"


@pytest.mark.parametrize("name", ALL)
def test_every_corruption_keeps_shape_dtype_device_and_changes_the_image(name, images):
    for severity in (1, 5):
        out = corrupt(images[:2], name, severity, seed=3)
        assert out.dtype == torch.uint8 and out.shape == images[:2].shape and out.device == images.device
        assert (out.float() - images[:2].float()).abs().mean() > 0.5, f"{name} s{severity} left the images as they were"
    weak = (corrupt(images[:2], name, 1).float() - images[:2].float()).abs().mean()
    strong = (corrupt(images[:2], name, 5).float() - images[:2].float()).abs().mean()
    # not ordered by strength: saturate (x0.3, x0.1, x2, ...), elastic_transform (its 244-based table)
    if name not in ("saturate", "elastic_transform"):
        assert strong > weak, f"{name}: severity 5 changed less ({strong:.2f}) than severity 1 ({weak:.2f})"


@pytest.mark.parametrize("name", ["gaussian_noise", "glass_blur", "snow", "frost", "fog", "elastic_transform",
                                  "spatter", "motion_blur", "impulse_noise", "shot_noise"])
def test_same_seed_same_pixels_whatever_the_batch(name, images):
    whole = corrupt(images, name, 3, seed=7)
    parts = torch.cat([corrupt(images[:2], name, 3, seed=7, indices=[0, 1]),
                       corrupt(images[2:], name, 3, seed=7, indices=range(2, 6))])
    assert torch.equal(whole, parts)
    assert not torch.equal(whole, corrupt(images, name, 3, seed=8)), "the seed must matter"


def test_bad_input_is_named():
    x = torch.zeros(1, 3, 224, 224, dtype=torch.uint8)
    with pytest.raises(UsageError, match="unknown corruption 'gaussian_nosie'.*Did you mean 'gaussian_noise'"):
        corrupt(x, "gaussian_nosie", 1)
    for bad in (0, 6, "3", 2.0, True):
        with pytest.raises(UsageError, match="severity must be an integer from 1 to 5"):
            corrupt(x, "contrast", bad)
    with pytest.raises(UsageError, match="uint8.*got dtype torch.float32"):
        corrupt(x.float() / 255, "contrast", 1)
    with pytest.raises(UsageError, match=r"NCHW with 3 channels, got shape \(1, 224, 224, 3\)"):
        corrupt(x.permute(0, 2, 3, 1), "contrast", 1)
    with pytest.raises(UsageError, match=r"NCHW.*\(3, 224, 224\)"):
        corrupt(x[0], "contrast", 1)
    with pytest.raises(UsageError, match="glass_blur at severity 5 needs images of at least 10x10 pixels, got 8x8"):
        corrupt(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), "glass_blur", 5)
    with pytest.raises(UsageError, match="frost needs images smaller than its textures"):
        corrupt(torch.zeros(1, 3, 400, 400, dtype=torch.uint8), "frost", 1)
    with pytest.raises(UsageError, match="indices has 2 entries for 1 images"):
        corrupt(x, "fog", 1, indices=[0, 1])


def test_a_frost_texture_with_a_wrong_checksum_is_refused(tmp_path, data_dir):
    import shutil

    from robustness_tests.data.frost import frost_textures

    mirror = tmp_path / "mirror"
    shutil.copytree(data_dir / "frost", mirror / "frost")
    (mirror / "frost" / "frost3.png").write_bytes(b"not the texture")
    with pytest.raises(DataError, match=r"checksum mismatch for .*frost3.png"):
        frost_textures(mirror)


# -- building blocks against the routines the generator calls ------------------------------------------


def test_zoom_tables_are_numpy_arange():
    assert ZOOMS[0] == tuple(np.arange(1, 1.11, 0.01)) and len(ZOOMS[0]) == 12  # 1.11 is included (float)
    assert ZOOMS[4] == tuple(np.arange(1, 1.31, 0.03))
    assert numpy_arange(1, 1.26, 0.02) == list(np.arange(1, 1.26, 0.02))


def _reference_clipped_zoom(img, zoom_factor):  # written from make_imagenet_c.py's description
    h = img.shape[0]
    ch = int(np.ceil(h / zoom_factor))
    top = (h - ch) // 2
    img = ndi.zoom(img[top:top + ch, top:top + ch], (zoom_factor, zoom_factor, 1), order=1)
    trim_top = (img.shape[0] - h) // 2
    return img[trim_top:trim_top + h, trim_top:trim_top + h]


@pytest.mark.parametrize("zoom", [1.0, 1.01, 1.07, 1.13, 1.28, 2.5, 4.5])
def test_clipped_zoom_matches_scipy(zoom, images):
    x = images[0].permute(1, 2, 0).numpy().astype(np.float32) / 255
    ours = clipped_zoom(torch.from_numpy(x).permute(2, 0, 1), zoom).permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, _reference_clipped_zoom(x, zoom), atol=1e-5)


@pytest.mark.parametrize(("sigma", "mode", "truncate"), [(1, "nearest", 4.0), (6, "nearest", 4.0),
                                                         (2.44, "reflect", 3.0), (170.8, "reflect", 3.0)])
def test_gaussian_filter_matches_scipy(sigma, mode, truncate):
    u = np.random.default_rng(0).uniform(-1, 1, (224, 224))
    ours = gaussian_filter(torch.from_numpy(u)[None], sigma, mode=mode, truncate=truncate)[0].numpy()
    np.testing.assert_allclose(ours, ndi.gaussian_filter(u, sigma, mode=mode, truncate=truncate), atol=1e-12)


def test_map_coordinates_matches_scipy_including_outside_points():
    rng = np.random.default_rng(1)
    img = rng.uniform(0, 1, (40, 50, 3))
    dy, dx = rng.normal(0, 6, (40, 50)), rng.normal(0, 6, (40, 50))
    y, x, z = np.meshgrid(np.arange(40), np.arange(50), np.arange(3), indexing="ij")
    coords = (y + dy[..., None]).ravel(), (x + dx[..., None]).ravel(), z.ravel()
    expected = ndi.map_coordinates(img, coords, order=1, mode="reflect").reshape(img.shape)
    rows = torch.arange(40.0)[None, :, None] + torch.from_numpy(dy)[None]
    cols = torch.arange(50.0)[None, None, :] + torch.from_numpy(dx)[None]
    ours = map_coordinates_reflect(torch.from_numpy(img).permute(2, 0, 1)[None], rows, cols)[0].permute(1, 2, 0)
    np.testing.assert_allclose(ours.numpy(), expected, atol=1e-9)


@pytest.mark.parametrize(("size", "small"), [(224, 134), (224, 112), (224, 89), (224, 67), (224, 56), (97, 31)])
def test_box_resize_is_pillow_exactly(size, small, images):
    x = images[:2, :, :size, :size]
    down = pil_box_resize(x.double(), small, small)
    up = pil_box_resize(down, size, size)
    for i in range(2):
        pil = Image.fromarray(x[i].permute(1, 2, 0).numpy())
        pil_down = pil.resize((small, small), Image.BOX)
        assert np.array_equal(down[i].permute(1, 2, 0).numpy(), np.asarray(pil_down))
        assert np.array_equal(up[i].permute(1, 2, 0).numpy(), np.asarray(pil_down.resize((size, size), Image.BOX)))


def test_jpeg_compression_is_pillows_round_trip(images):
    for severity, quality in enumerate((25, 18, 15, 10, 7), start=1):
        ours = corrupt(images[:2], "jpeg_compression", severity)
        for i in range(2):
            buffer = io.BytesIO()
            Image.fromarray(images[i].permute(1, 2, 0).numpy()).save(buffer, "JPEG", quality=quality)
            expected = np.asarray(Image.open(buffer).convert("RGB"))
            assert np.abs(ours[i].permute(1, 2, 0).numpy().astype(int) - expected).max() <= 1


@pytest.mark.parametrize(("h", "w", "delta", "iterations"), [(20, 20, 2, 2), (17, 23, 1, 1), (30, 26, 4, 2),
                                                             (224, 224, 1, 1)])
def test_glass_shuffle_is_the_sequential_loop(h, w, delta, iterations):
    """Our rounds give exactly the reference's position-by-position loop, including its numpy quirk:
    `x[h, w], x[h', w'] = x[h', w'], x[h, w]` on an HxWx3 array copies instead of swapping."""
    n = 2
    x = torch.randint(0, 256, (n, 3, h, w)).double()
    rows, cols = range(h - delta, delta, -1), range(w - delta, delta, -1)
    g = torch.Generator().manual_seed(0)
    offsets = [torch.randint(-delta, delta, (n, len(rows) * len(cols), 2), generator=g) for _ in range(iterations)]

    class Replay:  # hands our kernel the same offsets the loop below uses
        def __init__(self):
            self.draws = iter(offsets)

        def randint(self, low, high, shape):
            return next(self.draws)

    ours = glass_shuffle(x, delta, iterations, Replay()).permute(0, 2, 3, 1).numpy()
    expected = x.permute(0, 2, 3, 1).numpy().copy()
    for b in range(n):
        im = expected[b]
        for k in range(iterations):
            j = 0
            for hh in rows:
                for ww in cols:
                    dx, dy = offsets[k][b, j].tolist()
                    j += 1
                    h_prime, w_prime = hh + dy, ww + dx
                    im[hh, ww], im[h_prime, w_prime] = im[h_prime, w_prime], im[hh, ww]
    assert np.array_equal(ours, expected)


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_shot_noise_tables_give_the_reference_distribution_exactly(severity):
    """Per grey level v, the alias tables imply exactly the law of the reference's
    np.uint8(clip(Poisson(v / 255 * c) / c, 0, 1) * 255) (computed here from scipy's Poisson pmf)."""
    from scipy.stats import poisson

    from robustness_tests.corruptions.noise import SHOT, _poisson_alias

    c = SHOT[severity - 1]
    keep, own, other = (t.numpy() for t in _poisson_alias(c))
    implied = np.zeros((256, 256))
    for v in range(256):
        np.add.at(implied[v], own[v], keep[v] / (c + 1))
        np.add.at(implied[v], other[v], (1 - keep[v]) / (c + 1))
    expected = np.zeros((256, 256))
    k = np.arange(c + 1)
    for v in range(256):
        pmf = poisson.pmf(k, v / 255 * c)
        pmf[c] = poisson.sf(c - 1, v / 255 * c)  # P(K >= c): saturates
        np.add.at(expected[v], np.uint8(np.clip(k / c, 0, 1) * 255), pmf)
    np.testing.assert_allclose(implied, expected, atol=1e-12)


def test_impulse_flips_are_independent_bernoulli_trials():
    """The Geometric-gap sampler: each position flips with probability p, independently of its neighbour."""
    from robustness_tests.corruptions.noise import _bernoulli_positions

    g = torch.Generator().manual_seed(0)
    n, p, reps = 10_000, 0.09, 60
    hits = torch.zeros(reps, n)
    for r in range(reps):
        positions = _bernoulli_positions(n, p, g)
        assert torch.all(positions[1:] > positions[:-1]) and positions.max() < n
        hits[r, positions] = 1
    rate = hits.mean().item()
    assert abs(rate - p) < 4 * (p * (1 - p) / hits.numel()) ** 0.5
    joint = (hits[:, 1:] * hits[:, :-1]).mean().item()  # P(both neighbours flip) = p^2
    assert abs(joint - p * p) < 4 * (p * p / hits[:, 1:].numel()) ** 0.5
    assert abs(hits[:, 0].mean().item() - p) < 4 * (p * (1 - p) / reps) ** 0.5 + 0.05  # the first position too
