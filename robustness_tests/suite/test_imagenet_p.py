"""ImageNet-P (Hendrycks & Dietterich 2019): prediction stability along perturbation sequences.

The paper: WSL models flip their predictions less often (mean flip probability 0.036-0.049 vs 0.062) and
have smaller top-5 distances (1.47-1.59 vs 2.01) than the ImageNet-trained ResNeXt. Flip probability and
top-5 distance follow ImageNet-P's test.py (noise sequences compared with frame 0, the others frame to
frame at the difficulty's stride; top-5 distance from ordinal ranks). mFR / mT5D need AlexNet's
constants, which are not public in readable form: they are reported relative to --imagenet-p-baseline.
"""

import pytest

from robustness_tests import metrics

pytestmark = pytest.mark.imagenet_p

PERTURBATIONS = metrics.IMAGENET_P_PERTURBATIONS
HELD_OUT = metrics.IMAGENET_P_HELD_OUT
NOISE = metrics.IMAGENET_P_NOISE


def _per_sequence(measure_sequences, model, source, perturbation, difficulty):
    """(flip rate per sequence, top-5 distance per sequence, dataset, cached), or a skip."""
    why = source.missing(perturbation, difficulty)
    if why:
        pytest.skip(why)
    entry, dataset = measure_sequences(model, source, perturbation, difficulty)
    noise = perturbation in NOISE
    return (metrics.flip_rates(entry.arrays["pred"], noise, difficulty),
            metrics.top5_distances(entry.arrays["top5"], noise, difficulty), dataset, entry.cached)


def _context(source, difficulty):
    return {"data": source.kind, "difficulty": difficulty}


@pytest.mark.parametrize("perturbation", PERTURBATIONS + HELD_OUT)
def test_flip_probability(perturbation, robust_model, imagenet_p, measure_sequences, claims, rt_config):
    d = rt_config.imagenet_p_difficulty
    flips, _, dataset, cached = _per_sequence(measure_sequences, robust_model, imagenet_p, perturbation, d)
    claims.check("imagenet_p.flip_probability", metrics.mean_over_sequences(flips, claims.confidence),
                 dataset=dataset, cached=cached, per_image={f"sequence:{perturbation}": flips}, details={"source": imagenet_p.describe()},
                 perturbation=perturbation, **_context(imagenet_p, d))


@pytest.mark.parametrize("perturbation", PERTURBATIONS + HELD_OUT)
def test_top5_distance(perturbation, robust_model, imagenet_p, measure_sequences, claims, rt_config):
    d = rt_config.imagenet_p_difficulty
    _, distances, dataset, cached = _per_sequence(measure_sequences, robust_model, imagenet_p, perturbation, d)
    claims.check("imagenet_p.top5_distance", metrics.mean_over_sequences(distances, claims.confidence),
                 dataset=dataset, cached=cached, per_image={f"sequence:{perturbation}": distances}, details={"source": imagenet_p.describe()},
                 perturbation=perturbation, **_context(imagenet_p, d))


def _all(measure_sequences, model, source, difficulty):
    out = {p: _per_sequence(measure_sequences, model, source, p, difficulty) for p in PERTURBATIONS}
    if len({len(v[0]) for v in out.values()}) != 1:
        pytest.skip("the perturbations hold different numbers of sequences; means need the same images")
    return out


def _mean_estimate(per, index, confidence):
    import numpy as np

    stacked = np.stack([v[index] for v in per.values()], axis=1)  # [sequences, perturbations]
    return metrics.bootstrap(lambda a: float(a.mean(0).mean()), stacked, confidence=confidence)


@pytest.mark.parametrize(("metric", "index"), [("imagenet_p.mean_flip_probability", 0),
                                              ("imagenet_p.mean_top5_distance", 1)])
def test_mean_over_perturbations(metric, index, robust_model, imagenet_p, measure_sequences, claims, rt_config):
    d = rt_config.imagenet_p_difficulty
    per = _all(measure_sequences, robust_model, imagenet_p, d)
    first = next(iter(per.values()))
    claims.check(metric, _mean_estimate(per, index, claims.confidence), dataset=first[2],
                 cached=all(v[3] for v in per.values()), per_image={f"sequence:{p}": v[index] for p, v in per.items()},
                 details={"per_perturbation": {p: float(v[index].mean()) for p, v in per.items()},
                          "source": imagenet_p.describe()}, **_context(imagenet_p, d))


@pytest.mark.parametrize(("metric", "index"), [("imagenet_p.mfr", 0), ("imagenet_p.mt5d", 1)])
def test_relative_to_baseline(metric, index, robust_model, imagenet_p, imagenet_p_baseline, measure_sequences,
                              claims, rt_config):
    if imagenet_p_baseline is None:
        pytest.skip("mFR / mT5D need a baseline measured on the same sequences: --imagenet-p-baseline NAME "
                    "(AlexNet's ImageNet-P constants are not public in readable form)")
    d = rt_config.imagenet_p_difficulty
    model = _all(measure_sequences, robust_model, imagenet_p, d)
    base = _all(measure_sequences, imagenet_p_baseline, imagenet_p, d)
    estimate = metrics.ratio_over_sequences({p: v[index] for p, v in model.items()},
                                            {p: v[index] for p, v in base.items()}, claims.confidence)
    first = next(iter(model.values()))
    claims.check(metric, estimate, dataset=first[2], cached=all(v[3] for v in model.values()),
                 normalizer=imagenet_p_baseline.name, **_context(imagenet_p, d))
