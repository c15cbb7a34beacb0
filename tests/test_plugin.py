"""The pytest plugin, end to end with pytester: real suite, real model, real images.

Runs both without xdist and with `-n 2`. Measurements use small subsets so each run takes seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import robustness_tests

# pytester's in-process runs drop modules first imported inside them; a re-imported torch
# crashes. Import everything heavy the suite uses before any in-process run.
import robustness_tests.evaluate  # noqa: E402,F401  (torch, torchvision, PIL, scipy)
import robustness_tests.zoo  # noqa: E402,F401
import timm  # noqa: E402,F401
import efficientnet_lite_pytorch  # noqa: E402,F401
import scipy.stats  # noqa: E402,F401

SUITE = Path(robustness_tests.__file__).resolve().parent / "suite"
VALIDATION = str(SUITE / "test_validation.py")
REPO_THRESHOLDS = Path(__file__).resolve().parent.parent / "thresholds"


@pytest.fixture
def common(data_dir: Path, tmp_path: Path) -> list[str]:
    """Options every run here shares: the data mirror, a private cache, a report directory."""
    return [f"--data-dir={data_dir}", f"--cache-dir={tmp_path / 'cache'}", f"--report-dir={tmp_path / 'report'}",
            "-p", "no:cacheprovider"]


def results(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "report" / "results.json").read_text())


def run_suite(suite_file: str, *args: str, data_dir: Path, tmp_path: Path) -> str:
    """Run one suite file in a fresh interpreter (private cache, skip reasons shown); its stdout, after
    checking the run passed."""
    cmd = [sys.executable, "-m", "pytest", str(SUITE / suite_file), f"--data-dir={data_dir}",
           f"--cache-dir={tmp_path / 'cache'}", "-p", "no:cacheprovider", "-q", "-rs", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc.stdout


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_help_shows_one_option_group_and_imports_no_torch():
    proc = run_python("""
        import sys, pytest
        pytest.main(["--help", "-p", "no:cacheprovider"])
        print("TORCH_IMPORTED", "torch" in sys.modules)
    """)
    out = proc.stdout
    assert "TORCH_IMPORTED False" in out
    group = out[out.index("robustness claims (robustness_tests):"):]
    for option in ("--model=NAME", "--device=DEVICE", "--precision={fp32,bf16,fp16}", "--batch-size=N", "--seed=N",
                   "--subset=N", "--ci", "--confidence=LEVEL", "--thresholds-dir=DIR", "--report-dir=DIR",
                   "--data-dir=DIR", "--imagenet-val=DIR"):
        assert option in group, option


def test_collection_imports_no_torch(data_dir):
    proc = run_python(f"""
        import sys, pytest
        pytest.main(["--collect-only", "-q", {str(SUITE)!r}, "--data-dir={data_dir}", "-p", "no:cacheprovider"])
        print("TORCH_IMPORTED", "torch" in sys.modules)
    """)
    assert "test_top1_accuracy[efficientnet_lite0]" in proc.stdout
    assert "TORCH_IMPORTED False" in proc.stdout


def test_markers_are_registered_and_strict(pytester: pytest.Pytester):
    result = pytester.runpytest("--markers")
    for marker in ("validation", "imagenet_c", "imagenet_p", "imagenet_a", "adversarial", "shape_bias", "slow"):
        result.stdout.fnmatch_lines([f"@pytest.mark.{marker}:*"])
    pytester.makepyfile("import pytest\n@pytest.mark.imagenet_x\ndef test_a(): pass\n")
    result = pytester.runpytest("--strict-markers")
    result.stdout.fnmatch_lines(["*'imagenet_x' not found in `markers` configuration option*"])


def test_validation_claim_end_to_end_and_second_run_reads_the_store(pytester, common, tmp_path):
    result = pytester.runpytest(VALIDATION, "--subset=40", *common)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*robustness claims*", "efficientnet_lite0*top1_val1300*validation.top1*",
                                 "verdicts: 0 violated, * consistent, * confirmed, 0 measured"])
    doc = results(tmp_path)
    assert doc["schema_version"] == 1
    (record,) = doc["claims"]
    for key in ("model", "claim", "metric", "value", "ci_low", "ci_high", "n", "op", "bound", "published", "verdict",
                "params", "device", "dataset"):
        assert key in record, key
    assert record["n"] == 40 and record["model"] == "efficientnet_lite0" and record["cached"] is False
    assert record["verdict"] in ("confirmed", "consistent") and record["ci_low"] <= record["value"] <= record["ci_high"]
    assert record["dataset"]["name"] == "imagenet-val-1300" and record["dataset"]["subset"]["n"] == 40
    prov = doc["provenance"]
    assert prov["seed"] == 0 and prov["packages"]["torch"] and prov["devices"][0].startswith("cpu")
    assert prov["datasets"] == [record["dataset"]]

    import jsonschema

    schema = json.loads((SUITE.parent / "results.schema.json").read_text())
    jsonschema.validate(doc, schema)  # the canonical format, versioned
    broken = {**doc, "claims": [{**record, "verdict": "maybe"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)

    again = pytester.runpytest(VALIDATION, "--subset=40", *common)
    again.assert_outcomes(passed=1)
    (cached,) = results(tmp_path)["claims"]
    assert cached["cached"] is True and cached["value"] == record["value"]


def test_xdist_two_workers_two_models(pytester, common, tmp_path):
    result = pytester.runpytest(VALIDATION, "-n", "2", "--subset=20", "--model", "efficientnet_lite0",
                                "--model", "efficientnet_lite1", *common)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*robustness claims*"])
    records = results(tmp_path)["claims"]
    assert sorted(r["model"] for r in records) == ["efficientnet_lite0", "efficientnet_lite1"]
    assert all(r["n"] == 20 for r in records)
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["index.html", "results.json", "summary.md"]
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "## efficientnet_lite0" in summary and "## efficientnet_lite1" in summary and "| validation |" in summary
    assert {r["worker"] for r in records} <= {"gw0", "gw1"}


def test_xdist_keeps_a_models_benchmark_on_one_worker(pytester, common, tmp_path):
    """A model's claims of one benchmark, from several test functions, share a worker (the model loads once
    there); its benchmarks may spread over the workers."""
    shape_bias = str(SUITE / "test_shape_bias.py")
    result = pytester.runpytest(VALIDATION, shape_bias, "-n", "2", "--subset=16", "-k", "not baseline",
                                "--model", "efficientnet_lite0", "--model", "efficientnet_lite1", *common)
    assert result.ret in (0, 1)  # small subsets may violate a bound; grouping is what is checked here
    records = results(tmp_path)["claims"]
    for model in ("efficientnet_lite0", "efficientnet_lite1"):
        for benchmark in ("validation", "shape_bias"):
            workers = {r["worker"] for r in records if r["model"] == model and r["metric"].startswith(benchmark)}
            assert len(workers) == 1, (model, benchmark, workers)


def test_each_xdist_worker_gets_its_own_gpu(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    pytester.makepyfile(f"""
        import os, pytest
        @pytest.mark.parametrize("i", range(4))
        def test_record(i, worker_id):
            path = os.path.join({str(tmp_path)!r}, worker_id)
            with open(path, "w") as fh:
                fh.write(os.environ.get("CUDA_VISIBLE_DEVICES", ""))
    """)
    result = pytester.runpytest("-n", "2", "-p", "no:randomly")
    result.assert_outcomes(passed=4)
    assert (tmp_path / "gw0").read_text() == "3" and (tmp_path / "gw1").read_text() == "5"


def test_cpu_device_leaves_cuda_visible_devices_alone(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    pytester.makepyfile(f"""
        import os
        def test_record(worker_id):
            open(os.path.join({str(tmp_path)!r}, worker_id), "w").write(os.environ["CUDA_VISIBLE_DEVICES"])
    """)
    pytester.runpytest("-n", "2", "--device", "cpu").assert_outcomes(passed=1)
    assert {p.read_text() for p in tmp_path.iterdir() if p.name.startswith("gw")} == {"3,5"}


def test_violated_claim_fails_with_the_full_story(pytester, common, tmp_path):
    thresholds = tmp_path / "thresholds"
    thresholds.mkdir()
    (thresholds / "efficientnet_lite0.toml").write_text(textwrap.dedent("""
        model = "efficientnet_lite0"
        source = "a deliberately impossible bound"
        [claims.too_high]
        metric = "validation.top1"
        published = 99.9
        op = ">="
        bound = 99.5
    """))
    result = pytester.runpytest(VALIDATION, "--subset=40", f"--thresholds-dir={thresholds}", *common)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*claim efficientnet_lite0/too_high VIOLATED: validation.top1 must be >= 99.5%*",
        "*measured:*95% CI [[]*]*n=40*",
        "*published: 99.9%*",
        "*source:    a deliberately impossible bound*efficientnet_lite0.toml*",
    ])
    assert results(tmp_path)["claims"][0]["verdict"] == "violated"


def test_bad_threshold_files_are_a_usage_error_listing_every_problem(pytester, common, tmp_path):
    thresholds = tmp_path / "thresholds"
    thresholds.mkdir()
    (thresholds / "efficientnet_lite0.toml").write_text(
        'model = "efficientnet_lite0"\n[claims.a]\nmetric = "validation.top5"\nop = ">"\nbound = "x"\n')
    result = pytester.runpytest(VALIDATION, f"--thresholds-dir={thresholds}", *common)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*3 problem(s) in threshold files*", "*efficientnet_lite0.toml: claims.a.bound must be a number*",
                                 "*unknown metric 'validation.top5' (did you mean 'validation.top1'?)*",
                                 "*op must be '<=' or '>='*"])


@pytest.mark.parametrize("args, message", [
    (["--model", "wsl_32x8"], "*unknown model 'wsl_32x8'. Did you mean 'wsl_32x8d'?*"),
    (["--subset=0"], "*--subset must be a positive number of images, got 0*"),
    (["--confidence=1.5"], "*--confidence must be in [[]0.5, 1), got 1.5*"),
    (["--weights", "x"], "*--weights expects MODEL=PATH, got 'x'*"),
])
def test_usage_errors(pytester, common, args, message):
    result = pytester.runpytest(VALIDATION, *args, *common)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_subset_larger_than_the_dataset(pytester, common):
    result = pytester.runpytest(VALIDATION, "--subset=5000", *common)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--subset 5000 is larger than the dataset imagenet-val-1300*1300 images*"])


def test_missing_dataset_skips_with_the_option_to_set(pytester, monkeypatch, tmp_path):
    monkeypatch.delenv("ROBUSTNESS_TESTS_DATA", raising=False)
    result = pytester.runpytest(VALIDATION, "-rs", f"--cache-dir={tmp_path / 'c'}", f"--data-dir={tmp_path / 'none'}")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*ImageNet validation not found*Set --imagenet-val DIR*ROBUSTNESS_TESTS_DATA*"])


def test_empty_dataset_root_fails_clearly(pytester, common, tmp_path):
    (tmp_path / "empty").mkdir()
    result = pytester.runpytest(VALIDATION, f"--imagenet-val={tmp_path / 'empty'}", *common)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["DataError: no images under*empty*"])
    result.stdout.no_fnmatch_line("*During handling*")


def test_cuda_without_a_gpu(pytester, common, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    result = pytester.runpytest(VALIDATION, "--device", "cuda", *common)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--device cuda was requested but no GPU is visible*--device cpu*"])
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    import torch

    if not torch.cuda.is_available():  # no env, maybe no nvidia-smi: torch decides, in the fixture
        result = pytester.runpytest(VALIDATION, "--device", "cuda", "--subset=10", *common)
        assert result.ret != 0
        result.stdout.fnmatch_lines(["*--device cuda was requested but * no *"])


def test_a_user_model_without_threshold_file_is_measured_and_recorded(pytester, common, tmp_path):
    pytester.makepyfile(user_models="""
        from robustness_tests import zoo
        def build():
            return zoo.load("efficientnet_lite0")
    """)
    pytester.syspathinsert()
    result = pytester.runpytest(VALIDATION, "--model", "user_models:build", "--ci", "-rs", *common)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no claim on validation.top1*user_models__build.toml; measured*n=300*"])
    (record,) = results(tmp_path)["claims"]
    assert record["verdict"] == "measured" and record["model"] == "user_models:build" and record["n"] == 300


def test_long_measurements_report_progress_on_whole_lines(pytester, common):
    result = pytester.runpytest(VALIDATION, "--subset=40", "--batch-size=8", "--progress-interval=0.000001", *common)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["    efficientnet_lite0 validation: 8/40 images, * images/s, ~* s left",
                                 "    efficientnet_lite0 validation: 32/40 images, * images/s, ~* s left"])


def test_xdist_workers_progress_reaches_the_terminal_as_whole_lines(pytester, common):
    """A worker has no terminal: it leaves its progress in a file and the controller prints each update as a
    line of its own, marked with the worker's id."""
    shape_bias = str(SUITE / "test_shape_bias.py")  # more tests: xdist prints progress characters meanwhile
    result = pytester.runpytest(VALIDATION, shape_bias, "-n", "2", "--subset=80", "--batch-size=8",
                                "--progress-interval=0.05", "-k", "not baseline", *common)
    assert result.ret in (0, 1)  # 80 stimuli may violate a shape-bias bound; progress is what is checked
    lines = [line for line in result.stdout.lines if "images/s" in line]
    assert lines, result.stdout.str()[-2000:]
    # whole lines: nothing of xdist's progress characters before them (the pattern is anchored)
    import re

    pattern = re.compile(r"^    \[gw[01]\] efficientnet_lite0 (validation|shape_bias): \d+/80 images, [\d.]+ images/s, "
                         r"~\d+ s left$")
    assert all(pattern.match(line) for line in lines), lines
