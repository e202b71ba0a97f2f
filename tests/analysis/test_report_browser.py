"""The report as a reader sees it: report.html of a real sweep loaded in
Debian's headless Chromium (analysis/browser_check.py). Fails on a broken
image, a console error, an empty section or a table of contents that points
nowhere; saves a screenshot next to the report. Without a browser the test
fails with the reason: a check that cannot run is not a pass.

The report and the screenshot are written to $SPILL_REPORT_CHECK_DIR when
it is set (meson sets it inside the build directory), else to a temporary
directory.
"""

from __future__ import annotations

import os

import browser_check
from conftest import FIXTURES

BENCH = os.path.join(FIXTURES, "bench_small.json")
MICRO = os.path.join(FIXTURES, "micro_small.json")


def _out_dir(tmp_path, name: str) -> str:
    base = os.environ.get("SPILL_REPORT_CHECK_DIR")
    return os.path.join(base, name) if base else str(tmp_path / name)


def _check(cli, tmp_path, name: str, *inputs: str) -> dict:
    out = _out_dir(tmp_path, name)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    made = cli("report.py", *inputs, "-o", out)
    assert made.returncode == 0, made.stderr
    try:
        result = browser_check.check_page(os.path.join(out, "report.html"), timeout=90)
    except browser_check.BrowserError as err:
        raise AssertionError(f"the browser check could not run: {err}") from None
    assert result["problems"] == []
    assert os.path.getsize(result["screenshot"]) > 10_000
    assert os.path.dirname(result["screenshot"]) == out
    return result["probe"]


def test_the_report_of_a_real_sweep_renders_cleanly_in_chromium(cli, tmp_path):
    probe = _check(cli, tmp_path, "sweep-report", BENCH)
    assert probe["title"] == "spill benchmark report"
    assert len(probe["images"]) >= 8 and probe["tocLinks"] == len(probe["sections"])
    assert probe["sections"][0]["title"].startswith("Headline")
    assert all(img["shownWidth"] <= 1000 for img in probe["images"])   # plots sized for a laptop screen


def test_the_report_of_a_micro_benchmark_run_renders_cleanly_in_chromium(cli, tmp_path):
    probe = _check(cli, tmp_path, "micro-report", MICRO)
    assert probe["sections"][0]["title"].startswith("Headline")


def test_the_check_catches_a_broken_image_and_a_console_error(tmp_path):
    page = tmp_path / "report.html"
    page.write_text('<!DOCTYPE html><html><head><title>t</title></head><body><section id="a"><h2>A</h2>'
                    '<img alt="missing plot" src="data:image/png;base64,AAAA"></section>'
                    '<section id="b"><h2>B</h2></section>'
                    '<script>console.error("boom")</script></body></html>')
    result = browser_check.check_page(str(page), timeout=90)
    assert "broken image: missing plot" in result["problems"]
    assert "empty section: B" in result["problems"]
    assert any(p.startswith("console error: boom") for p in result["problems"])
