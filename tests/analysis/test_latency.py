"""Specification of the latency distributions in the analysis
(analysis/spill_results.py and the report's "Latency distributions" section;
harness/SCHEMA.md, "Latency distributions")."""

from __future__ import annotations

import copy
import json
import os

import pytest

import report
import spill_results as sr
import synth
from conftest import BASE, FIXTURES, MINIMAL

LATENCY = os.path.join(FIXTURES, "run_latency.json")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STALLED_ID = ("latency_open|consumer_delay_ns=0|delay_mode=busy_item|items=10000|mergers=1|producers=2|"
              "rate_items_per_s=5000|ring_size=4096|rounds=50")


@pytest.fixture(scope="module")
def latency_report(tmp_path_factory):
    from conftest import run_cli
    out = tmp_path_factory.mktemp("latency") / "report"
    result = run_cli("report.py", LATENCY, "-o", str(out))
    assert result.returncode == 0, result.stderr
    return {"dir": out, "md": (out / "report.md").read_text(encoding="utf-8"),
            "html": (out / "report.html").read_text(encoding="utf-8")}


def _section(md: str, title: str) -> str:
    return md.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_percentiles_from_buckets_match_a_hand_computed_histogram():
    hist = {"count": 100, "min": 10, "max": 66000,
            "buckets": [[10, 10, 98], [1024, 1055, 1], [65536, 67583, 1]]}
    assert sr.histogram_percentile(hist, 50.0) == 10
    assert sr.histogram_percentile(hist, 98.0) == 10
    assert sr.histogram_percentile(hist, 99.0) == 1039        # midpoint of [1024, 1055]
    assert sr.histogram_percentile(hist, 99.9) == 66000       # midpoint 66559, clamped to max
    assert sr.histogram_percentile(hist, 100.0) == 66000
    assert sr.histogram_percentile({"count": 0, "min": 0, "max": 0, "buckets": []}, 99.0) is None  # no samples: undefined, not 0


def test_every_fixture_histogram_has_ordered_percentiles_equal_to_the_recomputed_ones():
    doc = sr.load(LATENCY)
    seen = 0
    for point in doc["points"]:
        for rep in point["repetitions"]:
            for kind in sr.LATENCY_KINDS:
                hist = rep["latency"][kind]
                if hist is None:
                    continue
                seen += 1
                assert hist["min"] <= hist["p50"] <= hist["p99"] <= hist["p99_9"] <= hist["max"]
                assert [sr.histogram_percentile(hist, q) for _, q in sr.LATENCY_PERCENTILES] == \
                       [hist[name] for name, _ in sr.LATENCY_PERCENTILES]
    assert seen == 3 * 2 * 2 + 2 * 2      # item + handoff everywhere, send lag in the open loop


def test_point_latency_pools_the_repetitions():
    doc = sr.load(LATENCY)
    for point in doc["points"]:
        lat = sr.point_latency(point)
        item = lat["item_ns"]
        assert item["count"] == sum(rep["latency"]["item_ns"]["count"] for rep in point["repetitions"])
        assert item["count"] == point["checks"]["delivered"]      # one sample per delivered item
        assert item["max"] == max(rep["latency"]["item_ns"]["max"] for rep in point["repetitions"])
        assert item["p50"] <= item["p99"] <= item["p99_9"] <= item["max"]
        pooled = synth.log_histogram([])
        assert pooled["count"] == 0
        assert (lat["send_lag_ns"] is None) == (lat["loop"] == "closed")
    assert sr.point_latency(sr.load(BASE)["points"][0]) is None


def test_merged_percentiles_equal_those_of_the_pooled_samples():
    a, b = [100, 200, 300, 5000], [150, 250, 90000]
    merged = sr.merge_histograms([synth.log_histogram(a), synth.log_histogram(b)])
    direct = synth.log_histogram(a + b)
    for key in ("count", "min", "max", "p50", "p99", "p99_9", "buckets"):
        assert merged[key] == direct[key], key


def test_ccdf_starts_at_one_and_falls_to_one_sample():
    hist = sr.load(LATENCY)["points"][1]["repetitions"][1]["latency"]["item_ns"]
    xs, ys = sr.histogram_ccdf(hist)
    assert ys[0] == 1.0 and ys[-1] == pytest.approx(1.0 / hist["count"])
    assert all(y1 >= y2 for y1, y2 in zip(ys, ys[1:]))
    assert all(x1 <= x2 for x1, x2 in zip(xs, xs[1:])) and xs[-1] == hist["max"]


@pytest.mark.parametrize("mutate, needle", [
    (lambda lat: lat["item_ns"].update(count=lat["item_ns"]["count"] + 1), "the buckets hold"),
    (lambda lat: lat.update(loop="sideways"), "'loop' \"sideways\""),
    (lambda lat: lat["item_ns"]["buckets"].reverse(), "in increasing order"),
    (lambda lat: lat["handoff_ns"].update(p99="fast"), "'p99' \"fast\""),
    (lambda lat: lat.pop("item_ns"), "missing key 'item_ns'"),
])
def test_a_malformed_latency_block_is_a_one_line_error_naming_it(tmp_path, mutate, needle):
    doc = json.loads(open(LATENCY, encoding="utf-8").read())
    mutate(doc["points"][0]["repetitions"][1]["latency"])
    path = synth.write(tmp_path / "bad.json", doc)
    with pytest.raises(sr.ResultError) as err:
        sr.load(path)
    message = str(err.value)
    assert "\n" not in message and "bad.json" in message and "repetitions[1]: latency" in message and needle in message


def test_latency_section_has_a_row_per_point_and_kind_closed_loop_first():
    data = report.build_report(report.load_inputs([LATENCY]))["latency"]
    assert [e["loop"] for e in data["entries"]] == ["closed", "open", "open"]
    assert [e["target"] for e in data["entries"]] == [None, 5000, 50000]
    assert [(r["loop"], r["kind"]) for r in data["rows"]] == [
        ("closed", "item_ns"), ("closed", "handoff_ns"),
        ("open", "item_ns"), ("open", "handoff_ns"), ("open", "send_lag_ns"),
        ("open", "item_ns"), ("open", "handoff_ns"), ("open", "send_lag_ns")]
    stalled = next(r for r in data["rows"] if r["id"] == STALLED_ID and r["kind"] == "item_ns")
    # The fixture's 20 ms stall in one repetition makes the pooled max and p99.9 at least 20 ms.
    assert stalled["max"] >= 20_000_000 and stalled["p99_9"] >= 10_000_000


def test_report_plots_the_latency_ccdf_and_tabulates_the_percentiles(latency_report):
    assert (latency_report["dir"] / "plots" / "latency.png").read_bytes().startswith(PNG_MAGIC)
    section = _section(latency_report["md"], "Latency distributions")
    assert "![Latency distributions](plots/latency.png)" in section
    assert "| loop | latency | target (items/s) | achieved (items/s) | samples | p50 (µs) | p99 (µs) | p99.9 (µs) | max (µs) |" in section
    assert section.count("| closed | item_ns |") == 1 and section.count("| open | send_lag_ns |") == 2
    assert "Lower is better" in section and "intended send time" in section
    assert "data:image/png;base64," in latency_report["html"].split("Latency distributions", 1)[1]


def test_files_without_latency_say_why_there_is_no_latency_plot():
    data = report.build_report(report.load_inputs([MINIMAL]))
    assert "latency" not in report.render_figures(data)
    md = report.render_markdown(report.document_blocks(data, report.render_figures(data)))
    assert _section(md, "Latency distributions").strip() == \
        "No latency plot: no point has latency histograms (run the `latency` or `latency_open` scenario)."


def test_the_closed_loop_hides_a_stall_that_the_open_loop_shows():
    """The point of the open loop, on synthetic data shaped like the e2e
    run: a stall charged to every item due during it moves p99, where the
    closed loop's in-flight items only move the maximum."""
    closed = synth.log_histogram([8000] * 3990 + [40_000_000] * 10)
    opened = synth.log_histogram([8000] * 3200 + [int(40_000_000 * (1 - k / 800)) for k in range(800)])
    assert closed["max"] >= 40_000_000 and closed["p99"] < 20_000_000
    assert opened["p99"] >= 20_000_000
    for hist in (closed, opened):
        assert sr.histogram_percentile(hist, 99.0) == hist["p99"]


def test_a_copy_of_the_fixture_with_latency_removed_still_validates():
    doc = copy.deepcopy(json.loads(open(LATENCY, encoding="utf-8").read()))
    for point in doc["points"]:
        for rep in point["repetitions"]:
            rep.pop("latency")
    sr.validate(doc, "x.json")
    assert report.latency_section(doc["points"])["skip"]
