"""Reports from a real run: figures, summary.md, a self-contained index.html rendered in headless
Chromium without console errors, and the `report` command that re-renders them from results.json."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

import robustness_tests.evaluate  # noqa: F401  (torch & co. before pytester's in-process runs)
from robustness_tests.report import SECTIONS

from test_plugin import SUITE


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, data_dir):
    """One small real run over validation, shape bias and the adversarial sweeps of efficientnet_lite0."""
    out = tmp_path_factory.mktemp("report")
    args = [str(SUITE / "test_validation.py"), str(SUITE / "test_shape_bias.py"), str(SUITE / "test_adversarial.py"),
            "-k", "not baseline and not transfer and not white_box and not feature and not noise",
            "--subset=12", "--ci", f"--data-dir={data_dir}", f"--cache-dir={out / 'cache'}",
            f"--report-dir={out / 'r'}", "-p", "no:cacheprovider", "-q"]
    proc = subprocess.run([sys.executable, "-m", "pytest", *args], capture_output=True, text=True, timeout=900)
    assert (out / "r" / "results.json").is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return out / "r"


def test_figures_and_summaries_are_written(report_dir):
    names = {p.name for p in report_dir.iterdir()}
    assert {"results.json", "summary.md", "index.html", "shape_bias.png", "pgd_vs_steps.png", "pgd_vs_eps.png"} <= names
    summary = (report_dir / "summary.md").read_text()
    assert "## efficientnet_lite0" in summary and "| adversarial |" in summary and "CC BY 4.0" in summary
    html = (report_dir / "index.html").read_text()
    assert "http://" not in html and "https://" not in html  # self-contained: nothing to fetch
    assert html.count("data:image/png;base64,") == 3


def test_report_command_re_renders_from_results_json(report_dir, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(report_dir / "results.json", copy / "results.json")
    proc = subprocess.run([sys.executable, "-m", "robustness_tests", "report", str(copy)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (copy / "index.html").read_text() == (report_dir / "index.html").read_text()
    missing = subprocess.run([sys.executable, "-m", "robustness_tests", "report", str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "results.json does not exist" in missing.stderr


def test_index_html_renders_every_section_in_headless_chromium(report_dir, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--dump-dom", (report_dir / "index.html").as_uri()],
        capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    assert f'data-rendered="{len(SECTIONS)}"' in dom, proc.stderr[-2000:]  # the page's script ran to its end
    for section_id, title in SECTIONS:
        assert f'id="{section_id}"' in dom and title.split(":")[0] in dom
    console_errors = [line for line in proc.stderr.splitlines() if "CONSOLE" in line and ("Uncaught" in line or
                                                                                          "Error" in line)]
    assert not console_errors, console_errors
    doc = json.loads((report_dir / "results.json").read_text())
    assert all(r["model"] in dom for r in doc["claims"])
