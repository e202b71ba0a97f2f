"""The report's noise section: median with a bootstrap CI,
CV, n and a bimodality flag per point; bimodal points warned about at the top."""

from __future__ import annotations

import base64
import math
import re

import numpy as np
import pytest

import measure_stats as ms
import report
import synth

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WARNING_TEXT = "repetitions fall into two groups: the median hides which one a rerun would see"


def _two_modes(n_low: int = 5, n_high: int = 5, seed: int = 11) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(v) for v in np.concatenate([synth.lognormal(rng, 1.0e6, 0.01, n_low),
                                              synth.lognormal(rng, 1.5e6, 0.01, n_high)])]


def _one_mode(n: int = 10, seed: int = 12) -> list[float]:
    return [float(v) for v in synth.lognormal(np.random.default_rng(seed), 1.2e6, 0.03, n)]


def _doc(samples: dict[str, list[float]], failed: str | None = None) -> dict:
    doc = synth.simple_doc(samples)
    if failed is not None:
        for point in doc["points"]:
            if point["params"]["label"] == failed:
                point["checks"].update(passed=False, message="fifo violated")
    return doc


def _rows_by_label(section: dict) -> dict[str, dict]:
    return {re.search(r"label=(\w+)", row["label"]).group(1): row for row in section["rows"]}


def _render(doc: dict) -> tuple[dict, dict, str, str]:
    data = report.build_report([("x.json", doc)])
    figures = report.render_figures(data)
    blocks = report.document_blocks(data, figures)
    return data, figures, report.render_markdown(blocks), report.render_html(blocks)


def _md_section(md: str, heading: str) -> str:
    return md.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]


def test_the_ci_contains_the_median_and_is_reproducible():
    doc = _doc({"one": _one_mode(), "two": _two_modes(), "few": [1.0e6, 1.3e6, 0.9e6]})
    first = report.noise_section(doc["points"])
    again = report.noise_section(synth.simple_doc({"one": _one_mode(), "two": _two_modes(),
                                                   "few": [1.0e6, 1.3e6, 0.9e6]})["points"])
    assert first == again                                   # seeded: same input, same report
    for row in first["rows"]:
        assert row["ci_low"] <= row["median"] <= row["ci_high"]
    one = _rows_by_label(first)["one"]
    assert one["ci_low"] < one["ci_high"]
    values = doc["points"][0]["repetitions"]
    expected = ms.bootstrap_median_ci([rep["items_per_second"] for rep in values], 0.95, seed=ms.DEFAULT_SEED)
    assert (one["median"], one["ci_low"], one["ci_high"]) == (expected.median, expected.low, expected.high)
    assert one["median"] == pytest.approx(float(np.median(_one_mode())))
    assert one["n"] == 10 and one["cv"] == pytest.approx(np.std(_one_mode(), ddof=1) / np.mean(_one_mode()))
    other_seed = report.noise_section(doc["points"], seed=ms.DEFAULT_SEED + 1)
    assert [r["median"] for r in other_seed["rows"]] == [r["median"] for r in first["rows"]]


def test_a_two_mode_point_is_flagged_and_a_unimodal_one_is_not():
    section = report.noise_section(_doc({"one": _one_mode(), "two": _two_modes(4, 6)})["points"])
    rows = _rows_by_label(section)
    assert rows["two"]["status"] == "bimodal"
    assert rows["one"]["status"] == "unimodal"
    assert [r["id"] for r in section["flagged"]] == [rows["two"]["id"]]
    low, high = rows["two"]["groups"]
    assert (low["n"], high["n"]) == (4, 6)
    assert low["median"] == pytest.approx(1.0e6, rel=0.03) and high["median"] == pytest.approx(1.5e6, rel=0.03)
    assert rows["two"]["values"] == sorted(_two_modes(4, 6))
    assert rows["one"]["groups"] == [] and "values" not in rows["one"]
    assert section["tested"] == 2 and section["too_few"] == 0


def test_a_single_slow_repetition_is_an_outlier_not_a_second_group():
    values = _one_mode(9) + [0.5e6]
    row = report.noise_section(_doc({"one": values})["points"])["rows"][0]
    assert row["status"] == "unimodal" and "outlier" in row["reason"]


def test_fewer_than_six_repetitions_are_too_few_to_test_not_unimodal():
    two_looking = [1.0e6, 1.0e6, 1.01e6, 1.5e6, 1.5e6]          # two groups, but only 5 values
    section = report.noise_section(_doc({"few": two_looking, "one": _one_mode()})["points"])
    rows = _rows_by_label(section)
    assert rows["few"]["status"] == "too few" and rows["few"]["groups"] == []
    assert not section["flagged"] and section["too_few"] == 1 and section["tested"] == 1
    _, figures, md, html_text = _render(_doc({"few": two_looking, "one": _one_mode()}))
    table = _md_section(md, "Noise: medians, confidence intervals, bimodal points")
    row = next(line for line in table.splitlines() if "label=few" in line)
    assert "too few repetitions to test" in row and "| no |" not in row
    assert "1 point with fewer than 6 repetitions: too few repetitions to test" in table
    assert "WARNING: BIMODAL POINTS" not in md and "noise-warning" not in html_text.split("</style>", 1)[1]
    assert "noise_bimodal" not in figures


def test_a_point_without_repetitions_has_no_interval():
    doc = _doc({"one": _one_mode()})
    doc["points"].append(synth.make_point("fan_in", dict(synth.BASE_PARAMS, producers=9, label="empty"), []))
    section = report.noise_section(doc["points"])
    empty = _rows_by_label(section)["empty"]
    assert empty["n"] == 0 and empty["status"] == "too few" and empty["ci_low"] is None
    assert report.noise_section([]) == {"skip": "the input has no points"}


def test_the_flagged_point_is_warned_about_at_the_top_after_the_failed_points():
    doc = _doc({"one": _one_mode(), "two": _two_modes(), "bad": _one_mode(seed=13)}, failed="bad")
    data, figures, md, html_text = _render(doc)
    flagged_id = data["noise"]["flagged"][0]["id"]
    failed_id = data["failed"][0]["id"]

    sections = [line for line in md.splitlines() if line.startswith("## ")]
    assert sections[:3] == ["## FAILED CHECKS", "## WARNING: BIMODAL POINTS", "## Headline: every contender on each job"]
    warning = _md_section(md, "WARNING: BIMODAL POINTS")
    assert WARNING_TEXT in warning and flagged_id in warning and failed_id not in warning
    assert "groups at" in warning
    for row in data["noise"]["rows"]:
        if row["status"] != "bimodal":
            assert row["id"] not in warning

    kinds = [block[0] for block in report.document_blocks(data, figures)]
    assert kinds.index("failed") < kinds.index("warning") < kinds.index("table")

    body = html_text[html_text.index("<body>"):]
    box_start = body.index('<div class="noise-warning"')
    box = body[box_start: body.index("</div>", box_start)]
    assert body.index('<div class="failed-checks"') < box_start < body.index("Run metadata")
    assert flagged_id in box and WARNING_TEXT in box


def test_the_noise_section_shows_the_table_and_the_strip_plot_in_markdown_and_html():
    doc = _doc({"one": _one_mode(), "two": _two_modes()})
    data, figures, md, html_text = _render(doc)
    section = _md_section(md, "Noise: medians, confidence intervals, bimodal points")
    assert "| scenario | point | median items/s | 95% CI of the median | CV | n | bimodal |" in section
    rows = _rows_by_label(data["noise"])
    two_line = next(line for line in section.splitlines() if "label=two" in line)
    assert "| BIMODAL |" in two_line
    assert f"{report._num(rows['two']['ci_low'])} .. {report._num(rows['two']['ci_high'])}" in two_line
    one_line = next(line for line in section.splitlines() if "label=one" in line)
    assert "| no |" in one_line and "| 10 |" in one_line
    assert "seed 20261124" in section
    assert "![Bimodal points](plots/noise_bimodal.png)" in section
    assert figures["noise_bimodal"]["png"].startswith(PNG_MAGIC)

    html_section = html_text.split("<h2>Noise: medians, confidence intervals, bimodal points</h2>", 1)[1]
    html_section = html_section.split("<h2>", 1)[0]
    assert '<tr class="bimodal-row">' in html_section and "BIMODAL" in html_section
    src = re.search(r'src="data:image/png;base64,([^"]+)"', html_section).group(1)
    assert base64.b64decode(src) == figures["noise_bimodal"]["png"]


def test_the_noise_section_precedes_the_all_points_table_in_the_fixture_report():
    from conftest import BASE
    data = report.build_report(report.load_inputs([BASE]))
    assert data["noise"]["too_few"] == data["n_points"] and not data["noise"]["flagged"]   # 5 repetitions each
    md = report.render_markdown(report.document_blocks(data, report.render_figures(data)))
    assert md.index("## Noise: medians") < md.index("## All points")
    assert "## WARNING: BIMODAL POINTS" not in md


def test_split_at_largest_gap_returns_the_two_groups():
    low, high = ms.split_at_largest_gap([5.0, 1.0, 1.2, 5.1, 0.9])
    assert low.tolist() == [0.9, 1.0, 1.2] and high.tolist() == [5.0, 5.1]
    low, high = ms.split_at_largest_gap([3.0])
    assert low.tolist() == [3.0] and high.tolist() == []
