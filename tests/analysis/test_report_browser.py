"""The report as a reader sees it: report.html of a real sweep loaded in
Debian's headless Chromium (analysis/browser_check.py). Fails on a broken
image, a console error, an empty section or a table of contents that points
nowhere; saves a screenshot next to the report. report.py also captures the
headline section alone (headline.png), tagged with the checksum of every
input file. Without a browser the test fails with the reason: a check that
cannot run is not a pass.

The report and the screenshot are written to $SPILL_REPORT_CHECK_DIR when
it is set (meson sets it inside the build directory), else to a temporary
directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import browser_check
from conftest import FIXTURES

BENCH = os.path.join(FIXTURES, "bench_small.json")
MICRO = os.path.join(FIXTURES, "micro_small.json")


def _out_dir(tmp_path, name: str) -> str:
    """Where a test writes its report: kept in the build directory when meson
    names one (for a look afterwards), emptied first, so a file an earlier run
    left there can neither pass nor fail this run's checks."""
    base = os.environ.get("SPILL_REPORT_CHECK_DIR")
    if not base:
        return str(tmp_path / name)
    out = os.path.join(base, name)
    shutil.rmtree(out, ignore_errors=True)
    return out


def _check(cli, tmp_path, name: str, *inputs: str) -> dict:
    out = _out_dir(tmp_path, name)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    made = cli("report.py", *inputs, "-o", out)
    assert made.returncode == 0, made.stderr
    assert made.stderr == ""   # no warning: the headline screenshot was taken
    _check_headline_png(os.path.join(out, "headline.png"), inputs)
    try:
        result = browser_check.check_page(os.path.join(out, "report.html"), timeout=90)
    except browser_check.BrowserError as err:
        raise AssertionError(f"the browser check could not run: {err}") from None
    assert result["problems"] == []
    assert os.path.getsize(result["screenshot"]) > 10_000
    assert os.path.dirname(result["screenshot"]) == out
    return result["probe"]


def _check_headline_png(path: str, inputs: tuple[str, ...]) -> None:
    """The headline alone: narrower than the window, shorter than the page, tagged with the inputs."""
    with open(path, "rb") as handle:
        png = handle.read()
    width, height = browser_check.png_size(png)
    assert 300 < width <= browser_check.WINDOW[0] and 200 < height < 16000
    tagged = json.loads(browser_check.png_text(png)[browser_check.PNG_INPUTS_KEY])
    want = []
    for path_in in inputs:
        with open(path_in, "rb") as handle:
            want.append({"path": path_in, "sha256": hashlib.sha256(handle.read()).hexdigest()})
    assert tagged == want


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


def test_browser_check_saves_the_headline_alone_on_request(cli, tmp_path):
    out = _out_dir(tmp_path, "headline-option")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    made = cli("report.py", MICRO, "-o", out, "--no-headline-png")
    assert made.returncode == 0, made.stderr
    assert not os.path.exists(os.path.join(out, "headline.png"))
    checked = cli("browser_check.py", os.path.join(out, "report.html"), "--headline")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"headline {os.path.join(out, 'headline.png')}" in checked.stdout
    _check_headline_png(os.path.join(out, "headline.png"), (MICRO,))


def test_a_page_without_a_headline_is_a_problem_for_the_headline_option(tmp_path):
    page = tmp_path / "report.html"
    page.write_text('<!DOCTYPE html><html><head><title>t</title></head><body><section id="a"><h2>A</h2>'
                    '<p>text</p></section></body></html>')
    result = browser_check.check_page(str(page), timeout=90, headline=str(tmp_path / "headline.png"))
    assert result["problems"] == ["no headline screenshot: the page has no element with id 'headline'"]
    assert not (tmp_path / "headline.png").exists()
    try:
        browser_check.capture_headline(str(page))
    except browser_check.BrowserError as err:
        assert "no element with id 'headline'" in str(err)
    else:
        raise AssertionError("capture_headline took a page without a headline")
