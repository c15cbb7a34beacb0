"""The paper's cross-model claims, as tests over the models of one run (`--model A --model B ...`).

- WSL models beat the ImageNet-trained baseline on ImageNet-C, ImageNet-P, ImageNet-A and shape bias;
- their relative gains on ImageNet-C/P/A exceed their relative gain in clean accuracy;
- larger WSL models have lower mCE.

Each is a claim of the model's threshold file on `cross.gain` or `cross.relative_gain_excess` with
`params = { benchmark = ..., baseline = <other model> }`; the test runs for every other model of the run
and skips at once where no claim names it. Both models' per-image outcomes come through the store, so
measurements made by the per-benchmark tests (on any worker) are reused, and a paired bootstrap over the
shared images gives the interval.
"""

import pytest

from robustness_tests import metrics

pytestmark = pytest.mark.cross_model

BENCHMARKS = ("imagenet_c", "imagenet_p", "imagenet_a", "shape_bias")
LOWER_IS_BETTER = {"imagenet_c": True, "imagenet_p": True, "imagenet_a": False, "shape_bias": False,
                   "validation": True}


def _per_image(benchmark, model, request, measure, rt_config):
    """(per-image arrays, statistic(arrays) -> headline value) for one model on one benchmark."""
    import numpy as np

    if benchmark == "imagenet_c":
        from robustness_tests.imagenet_c import severity_wrong

        source = request.getfixturevalue("imagenet_c")
        names = metrics.IMAGENET_C_CORRUPTIONS
        gaps = [why for c in names for s in range(1, 6) if (why := source.missing(c, s))]
        if gaps:
            pytest.skip(f"ImageNet-C is incomplete: {gaps[0]}")
        counts = np.stack([severity_wrong(measure, model, source, c)[0].sum(axis=1) for c in names],
                          axis=1)  # [images, 15]: severities wrong
        alexnet = np.array([5 * np.mean(metrics.ALEXNET_IMAGENET_C_ERRORS[c]) for c in names])
        return (counts,), lambda a: 100.0 * float(np.mean(a.mean(axis=0) / alexnet))
    if benchmark == "imagenet_p":
        source = request.getfixturevalue("imagenet_p")
        measure_sequences = request.getfixturevalue("measure_sequences")
        d = rt_config.imagenet_p_difficulty
        rates = []
        for p in metrics.IMAGENET_P_PERTURBATIONS:
            if why := source.missing(p, d):
                pytest.skip(why)
            entry, _ = measure_sequences(model, source, p, d)
            rates.append(metrics.flip_rates(entry.arrays["pred"], p in metrics.IMAGENET_P_NOISE, d))
        return (np.stack(rates, axis=1),), lambda a: float(a.mean())
    if benchmark == "imagenet_a":
        from robustness_tests.imagenet_a import imagenet_a_outcomes

        entry = measure(model, request.getfixturevalue("imagenet_a"), benchmark="imagenet_a",
                        outcomes=imagenet_a_outcomes)
        return (entry.arrays["correct"].astype(float),), lambda a: 100.0 * float(a.mean())
    if benchmark == "shape_bias":
        from robustness_tests.data.cue_conflict import categories_of
        from robustness_tests.shape_bias import measure_decisions

        stimuli = request.getfixturevalue("cue_conflict")
        entry = measure_decisions(measure, model, stimuli)
        shape, texture = categories_of(stimuli)
        arrays = (entry.arrays["decision_max"], np.asarray(shape), np.asarray(texture))
        return arrays, lambda d, s, t: metrics.shape_bias_value(d, s, t)
    # validation: clean top-1 error
    entry = measure(model, request.getfixturevalue("imagenet_val"), benchmark="validation")
    return (entry.arrays["correct"].astype(float),), lambda a: 100.0 * (1.0 - float(a.mean()))


def _both(benchmark, robust_model, other_model, request, measure, rt_config):
    ours, stat = _per_image(benchmark, robust_model, request, measure, rt_config)
    theirs, _ = _per_image(benchmark, other_model, request, measure, rt_config)
    if len(ours[0]) != len(theirs[0]):
        pytest.skip(f"{benchmark}: the two models were measured on different images")
    return ours, theirs, stat


def _gain_statistic(benchmark, stat, k):
    """Gain of the model (first k arrays) over the other (the rest), positive = better."""
    sign = -1.0 if LOWER_IS_BETTER[benchmark] else 1.0
    return lambda *a: sign * (stat(*a[:k]) - stat(*a[k:]))


@pytest.mark.parametrize("benchmark", BENCHMARKS)
def test_gain_over_another_model(benchmark, robust_model, other_model_name, request, measure, claims, rt_config):
    context = {"benchmark": benchmark, "baseline": other_model_name}
    if other_model_name == robust_model.name:
        pytest.skip("a model is not compared with itself")
    if not claims.has("cross.gain", **context):
        pytest.skip(f"no cross.gain claim of {robust_model.name} names {other_model_name} on {benchmark}")
    other = request.getfixturevalue("other_model")
    ours, theirs, stat = _both(benchmark, robust_model, other, request, measure, rt_config)
    value, draws = metrics.bootstrap_draws(_gain_statistic(benchmark, stat, len(ours)), *ours, *theirs,
                                           n_resamples=1000, seed=rt_config.seed)
    details = {"model_value": stat(*ours), "baseline_value": stat(*theirs)}
    try:
        estimate = metrics.estimate_from_draws(value, draws, claims.confidence)
    except ValueError as exc:
        pytest.skip(f"{benchmark}: {exc}")
    claims.check("cross.gain", estimate, details=details, **context)


@pytest.mark.parametrize("benchmark", ("imagenet_c", "imagenet_p", "imagenet_a"))
def test_relative_gain_exceeds_clean_gain(benchmark, robust_model, other_model_name, request, measure, claims,
                                          rt_config):
    """(baseline - model) / baseline on the benchmark's error-like headline (ImageNet-A: 100 - accuracy),
    minus the same for clean top-1 error; the two image sets are resampled independently."""
    context = {"benchmark": benchmark, "baseline": other_model_name}
    if other_model_name == robust_model.name:
        pytest.skip("a model is not compared with itself")
    if not claims.has("cross.relative_gain_excess", **context):
        pytest.skip(f"no cross.relative_gain_excess claim of {robust_model.name} names {other_model_name} on "
                     f"{benchmark}")
    other = request.getfixturevalue("other_model")

    def relative(bench):
        ours, theirs, stat = _both(bench, robust_model, other, request, measure, rt_config)
        k = len(ours)
        as_error = (lambda v: 100.0 - v) if bench == "imagenet_a" else (lambda v: v)

        def rel(*a):
            mine, base = as_error(stat(*a[:k])), as_error(stat(*a[k:]))
            return (base - mine) / base if base else 0.0

        return metrics.bootstrap_draws(rel, *ours, *theirs, n_resamples=1000, seed=rt_config.seed)

    robust_value, robust_draws = relative(benchmark)
    clean_value, clean_draws = relative("validation")
    try:
        estimate = metrics.estimate_from_draws(robust_value - clean_value, robust_draws - clean_draws,
                                               claims.confidence)
    except ValueError as exc:
        pytest.skip(f"{benchmark}: {exc}")
    claims.check("cross.relative_gain_excess", estimate,
                 details={"relative_gain": robust_value, "clean_relative_gain": clean_value}, **context)
