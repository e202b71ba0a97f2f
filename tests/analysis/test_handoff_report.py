"""Specification of the handoff statistics, per-role counters and placement
part of the analysis: spill_results loaders, the report section
(analysis/report_handoff.py, through report.py) and the gate's handling of
unavailable counters.

The fixture run_handoff.json is a small real run of spill-bench on the 2-vCPU
development VM (one placement class, no PMU): pool with --placement all,
backpressure with a slow consumer, mpsm with two mergers.
"""

from __future__ import annotations

import copy
import json
import os

import pytest

import gate
import report
import report_handoff
import spill_results as sr
from conftest import BASE, FIXTURES

HANDOFF = os.path.join(FIXTURES, "run_handoff.json")


@pytest.fixture(scope="module")
def doc():
    return sr.load(HANDOFF)


def render(inputs, tmp_path):
    data = report.build_report(inputs)
    figures = report.render_figures(data)
    blocks = report.document_blocks(data, figures)
    report.write_report(str(tmp_path), report.render_markdown(blocks), report.render_html(blocks), figures)
    return data, figures, (tmp_path / "report.md").read_text(encoding="utf-8")


def test_loader_summarizes_each_points_handoff_statistics(doc):
    for point in doc["points"]:
        s = sr.handoff_summary(point)
        assert s is not None and s["repetitions"] == len(point["repetitions"])
        assert 0.0 <= s["recycle_hit_rate"] <= 1.0
        assert s["occupancy_max_items"] <= s["capacity_items"] == point["params"]["ring_size"]
        assert sum(n for _, _, n in s["buckets"]) == sum(r["handoff"]["handoffs"] for r in point["repetitions"])
        assert s["items_per_handoff_mean"] <= s["items_per_handoff_max"]
        for role, w in s["wait_by_role"].items():
            assert role in sr.HANDOFF_ROLES
            assert 0.0 <= w["spin_fraction"] <= 1.0 and 0.0 <= w["blocked_fraction"] <= 1.0
        for rep in point["repetitions"]:
            h = sr.repetition_handoff(rep)
            assert h["items"] == rep["checks"]["delivered"]
            assert h["publishes"] == h["recycle_hits"] + h["merge_backs"]
    slow = [p for p in doc["points"] if p["scenario"] == "backpressure"][0]
    assert sr.handoff_summary(slow)["recycle_hit_rate"] < 1.0  # the slow consumer leaves batches uncollected


def test_loader_treats_missing_blocks_as_absent_not_as_zero(doc):
    point = copy.deepcopy(doc["points"][0])
    for rep in point["repetitions"]:
        rep.pop("handoff")
    assert sr.handoff_summary(point) is None
    point["repetitions"][0]["handoff"] = {"handoffs": 3}  # truncated block
    assert sr.point_handoffs(point) == []
    assert sr.point_role_counters({"id": "x"}) == {}


def test_loader_reads_the_placement_class_of_each_point(doc):
    classes = {sr.point_placement(p) for p in doc["points"]}
    assert classes == {"same_l3"}
    swept = [p for p in doc["points"] if p["params"].get("placement")]
    assert swept and all("|placement=same_l3|" in p["id"] for p in swept)
    assert sr.point_placement({"params": {}, "placement": {"class": None, "reason": "threads not pinned"}}) is None


def test_per_role_counters_are_null_with_a_reason_never_zero(doc):
    for point in doc["points"]:
        roles = sr.point_role_counters(point)
        assert {"producer", "consumer"} <= set(roles)
        for counters in roles.values():
            for fig in counters.values():
                assert fig["total"] is None and fig["per_item"] is None and fig["per_handoff"] is None
                assert fig["unavailable"] and "perf_event" in fig["unavailable"]
    mpsm = [p for p in doc["points"] if p["scenario"] == "mpsm"][0]
    assert "merger" in sr.point_role_counters(mpsm)


def test_report_has_the_handoff_plots_and_says_there_is_one_placement_class(doc, tmp_path):
    data, figures, md = render([(HANDOFF, doc)], tmp_path)
    assert {"handoff_items", "handoff_occupancy", "handoff_wait", "placement_throughput"} <= set(figures)
    assert len(data["handoff"]["rows"]) == len(doc["points"])
    assert "## Handoff statistics, per-role counters, placement" in md
    assert "one placement class on this machine: same_l3" in md
    assert "cannot show a placement effect" in md
    # Per-role counters: unavailable with the reason, one row per counter on a machine without a PMU.
    assert "| every scenario | every role | PAPI_TOT_INS | unavailable: " in md
    for name in ("handoff_items", "handoff_occupancy", "handoff_wait", "placement_throughput"):
        assert (tmp_path / "plots" / f"{name}.png").is_file()


def test_report_compares_placement_classes_when_there_are_several(doc, tmp_path):
    two = copy.deepcopy(doc)
    pl = two["metadata"]["placement"]
    pl["classes"].append({"class": "other_l3", "cpus": [0, 2], "pairs": 1})
    pl["single_class"] = False
    for point in [p for p in two["points"] if p["params"].get("placement") == "same_l3"]:
        other = copy.deepcopy(point)
        other["params"]["placement"] = "other_l3"
        other["id"] = other["id"].replace("placement=same_l3", "placement=other_l3")
        other["placement"]["class"] = "other_l3"
        for rep in other["repetitions"]:
            rep["items_per_second"] /= 2
            rep["seconds"] *= 2
        other["summary"]["items_per_second"] = sr.summarize(r["items_per_second"] for r in other["repetitions"])
        other["summary"]["seconds"] = sr.summarize(r["seconds"] for r in other["repetitions"])
        two["points"].append(other)
    data, figures, md = render([("two.json", two)], tmp_path)
    part = data["handoff"]["placement"]
    assert part["classes"] == ["same_l3", "other_l3"] and not part["single_class"] and part["note"] == ""
    both = [g for g in part["groups"] if len(g["by_class"]) == 2]
    assert both and all(g["by_class"]["other_l3"] == pytest.approx(g["by_class"]["same_l3"] / 2) for g in both)
    assert "| # | configuration | same_l3 (items/s) | other_l3 (items/s) |" in md
    assert "placement_throughput" in figures


def test_report_shows_readable_per_role_counters_per_item_and_per_handoff(doc, tmp_path):
    one = copy.deepcopy(doc)
    point = [p for p in one["points"] if p["scenario"] == "mpsm"][0]
    point["cost"]["counters_by_role"]["producer"]["counters"]["PAPI_TOT_INS"] = {
        "total": 80000.0, "per_item": 10.0, "per_handoff": 2500.0}
    data, _, md = render([("one.json", one)], tmp_path)
    rows = [r for r in data["handoff"]["role_counters"] if r["counter"] == "PAPI_TOT_INS"]
    readable = [r for r in rows if r["unavailable"] is None]
    assert len(readable) == 1 and readable[0]["per_item"] == 10.0 and readable[0]["per_handoff"] == 2500.0
    assert "| mpsm | producer | PAPI_TOT_INS | 10 | 2500 |" in md
    assert any(r["unavailable"] for r in rows)  # the other roles and scenarios still say why not


def test_files_without_these_fields_get_a_note_and_no_new_plot(tmp_path):
    data, figures, md = render(report.load_inputs([BASE]), tmp_path)
    assert not {"handoff_items", "handoff_occupancy", "handoff_wait", "placement_throughput"} & set(figures)
    assert "No handoff statistics:" in md and "No placement comparison:" in md
    assert "No per-role counters:" in md


def test_the_gate_ignores_unavailable_counters_instead_of_reading_zero(doc):
    cand = copy.deepcopy(doc)
    with pytest.raises(gate.GateInputError, match="unavailable in every matching point"):
        gate.gate(doc, cand, 2.0, metric="instructions_per_item", mode="deterministic")
    # One point becomes readable in both files: only it can be compared; the rest are refused as
    # null (never read as zero), and pass only when the gate is told to skip them.
    base = copy.deepcopy(doc)
    for d, value in ((base, 100.0), (cand, 101.0)):
        for rep in d["points"][0]["repetitions"]:
            rep["counters"]["PAPI_TOT_INS"] = value * rep["items"]
    result = gate.gate(base, cand, 2.0, metric="instructions_per_item", mode="deterministic")
    statuses = [row["status"] for row in result["rows"]]
    assert statuses.count("pass") == 1 and statuses.count("null") == len(doc["points"]) - 1
    assert not result["passed"]
    others = [p["id"] for p in doc["points"][1:]]
    assert gate.gate(base, cand, 2.0, metric="instructions_per_item", mode="deterministic", skip=others)["passed"]
