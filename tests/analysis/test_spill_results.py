"""Specification of result loading and querying (analysis/spill_results.py)."""

from __future__ import annotations

import copy
import json

import pytest

import spill_results as sr
import synth
from conftest import BASE, CANDIDATE, FAILED_ID, MINIMAL


def test_golden_fixtures_load_and_validate():
    for path in (BASE, CANDIDATE, MINIMAL):
        doc = sr.load(path)
        assert doc["schema_version"] == 1
        assert doc["points"]


def test_recomputed_summary_equals_the_stored_summary_of_every_fixture_point():
    for point in sr.load(BASE)["points"]:
        fresh = sr.recompute_summary(point)
        for metric in ("items_per_second", "seconds"):
            for field in ("median", "min", "max", "cv"):
                assert fresh[metric][field] == pytest.approx(point["summary"][metric][field]), (point["id"], metric, field)
        assert sr.summary_disagreements(point) == []


def test_a_tampered_summary_is_reported():
    point = copy.deepcopy(sr.load(BASE)["points"][0])
    point["summary"]["items_per_second"]["median"] *= 2
    problems = sr.summary_disagreements(point)
    assert len(problems) == 1 and problems[0].startswith("items_per_second.median")


def test_iter_points_filters_by_scenario():
    doc = sr.load(BASE)
    assert {p["scenario"] for p in sr.iter_points(doc, "mpsm")} == {"mpsm"}
    assert len(list(sr.iter_points(doc))) == len(doc["points"])


def test_a_null_counter_is_unavailable_never_zero():
    rep = synth.repetition(1000, 1e6, {"PAPI_TOT_CYC": None, "page_faults": 0})
    assert sr.repetition_value(rep, "PAPI_TOT_CYC") is None
    assert sr.repetition_value(rep, "page_faults") == 0.0
    assert sr.repetition_value(rep, "no_such_counter") is None


def test_a_per_item_metric_is_derived_from_the_total_counter():
    rep = synth.repetition(1000, 1e6, {"PAPI_TOT_INS": 125000})
    assert sr.repetition_value(rep, "PAPI_TOT_INS_per_item") == 125.0


def test_instructions_per_item_falls_back_to_papi_total_instructions():
    rep = synth.repetition(1000, 1e6, {"PAPI_TOT_INS": 150000, "PAPI_TOT_CYC": None})
    assert sr.repetition_value(rep, "instructions_per_item") == 150.0
    direct = synth.repetition(1000, 1e6, {"instructions_per_item": 99.0, "PAPI_TOT_INS": 150000})
    assert sr.repetition_value(direct, "instructions_per_item") == 99.0
    null = synth.repetition(1000, 1e6, {"instructions_per_item": None, "PAPI_TOT_INS": None})
    assert sr.repetition_value(null, "instructions_per_item") is None


def test_repetition_fields_take_precedence_over_counters():
    rep = synth.repetition(1000, 2e6, {"items_per_second": 1.0})
    assert sr.repetition_value(rep, "items_per_second") == 2e6


def test_points_match_by_id_whatever_their_order():
    base = sr.load(BASE)
    shuffled = copy.deepcopy(base)
    shuffled["points"].reverse()
    pairs, only_base, only_cand = sr.match_points(base, shuffled)
    assert len(pairs) == len(base["points"])
    assert all(b["id"] == c["id"] for b, c in pairs)
    assert only_base == [] and only_cand == []


def test_points_in_only_one_file_are_reported_on_their_side():
    _, only_base, only_cand = sr.match_points(sr.load(BASE), sr.load(CANDIDATE))
    assert len(only_base) == 1 and only_base[0].startswith("mpsm|") and "mergers=4|producers=4" in only_base[0]
    assert len(only_cand) == 1 and "producers=3" in only_cand[0]


def test_failed_points_lists_the_failed_fixture_point_with_its_message():
    failed = sr.failed_points(sr.load(BASE))
    assert [f["id"] for f in failed] == [FAILED_ID]
    assert "fifo violated" in failed[0]["message"]


def test_a_failed_repetition_marks_its_point_failed():
    doc = synth.simple_doc({"a": [1e6, 1e6]})
    doc["points"][0]["repetitions"][1]["checks"]["passed"] = False
    failed = sr.failed_points(doc)
    assert failed and failed[0]["failed_repetitions"] == [1]


def test_unavailable_counters_carry_the_recorded_reason():
    reasons = sr.unavailable_counters([(BASE, sr.load(BASE))])
    assert list(reasons) == ["PAPI_TOT_CYC"]
    assert "no hardware counters" in reasons["PAPI_TOT_CYC"]


def test_a_counter_null_everywhere_without_reason_is_still_reported():
    reasons = sr.unavailable_counters([(MINIMAL, sr.load(MINIMAL))])
    assert "no reason recorded" in reasons["PAPI_TOT_CYC"]


def test_validate_accepts_synthetic_documents_and_rejects_a_boolean_version(tmp_path):
    doc = synth.simple_doc({"a": [1e6, 1.1e6]})
    sr.validate(doc, "synthetic")
    doc["schema_version"] = True
    with pytest.raises(sr.ResultError, match="schema_version true is not an integer"):
        sr.validate(doc, "synthetic")


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out.json"
    sr.write_atomic(str(target), json.dumps({"a": 1}))
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
