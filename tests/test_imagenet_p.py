"""ImageNet-P: the metrics against an independent transcription of ImageNet-P/test.py's definitions
(REFERENCE.md), generated sequences, the released video layout through OpenCV, and bad input."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from scipy.stats import rankdata

from robustness_tests import metrics
from robustness_tests import perturbations as P
from robustness_tests.data.decode import decode_image
from robustness_tests.data.videos import read_video, write_video
from robustness_tests.errors import DataError, UsageError
from robustness_tests.imagenet_p import ImageNetP, _frames_of

from test_plugin import run_suite

cv2 = pytest.importorskip("cv2")

# -- metrics: an independent implementation written from REFERENCE.md ---------------------------------


def _pairs_reference(frames, noise, difficulty):
    step = 1 if noise else difficulty
    for i in range(step):
        anchor = i
        for j in range(i + step, frames, step):
            yield anchor, j
            if not noise:
                anchor = j


def _fp_reference(predictions, noise, difficulty):
    per_video = [np.mean([p[a] != p[b] for a, b in _pairs_reference(len(p), noise, difficulty)])
                 for p in predictions]
    return float(np.mean(per_video))


def _t5d_reference(logits, noise, difficulty):
    """Ranks by rankdata(-logits, 'ordinal'); distance: for frame a's five best classes in order, their
    ranks in frame b, capped at 6; sum_j |j - (min(rank, 6) - 1)|."""
    per_video = []
    for video in logits:
        ranks = [rankdata(-frame, method="ordinal") for frame in video]
        dists = []
        for a, b in _pairs_reference(len(video), noise, difficulty):
            best_a = np.argsort(ranks[a])[:5]
            dists.append(sum(abs(j - (min(ranks[b][c], 6) - 1)) for j, c in enumerate(best_a)))
        per_video.append(np.mean(dists))
    return float(np.mean(per_video))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("noise", [True, False])
@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_metrics_match_the_reference_definitions_including_ties(seed, noise, difficulty):
    rng = np.random.default_rng(seed)
    frames = 41 if seed == 3 else 31
    levels = 3 if seed % 2 else 50  # few distinct logit values: many ties, ordinal ranks decide them
    logits = rng.integers(0, levels, (4, frames, 1000)).astype(np.float32)
    predictions = np.argmax(logits, axis=-1)
    assert metrics.flip_probability(predictions, noise, difficulty) == pytest.approx(
        _fp_reference(predictions, noise, difficulty))
    expected = _t5d_reference(logits, noise, difficulty)
    assert metrics.top5_distance(logits, noise, difficulty) == pytest.approx(expected)
    ranks = np.stack([[rankdata(-f, method="ordinal").astype(np.int64) for f in v] for v in logits])
    assert metrics.top5_distance(ranks, noise, difficulty) == pytest.approx(expected)


def test_stable_predictions_have_zero_flips_and_distance():
    logits = np.tile(np.arange(1000, dtype=np.float32), (2, 31, 1))
    assert metrics.flip_probability(logits.argmax(-1), False) == 0.0
    assert metrics.top5_distance(logits, True) == 0.0


def test_a_sequence_needs_two_frames():
    with pytest.raises(ValueError, match="1 frame.*no frame pair"):
        metrics.flip_probability(np.zeros((3, 1), dtype=int), noise=True)
    with pytest.raises(ValueError, match=r"predictions must be \[sequences, frames\]"):
        metrics.flip_probability(np.zeros(5, dtype=int), noise=True)


# -- generated sequences -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images(val1300) -> torch.Tensor:
    subset = val1300.take(3, seed=2)
    return torch.from_numpy(np.stack([decode_image(s.path, P.INPUT) for s in subset.samples]))


def test_sequences_have_the_reference_frame_counts_and_anchors(images):
    crop = images[:, :, 16:240, 16:240]
    for name in P.PERTURBATIONS + P.HELD_OUT:
        frames = P.sequence(images[:1], name)
        assert frames.shape == (1, P.frame_count(name), 3, 224, 224) and frames.dtype == torch.uint8
    noisy = P.sequence(images, "gaussian_noise", 2, seed=1)
    assert torch.equal(noisy[:, 0], crop), "frame 0 of a noise sequence is the clean image"
    translated = P.sequence(images, "translate")
    assert torch.equal(translated[:, 20], crop), "translate's frame 20 is the unshifted crop"
    assert torch.equal(translated[:, 21, :, :, 1:], translated[:, 20, :, :, :-1]), "one pixel per frame"
    assert torch.equal(P.sequence(images, "shot_noise", seed=3), P.sequence(images, "shot_noise", seed=3))


def test_unknown_perturbation_and_bad_difficulty_are_named(images):
    with pytest.raises(UsageError, match="unknown perturbation 'rotation'.*Did you mean 'rotate'"):
        P.sequence(images, "rotation")
    with pytest.raises(UsageError, match="difficulty must be 1, 2 or 3"):
        P.sequence(images, "rotate", 4)
    with pytest.raises(UsageError, match="at least 224x224"):
        P.sequence(images[:, :, :100, :100], "rotate")


def test_frames_are_made_a_few_videos_at_a_time(val1300):
    """Memory stays bounded: never more than `videos` sequences of frames exist at once."""
    source = ImageNetP("generated", clean=val1300.take(10, seed=0))
    sizes = [frames.shape[0] for _, frames in _frames_of(source, source.clean, "translate", 1, 4, "cpu")]
    assert sizes == [4, 4, 2]


# -- the released layout through OpenCV ---------------------------------------------------------------


@pytest.fixture(scope="module")
def released(tmp_path_factory, val1300, images):
    root = tmp_path_factory.mktemp("imagenet-p")
    for name in ("gaussian_noise", "brightness"):
        frames = P.sequence(images, name, seed=0).numpy()
        for sample, video in zip(val1300.take(3, seed=2).samples, frames, strict=True):
            from robustness_tests.data.classes import wnids

            write_video(root / name / wnids()[sample.label] / (sample.path.stem + ".mp4"), video)
    return root


def test_videos_read_back_frame_by_frame(released, images):
    path = next((released / "brightness").rglob("*.mp4"))
    frames = read_video(path)
    assert frames.shape == (31, 3, 224, 224) and frames.dtype == np.uint8
    original = P.sequence(images, "brightness").numpy()
    best = min(np.abs(frames.astype(int) - o.astype(int)).mean() for o in original)
    assert best < 6, f"the decoded frames should be the written ones up to mp4v's loss (mean |diff| {best:.2f})"


def test_bad_videos_are_named(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(DataError, match="junk.mp4"):
        read_video(junk)
    good = tmp_path / "good.mp4"
    write_video(good, np.zeros((5, 3, 224, 224), dtype=np.uint8))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(DataError, match="cut.mp4"):
        read_video(cut)
    small = tmp_path / "small.mp4"
    write_video(small, np.zeros((5, 3, 96, 96), dtype=np.uint8))
    with pytest.raises(DataError, match="96x96 frames; ImageNet-P frames are 224x224"):
        read_video(small)
    single = tmp_path / "single.mp4"
    write_video(single, np.zeros((1, 3, 224, 224), dtype=np.uint8))
    with pytest.raises(DataError, match="1 decodable frame.*at least 2"):
        read_video(single)


def test_suite_runs_on_a_released_folder(released, data_dir, tmp_path):
    out = run_suite("test_imagenet_p.py", "-m", "imagenet_p", f"--imagenet-p={released}", "-k",
                    "gaussian_noise or brightness or rotate or mean_flip", data_dir=data_dir, tmp_path=tmp_path)
    assert "imagenet_p.flip_probability" in out and "perturbation=gaussian_noise" in out and "data=released" in out
    assert "rotate is missing" in out
