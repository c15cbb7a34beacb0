"""Shape vs texture on Geirhos et al.'s cue-conflict stimuli (CC BY 4.0).

The paper: WSL models are more shape-biased than the ImageNet-trained baseline, yet far below the
human shape bias (0.958). Images are used as they are (224x224, no resize); both decision rules
come from one stored forward pass.
"""

import pytest

from robustness_tests import metrics
from robustness_tests.data.cue_conflict import ATTRIBUTION, CATEGORIES, RULES, categories_of

pytestmark = pytest.mark.shape_bias

BASELINE = "resnext101_32x8d"  # the paper's ImageNet-trained baseline


def _decisions(measure, model, stimuli):
    from robustness_tests.shape_bias import measure_decisions  # torch: not at collection

    return measure_decisions(measure, model, stimuli)


@pytest.mark.parametrize("rule", RULES)
def test_shape_bias(rule, robust_model, cue_conflict, measure, claims, rt_config):
    entry = _decisions(measure, robust_model, cue_conflict)
    shape, texture = categories_of(cue_conflict)
    decisions = entry.arrays[f"decision_{rule}"]
    details = {"per_category": metrics.shape_bias_per_category(decisions, shape, texture, CATEGORIES),
               "attribution": ATTRIBUTION}
    estimate = metrics.shape_bias(decisions, shape, texture, claims.confidence, seed=rt_config.seed)
    claims.check("shape_bias.shape_bias", estimate, dataset=cue_conflict, cached=entry.cached, details=details,
                 per_image={"decision": decisions, "shape": shape, "texture": texture}, rule=rule)


@pytest.mark.parametrize("rule", RULES)
def test_shape_or_texture_decisions(rule, robust_model, cue_conflict, measure, claims):
    entry = _decisions(measure, robust_model, cue_conflict)
    shape, texture = categories_of(cue_conflict)
    estimate = metrics.decided_fraction(entry.arrays[f"decision_{rule}"], shape, texture, claims.confidence)
    claims.check("shape_bias.decided_fraction", estimate, dataset=cue_conflict, cached=entry.cached, rule=rule)


def _baseline_decisions(measure, cue_conflict, result_store, rt_device, rt_config):
    """The baseline's decisions: measured when its weights are here, else read from the store."""
    from robustness_tests import zoo
    from robustness_tests.errors import WeightsError

    try:
        baseline = zoo.load(BASELINE, device=rt_device, weights=rt_config.weights.get(BASELINE))
    except WeightsError as exc:
        stored = result_store.find(benchmark="shape_bias", model={"name": BASELINE},
                                   data=cue_conflict.identity(), seed=rt_config.seed)
        if stored is None:
            pytest.skip(f"the baseline {BASELINE} is neither loadable nor in the store: {exc}")
        return stored
    return _decisions(measure, baseline, cue_conflict)


@pytest.mark.parametrize("rule", RULES)
def test_more_shape_biased_than_the_baseline(rule, model_name, robust_model, cue_conflict, measure, claims,
                                             result_store, rt_device, rt_config):
    if model_name == BASELINE:
        pytest.skip(f"{BASELINE} is the baseline itself")
    ours = _decisions(measure, robust_model, cue_conflict).arrays[f"decision_{rule}"]
    theirs = _baseline_decisions(measure, cue_conflict, result_store, rt_device, rt_config).arrays[f"decision_{rule}"]
    shape, texture = categories_of(cue_conflict)
    gain = metrics.shape_bias_gain(ours, theirs, shape, texture, claims.confidence, seed=rt_config.seed)
    claims.check("shape_bias.gain_over_baseline", gain, dataset=cue_conflict, rule=rule, baseline=BASELINE)
