"""pytest glue: options, markers, fixtures, xdist device assignment, results.json and the summary.

No science lives here: measurements come from `evaluate`, numbers from `metrics`, verdicts from
`claims`. This module imports no torch at import time, so `pytest --help` stays fast and every
xdist worker can pick its GPU before CUDA initialises.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from .claims import ThresholdFile, load_thresholds, threshold_filename
from .config import DEFAULT_MODEL, RunConfig, parse_weights
from .errors import DataError, RobustnessTestsError, ThresholdError, UsageError

MARKERS = {
    "validation": "top-1 accuracy on ImageNet validation",
    "imagenet_c": "ImageNet-C corruption robustness (CE, mCE)",
    "imagenet_p": "ImageNet-P perturbation stability (flip probability, top-5 distance)",
    "imagenet_a": "ImageNet-A natural adversarial examples (accuracy, calibration)",
    "adversarial": "white-box PGD and black-box transfer attacks",
    "shape_bias": "shape vs texture decisions on cue-conflict stimuli",
    "cross_model": "claims that compare two models of the run (WSL vs the ImageNet baseline, larger vs smaller)",
    "slow": "long measurements; deselect with -m 'not slow'",
}
RECORD = "robustness_claim"  # user_properties name of a claim record (JSON text)

config_key = pytest.StashKey[RunConfig]()
thresholds_key = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("robustness", "robustness claims (robustness_tests)")
    add = group.addoption
    add("--model", action="append", dest="rt_models", metavar="NAME",
        help=f"model to test; repeatable. A registered name, timm:<name>, torchvision:<name> or "
             f"<module>:<callable> (default: {DEFAULT_MODEL})")
    add("--weights", action="append", dest="rt_weights", metavar="MODEL=PATH",
        help="load MODEL's weights from PATH (a state dict) instead of the caches; repeatable")
    add("--device", dest="rt_device", default="auto", metavar="DEVICE",
        help="auto (a GPU per xdist worker when there are GPUs, else CPU), cpu, cuda, cuda:N (default: auto)")
    add("--precision", dest="rt_precision", default="fp32", choices=("fp32", "bf16", "fp16"),
        help="autocast precision of the model's forward pass (default: fp32)")
    add("--batch-size", dest="rt_batch_size", type=int, default=64, metavar="N", help="images per batch (default: 64)")
    add("--seed", dest="rt_seed", type=int, default=0, metavar="N",
        help="seed from which every measurement derives its randomness (default: 0)")
    add("--subset", dest="rt_subset", type=int, default=None, metavar="N",
        help="use N images per benchmark, a deterministic subset stratified by class")
    add("--ci", dest="rt_ci", action="store_true",
        help="small per-benchmark subsets for CI (see robustness_tests.config.CI_SUBSETS)")
    add("--confidence", dest="rt_confidence", type=float, default=0.95, metavar="LEVEL",
        help="confidence level of the intervals behind verdicts (default: 0.95)")
    add("--thresholds-dir", dest="rt_thresholds_dir", default=None, metavar="DIR",
        help="folder of <model>.toml threshold files (default: <rootdir>/thresholds, else the bundled ones)")
    add("--report-dir", dest="rt_report_dir", default=None, metavar="DIR",
        help="write <DIR>/results.json with every claim record and the run's provenance")
    add("--data-dir", dest="rt_data_dir", default=None, metavar="DIR",
        help="root of a local data mirror (also $ROBUSTNESS_TESTS_DATA), e.g. ../shared/data")
    add("--imagenet-val", dest="rt_imagenet_val", default=None, metavar="DIR",
        help="ImageNet validation: <DIR>/<wnid>/*.JPEG, or flat with a labels file "
             "(default: <data-dir>/imagenet-val, then <data-dir>/imagenet-val-1300)")
    add("--surrogate", dest="rt_surrogate", default="resnext50_32x4d", metavar="NAME",
        help="model that crafts black-box (transfer) attacks (default: resnext50_32x4d, as in the paper)")
    add("--feature-vis-steps", dest="rt_feature_vis_steps", type=int, default=None, metavar="N",
        help="steps of the feature visualisation (default: the paper's 500; 10 under --ci)")
    add("--imagenet-a", dest="rt_imagenet_a", default=None, metavar="DIR",
        help="ImageNet-A: <DIR>/<wnid>/*.jpg over its 200 classes (default: <data-dir>/imagenet-a)")
    add("--imagenet-c", dest="rt_imagenet_c", default=None, metavar="DIR",
        help="released ImageNet-C: <DIR>/<corruption>/<1..5>/<wnid>/*.JPEG (default: generate the corruptions on "
             "the fly from ImageNet validation)")
    add("--imagenet-c-baseline", dest="rt_imagenet_c_baseline", default=None, metavar="NAME",
        help="normalise CE/mCE by this model measured on the same corrupted images instead of AlexNet's "
             "released-data constants (e.g. alexnet)")
    add("--imagenet-p", dest="rt_imagenet_p", default=None, metavar="DIR",
        help="released ImageNet-P: <DIR>/<perturbation>/<wnid>/*.mp4 (default: generate the sequences from "
             "ImageNet validation)")
    add("--imagenet-p-baseline", dest="rt_imagenet_p_baseline", default=None, metavar="NAME",
        help="report mFR / mT5D relative to this model measured on the same sequences")
    add("--imagenet-p-difficulty", dest="rt_imagenet_p_difficulty", type=int, default=1, choices=(1, 2, 3),
        help="noise level (noise perturbations) or frame stride (the others); the paper used 1")
    add("--imagenet-c-no-jpeg", dest="rt_imagenet_c_jpeg", action="store_false", default=True,
        help="generated ImageNet-C: skip the JPEG quality-85 round trip of the released data (a deviation)")
    add("--baseline-model", dest="rt_baseline_model", default=None, metavar="NAME",
        help="regression gate: measure NAME in this run too and compare every other model with it")
    add("--baseline-report", dest="rt_baseline_report", default=None, metavar="PATH",
        help="regression gate: compare with the records of an earlier results.json")
    add("--regression-margin", dest="rt_regression_margin", type=float, default=0.0, metavar="X",
        help="a claim regresses only when significantly worse by more than X (metric units; default 0)")
    add("--progress-interval", dest="rt_progress_interval", type=float, default=10.0, metavar="SECONDS",
        help="report images/s and time left of long measurements this often; 0 turns it off (default: 10)")
    add("--cache-dir", dest="rt_cache_dir", default=None, metavar="DIR",
        help="decoded images and stored results (also $ROBUSTNESS_TESTS_CACHE; default ~/.cache/robustness_tests)")


def _default_thresholds_dir(config: pytest.Config) -> Path:
    local = Path(config.rootpath) / "thresholds"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parent.parent / "thresholds"


def _run_config(config: pytest.Config) -> RunConfig:
    opt = config.getoption
    models = tuple(dict.fromkeys((opt("rt_models") or [DEFAULT_MODEL]) + [opt("rt_baseline_model")] * bool(
        opt("rt_baseline_model"))))
    from . import zoo  # torch-free at import

    weights = parse_weights(opt("rt_weights"))
    extra = tuple(n for n in (opt("rt_imagenet_c_baseline"), opt("rt_imagenet_p_baseline")) if n)
    for name in models + (opt("rt_surrogate"),) + extra + tuple(weights):
        zoo.check_name(name)
    path = lambda value: Path(value) if value else None  # noqa: E731
    return RunConfig(
        models=models,
        weights=weights,
        device=opt("rt_device"),
        precision=opt("rt_precision"),
        batch_size=opt("rt_batch_size"),
        seed=opt("rt_seed"),
        subset=opt("rt_subset"),
        ci=opt("rt_ci"),
        confidence=opt("rt_confidence"),
        thresholds_dir=path(opt("rt_thresholds_dir")) or _default_thresholds_dir(config),
        report_dir=path(opt("rt_report_dir")),
        data_dir=path(opt("rt_data_dir")),
        imagenet_val=path(opt("rt_imagenet_val")),
        imagenet_a=path(opt("rt_imagenet_a")),
        imagenet_c=path(opt("rt_imagenet_c")),
        imagenet_c_baseline=opt("rt_imagenet_c_baseline"),
        imagenet_c_jpeg=opt("rt_imagenet_c_jpeg"),
        imagenet_p=path(opt("rt_imagenet_p")),
        imagenet_p_baseline=opt("rt_imagenet_p_baseline"),
        imagenet_p_difficulty=opt("rt_imagenet_p_difficulty"),
        surrogate=opt("rt_surrogate"),
        feature_vis_steps=opt("rt_feature_vis_steps"),
        baseline_model=opt("rt_baseline_model"),
        baseline_report=path(opt("rt_baseline_report")),
        regression_margin=opt("rt_regression_margin"),
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "rt_cuda_visible_devices" in workerinput:
        # Before anything imports torch in this worker: it sees exactly its own GPU.
        os.environ["CUDA_VISIBLE_DEVICES"] = workerinput["rt_cuda_visible_devices"]
    if config.getoption("rt_cache_dir"):
        from .paths import set_cache_dir

        set_cache_dir(config.getoption("rt_cache_dir"))
    try:
        cfg = _run_config(config)
        if workerinput is None:
            from .devices import check_requested

            check_requested(cfg.device)
        thresholds = load_thresholds(cfg.thresholds_dir, list(cfg.models))
    except (UsageError, ThresholdError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[config_key] = cfg
    config.stash[thresholds_key] = thresholds
    from .paths import set_data_mirror

    set_data_mirror(cfg.mirror())
    if workerinput is None:
        config.pluginmanager.register(ResultsCollector(config, cfg, thresholds), "robustness-results")


def pytest_unconfigure(config: pytest.Config) -> None:
    relay = config.stash.get(progress_relay_key, None)
    if relay is not None:
        import shutil

        relay.stop()
        shutil.rmtree(relay.directory, ignore_errors=True)
    if config_key in config.stash:
        from .paths import set_data_mirror

        set_data_mirror(None)
    if config.getoption("rt_cache_dir"):
        from .paths import set_cache_dir

        set_cache_dir(None)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: one worker per visible GPU; without GPUs, xdist's own default (CPU count)."""
    from .devices import visible_gpus

    if (config.getoption("rt_device") or "auto") == "cpu":
        return None
    return len(visible_gpus() or []) or None


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`-n N` (dist "load" or "loadgroup"): keep each model's tests of one benchmark (one suite file) on
    one worker. A model's benchmarks spread over the workers (one GPU each), a model loads at most once
    per worker, and measurements that benchmarks share (the clean outcomes PGD starts from, say) are
    computed once through the store's locks; other tests are balanced one by one.

    Our own scheduler rather than xdist's loadgroup: with pytest >= 9.2 xdist 3.8 can no longer tag
    node ids with their xdist_group (it sets `item._nodeid`, which pytest now ignores), so loadgroup
    silently degrades to load.
    """
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    models = config.stash[config_key].models

    class ModelScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            params = nodeid.rpartition("[")[2].rstrip("]").split("-") if nodeid.endswith("]") else []
            for model in models:
                if model in params:
                    return f"model:{model}:{nodeid.partition('::')[0]}"
            return nodeid

    return ModelScheduling(config, log)


progress_relay_key = pytest.StashKey[Any]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Controller side: give worker gwN the GPU N mod (visible GPUs), honouring CUDA_VISIBLE_DEVICES;
    and a folder where it leaves its progress for the controller to print."""
    from .devices import visible_gpus, worker_gpu

    config = node.config
    interval = config.getoption("rt_progress_interval")
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if interval > 0 and terminal is not None:
        if progress_relay_key not in config.stash:
            import tempfile

            from .progress import ProgressRelay

            def write_line(line: str) -> None:
                # xdist's progress characters leave the cursor mid-line: start a line of our own
                if terminal._tw.width_of_current_line:
                    terminal._tw.line()
                terminal.write_line(line)

            config.stash[progress_relay_key] = ProgressRelay(tempfile.mkdtemp(prefix="rt-progress-"),
                                                             write_line, interval).start()
        node.workerinput["rt_progress_dir"] = str(config.stash[progress_relay_key].directory)

    device = node.config.getoption("rt_device") or "auto"
    if device not in ("auto", "cuda"):
        return  # cpu, or an explicit cuda:N the user wants every worker on
    gpus = visible_gpus()
    if gpus:
        index = int(str(node.gateway.id).removeprefix("gw"))
        node.workerinput["rt_cuda_visible_devices"] = worker_gpu(index, gpus)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "model_name" in metafunc.fixturenames:
        models = metafunc.config.stash[config_key].models
        metafunc.parametrize(
            "model_name",
            [pytest.param(m, id=m, marks=pytest.mark.xdist_group(m)) for m in models],
            scope="session",
        )
    if "other_model_name" in metafunc.fixturenames:  # cross-model claims: the model compared with
        models = metafunc.config.stash[config_key].models
        metafunc.parametrize("other_model_name", [pytest.param(m, id=f"vs:{m}") for m in models], scope="session")


# --------------------------------------------------------------------------------------------------
# Fixtures


def _fail(exc: Exception) -> None:
    """Fail the test with the library's message alone: it already names the file, value and fix."""
    raise pytest.fail.Exception(f"{type(exc).__name__}: {exc}", pytrace=False) from None


@pytest.fixture(scope="session")
def rt_config(pytestconfig: pytest.Config) -> RunConfig:
    """The run's parsed options."""
    return pytestconfig.stash[config_key]


@pytest.fixture(scope="session")
def rt_device(rt_config: RunConfig) -> str:
    """This worker's torch device."""
    from .devices import resolve

    try:
        return resolve(rt_config.device)
    except UsageError as exc:
        _fail(exc)


@pytest.fixture(scope="session")
def run_settings(rt_config: RunConfig, rt_device: str):
    from .evaluate import Settings

    return Settings(device=rt_device, precision=rt_config.precision, batch_size=rt_config.batch_size,
                    seed=rt_config.seed)


@pytest.fixture(scope="session")
def result_store():
    from .store import ResultStore

    return ResultStore()


@pytest.fixture(scope="session")
def robust_model(model_name: str, rt_config: RunConfig, rt_device: str):
    """The model under test, loaded once per worker (tests of one model share a worker)."""
    return _load_model(model_name, rt_config, rt_device)


def _load_model(name: str, rt_config: RunConfig, rt_device: str):
    """`name` with its --weights override on the run's device; a failure fails the test with the fix."""
    from . import zoo

    try:
        return zoo.load(name, device=rt_device, weights=rt_config.weights.get(name))
    except RobustnessTestsError as exc:
        _fail(exc)


def _local_root(candidates: list[Path], what: str, option: str, folders: str) -> Path:
    """The first existing candidate folder, or a skip that names the option or variable to set."""
    root = next((p for p in candidates if p.exists()), None)
    if root is None:
        looked = ", ".join(str(p) for p in candidates) or "nowhere"
        pytest.skip(f"{what} not found (looked in: {looked}). Set {option} DIR, or --data-dir DIR / "
                    f"ROBUSTNESS_TESTS_DATA to a mirror holding {folders}.")
    return root


@pytest.fixture(scope="session")
def imagenet_val(rt_config: RunConfig):
    """ImageNet validation (subset per --subset / --ci), or a skip that says how to provide it."""
    from .data.imagenet import load_imagenet_val

    root = _local_root(rt_config.imagenet_val_candidates(), "ImageNet validation", "--imagenet-val",
                       "imagenet-val/ or imagenet-val-1300/")
    try:
        dataset = load_imagenet_val(root)
        return dataset.take(rt_config.subset_for("validation"), seed=rt_config.seed)
    except RobustnessTestsError as exc:
        _fail(exc)


@pytest.fixture(scope="session")
def figures_dir(rt_config: RunConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where tests write their figures: the report directory, else a temporary one."""
    return rt_config.report_dir if rt_config.report_dir is not None else tmp_path_factory.mktemp("figures")


@pytest.fixture(scope="session")
def adversarial_images(rt_config: RunConfig, imagenet_val):
    """The validation images attacked (the paper attacked every other one): --subset / --ci of them."""
    n = rt_config.subset_for("adversarial")
    if n is None or n >= len(imagenet_val):
        return imagenet_val
    return imagenet_val.take(n, seed=rt_config.seed)


@pytest.fixture(scope="session")
def surrogate_model(rt_config: RunConfig, rt_device: str):
    """The black-box attacks' surrogate, or a skip naming --surrogate when its weights are missing."""
    from . import zoo
    from .errors import WeightsError

    try:
        return zoo.load(rt_config.surrogate, device=rt_device, weights=rt_config.weights.get(rt_config.surrogate))
    except WeightsError as exc:
        pytest.skip(f"surrogate {rt_config.surrogate} unavailable (choose another with --surrogate): {exc}")
    except RobustnessTestsError as exc:
        _fail(exc)


@pytest.fixture(scope="session")
def imagenet_c(rt_config: RunConfig, request: pytest.FixtureRequest):
    """ImageNet-C: the released JPEGs (--imagenet-c) or corruptions generated from ImageNet validation."""
    from .imagenet_c import ImageNetC

    try:
        if rt_config.imagenet_c is not None:
            return ImageNetC.released(rt_config.imagenet_c, subset=rt_config.subset_for("imagenet_c"),
                                      seed=rt_config.seed)
        clean = request.getfixturevalue("imagenet_val")
        return ImageNetC.generated(clean.take(rt_config.subset_for("imagenet_c"), seed=rt_config.seed),
                                   seed=rt_config.seed, jpeg_quality=85 if rt_config.imagenet_c_jpeg else None)
    except RobustnessTestsError as exc:
        _fail(exc)


@pytest.fixture(scope="session")
def imagenet_c_baseline(rt_config: RunConfig, rt_device: str):
    """The model that normalises CE (--imagenet-c-baseline), or None for AlexNet's constants."""
    name = rt_config.imagenet_c_baseline
    return None if name is None else _load_model(name, rt_config, rt_device)


@pytest.fixture(scope="session")
def imagenet_p(rt_config: RunConfig, request: pytest.FixtureRequest):
    """ImageNet-P: the released videos (--imagenet-p) or sequences generated from ImageNet validation."""
    from .imagenet_p import ImageNetP

    if rt_config.imagenet_p is not None:
        if not rt_config.imagenet_p.is_dir():
            _fail(DataError(f"--imagenet-p {rt_config.imagenet_p} is not a folder; expected "
                            "<DIR>/<perturbation>/<wnid>/*.mp4"))
        return ImageNetP("released", root=rt_config.imagenet_p, subset=rt_config.subset_for("imagenet_p"),
                         seed=rt_config.seed)
    clean = request.getfixturevalue("imagenet_val")
    return ImageNetP("generated", clean=clean.take(rt_config.subset_for("imagenet_p"), seed=rt_config.seed),
                     seed=rt_config.seed)


@pytest.fixture(scope="session")
def imagenet_p_baseline(rt_config: RunConfig, rt_device: str):
    """The model mFR / mT5D are relative to (--imagenet-p-baseline), or None."""
    name = rt_config.imagenet_p_baseline
    return None if name is None else _load_model(name, rt_config, rt_device)


@pytest.fixture(scope="session")
def other_model(other_model_name: str, rt_config: RunConfig, rt_device: str):
    """The other model of a cross-model claim, loaded once per worker."""
    return _load_model(other_model_name, rt_config, rt_device)


@pytest.fixture
def measure_sequences(request: pytest.FixtureRequest, result_store, run_settings):
    """`measure_sequences(model, source, perturbation, difficulty)`: per-frame outcomes, stored."""
    from .imagenet_p import measure_sequences as measure

    def run(model, source, perturbation, difficulty):
        progress = _progress(request.config, f"{model.name} imagenet_p {perturbation}")
        try:
            return measure(result_store, model, source, perturbation, difficulty, run_settings, progress=progress)
        except RobustnessTestsError as exc:
            _fail(exc)

    return run


@pytest.fixture(scope="session")
def cue_conflict(rt_config: RunConfig):
    """The 1200 cue-conflict stimuli: from the mirror, the cache, or fetched once with checksums."""
    from .data.cue_conflict import CUE_CONFLICT, load_cue_conflict
    from .data.sources import materialize
    from .errors import FetchError

    try:
        root = materialize(CUE_CONFLICT, rt_config.mirror())
        return load_cue_conflict(root).take(rt_config.subset_for("shape_bias"), seed=rt_config.seed)
    except FetchError as exc:
        pytest.skip(f"cue-conflict stimuli unavailable: {exc}")
    except RobustnessTestsError as exc:
        _fail(exc)


@pytest.fixture(scope="session")
def imagenet_a(rt_config: RunConfig):
    """ImageNet-A (subset per --subset / --ci), or a skip that says how to provide it."""
    from .data.classes import wnids
    from .data.imagenet import load_class_folders
    from .imagenet_a import INDICES_IN_1K

    root = _local_root(rt_config.imagenet_a_candidates(), "ImageNet-A", "--imagenet-a", "imagenet-a/")
    try:
        dataset = load_class_folders(root, name="imagenet-a", allowed={wnids()[i] for i in INDICES_IN_1K},
                                     full_size=7500, what="one of ImageNet-A's 200 classes")
        return dataset.take(rt_config.subset_for("imagenet_a"), seed=rt_config.seed)
    except RobustnessTestsError as exc:
        _fail(exc)


def _progress(config: pytest.Config, label: str):
    """Where a measurement reports its progress: the terminal, the controller (xdist), or nowhere."""
    from .progress import FileProgress, TerminalProgress

    interval = config.getoption("rt_progress_interval")
    if interval <= 0:
        return None
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        directory = workerinput.get("rt_progress_dir")
        return FileProgress(directory, workerinput["workerid"], label, interval) if directory else None
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    return TerminalProgress(terminal, label, interval) if terminal is not None else None


@pytest.fixture
def measure(request: pytest.FixtureRequest, result_store, run_settings, rt_device):
    """`measure(model, dataset, benchmark=..., ...)`: per-image outcomes from the store or measured now."""
    from . import evaluate

    def run(model, dataset, **kwargs):
        if "progress" not in kwargs:
            kwargs["progress"] = _progress(request.config, f"{model.name} {kwargs.get('benchmark', '')}")
        try:
            return evaluate.measure(result_store, model, dataset, run_settings, **kwargs)
        except RobustnessTestsError as exc:
            _fail(exc)

    return run


class ClaimChecker:
    """Judges a measurement against the model's claims and attaches the records to the test report."""

    def __init__(self, node: pytest.Item, model: str, thresholds: ThresholdFile | None, cfg: RunConfig,
                 device: str):
        self.node, self.model, self.thresholds, self.cfg, self.device = node, model, thresholds, cfg, device

    @property
    def confidence(self) -> float:
        return self.cfg.confidence

    def _attach(self, record: dict[str, Any]) -> None:
        record.setdefault("device", self.device)
        record["test"] = self.node.nodeid
        record["worker"] = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.node.user_properties.append((RECORD, json.dumps(record, default=str)))

    def has(self, metric: str, **context: Any) -> bool:
        """Whether any claim of this model on `metric` applies to `context` (to skip costly work early)."""
        return bool(self.thresholds and self.thresholds.select(metric, **context))

    def check(self, metric: str, estimate, *, dataset=None, cached: bool | None = None,
              details: dict[str, Any] | None = None, per_image=None, **context: Any) -> None:
        """Evaluate every claim on `metric` that applies to `context`; fail if any is violated.

        With no applicable claim the measurement is still recorded, and the test is skipped with
        the measured value, so a new model's numbers land in results.json.
        """
        from .devices import describe

        extra: dict[str, Any] = {"cached": cached, "device": describe(self.device)}
        if details:
            extra["details"] = details
        if per_image is not None:  # for paired regression tests against a baseline model
            from .gating import pack_arrays

            extra["per_image"] = pack_arrays(per_image if isinstance(per_image, dict) else {"correct": per_image})
        if dataset is not None:
            extra["dataset"] = {"name": dataset.name, "n": len(dataset), "full_size": dataset.full_size,
                                "subset": dataset.subset or None, "fingerprint": dataset.fingerprint()}
            context.setdefault("dataset", dataset.name)
        extra["context"] = dict(context)
        claims = self.thresholds.select(metric, **context) if self.thresholds else []
        if not claims:
            e = estimate
            self._attach({"model": self.model, "claim": None, "metric": metric, "value": e.value,
                          "ci_low": e.ci_low, "ci_high": e.ci_high, "n": e.n, "confidence": e.confidence,
                          "interval_method": e.method, "op": None, "bound": None, "published": None,
                          "verdict": "measured", "params": {}, **extra})
            where = self.thresholds.path if self.thresholds else self.cfg.thresholds_dir / threshold_filename(self.model)
            pytest.skip(f"no claim on {metric} for {context} in {where}; measured {estimate}")
        results = [claim.evaluate(estimate, **extra) for claim in claims]
        for result in results:
            self._attach(result.record())
        violated = [r for r in results if r.verdict == "violated"]
        if violated:
            pytest.fail("\n\n".join(r.message() for r in violated), pytrace=False)


@pytest.fixture
def claims(request: pytest.FixtureRequest, model_name: str, rt_config: RunConfig, rt_device: str) -> ClaimChecker:
    """`claims.check(metric, estimate, dataset=...)` for the model under test."""
    thresholds = request.config.stash[thresholds_key].get(model_name)
    return ClaimChecker(request.node, model_name, thresholds, rt_config, rt_device)


# --------------------------------------------------------------------------------------------------
# The controller: collect records from every worker, write results.json, print the summary


def _read_baseline_report(cfg: RunConfig) -> tuple[str, list[dict[str, Any]]]:
    """(baseline model name, its records) from --baseline-report, or a usage error saying what is wrong."""
    path = cfg.baseline_report
    try:
        doc = json.loads(path.read_text())
        records = doc["claims"]
        names = sorted({r["model"] for r in records})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise pytest.UsageError(
            f"--baseline-report {path}: not a readable results.json ({type(exc).__name__}: {exc})") from None
    name = cfg.baseline_model or (names[0] if len(names) == 1 else None)
    if name is None or name not in names:
        raise pytest.UsageError(f"--baseline-report {path} holds models {names}: choose the baseline with "
                                "--baseline-model NAME")
    if not any(r.get("per_image") for r in records if r["model"] == name):
        raise pytest.UsageError(f"--baseline-report {path}: the records of {name} carry no per-image outcomes "
                                "(written by an older version?); re-run the baseline to pair claims")
    return name, records


class ResultsCollector:
    def __init__(self, config: pytest.Config, cfg: RunConfig, thresholds: dict[str, ThresholdFile | None]):
        self.config, self.cfg, self.thresholds = config, cfg, thresholds
        self.records: list[dict[str, Any]] = []
        self.comparisons: list = []
        self.baseline_report = _read_baseline_report(cfg) if cfg.baseline_report is not None else None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == RECORD:
                self.records.append(json.loads(value) if isinstance(value, str) else value)

    def _unused(self) -> list[str]:
        used = {(r["model"], r["claim"]) for r in self.records}
        return [
            f"{model}/{cid} ({claim.metric})"
            for model, tf in self.thresholds.items() if tf is not None
            for cid, claim in tf.claims.items() if (model, cid) not in used
        ]

    def _baseline(self) -> tuple[str, list[dict[str, Any]]] | None:
        if self.baseline_report is not None:
            return self.baseline_report
        if self.cfg.baseline_model is not None:
            return self.cfg.baseline_model, self.records
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        baseline = self._baseline()
        if baseline is not None:
            from .gating import compare

            name, records = baseline
            self.comparisons = compare(self.records, records, baseline=name, margin=self.cfg.regression_margin,
                                       confidence=self.cfg.confidence)
            if any(c.regressed for c in self.comparisons):
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.cfg.report_dir is None:
            return
        from .report import provenance, render_report, write_results

        settings = {"models": list(self.cfg.models), "device": self.cfg.device, "precision": self.cfg.precision,
                    "batch_size": self.cfg.batch_size, "subset": self.cfg.subset, "ci": self.cfg.ci,
                    "confidence": self.cfg.confidence, "thresholds_dir": str(self.cfg.thresholds_dir),
                    "unused_claims": self._unused()}
        prov = provenance(self.records, seed=self.cfg.seed, rootdir=Path(self.config.rootpath), settings=settings)
        comparisons = [c.to_dict() for c in self.comparisons]
        write_results(self.cfg.report_dir / "results.json", self.records, prov, comparisons=comparisons)
        render_report(self.cfg.report_dir)
        if os.environ.get("GITHUB_STEP_SUMMARY"):  # a CI job summary, where the CI offers one
            with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
                fh.write((self.cfg.report_dir / "summary.md").read_text() + "\n")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.records:
            return
        from .report import summary_lines

        tr = terminalreporter
        tr.write_sep("=", "robustness claims")
        for line in summary_lines(self.records):
            tr.write_line(line)
        unused = self._unused()
        if unused:
            tr.write_line(f"claims not evaluated in this run ({len(unused)}): " + ", ".join(unused[:8])
                          + (" ..." if len(unused) > 8 else ""))
        if self.comparisons:
            regressed = [c for c in self.comparisons if c.regressed]
            tr.write_sep("=", f"regression gate: {len(regressed)} of {len(self.comparisons)} paired claims regressed",
                         red=bool(regressed), green=not regressed)
            for c in self.comparisons:
                tr.write_line(("REGRESSED  " if c.regressed else "ok         ") + c.line())
        if self.cfg.report_dir is not None:
            tr.write_line(f"results: {self.cfg.report_dir / 'results.json'}")
