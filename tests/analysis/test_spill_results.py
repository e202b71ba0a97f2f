"""Specification of result loading and querying (analysis/spill_results.py)."""

from __future__ import annotations

import copy
import json
import os

import pytest

import spill_results as sr
import synth
from conftest import BASE, CANDIDATE, FAILED_ID, FIXTURES, MINIMAL


HANDOFF_V1 = os.path.join(FIXTURES, "run_handoff.json")  # a real spill-bench run written in schema version 1
SCENARIOS = os.path.join(FIXTURES, "scenarios.json")     # `spill-bench list --json`


def test_golden_fixtures_load_and_validate_in_the_current_schema():
    for path in (BASE, CANDIDATE, MINIMAL):
        with open(path, encoding="utf-8") as handle:
            assert json.load(handle)["schema_version"] == sr.SUPPORTED_SCHEMA_VERSION  # as written, not upgraded
        doc = sr.load(path)
        assert doc["points"]
        assert set(sr.PROVENANCE_KEYS) <= set(doc["metadata"]["provenance"])
        assert all(sr.point_facts(p) and sr.point_config(p) is not None for p in doc["points"])


def test_a_version_1_file_is_upgraded_on_load():
    with open(HANDOFF_V1, encoding="utf-8") as handle:
        raw = json.load(handle)
    assert raw["schema_version"] == 1
    doc = sr.load(HANDOFF_V1)
    assert doc["schema_version"] == sr.SUPPORTED_SCHEMA_VERSION
    assert doc["metadata"]["upgraded_from_schema_version"] == 1
    prov = doc["metadata"]["provenance"]
    assert prov["commit"] == raw["metadata"]["commit"] and prov["host"] == raw["metadata"]["hostname"]
    assert prov["command_line"] == raw["metadata"]["command_line"]
    for before, after in zip(raw["points"], doc["points"]):
        assert after["checks"]["merged_items"] == before["checks"]["merged_back"]  # items moved by merge backs
        assert "merged_back" not in after["checks"]
        assert all("merged_back" not in rep["checks"] for rep in after["repetitions"])
        assert sr.point_facts(after) is None  # version 1 recorded none; readers must not guess


def test_a_version_1_single_repetition_cv_of_zero_becomes_undefined_with_a_reason():
    doc = synth.simple_doc({"a": [1e6]})
    doc["points"][0]["summary"]["items_per_second"]["cv"] = 0.0  # what spill-bench wrote in version 1
    up = sr.upgrade(doc)
    block = up["points"][0]["summary"]["items_per_second"]
    assert block["cv"] is None and "a spread needs 2 or more" in block["undefined"]["cv"]
    assert doc["points"][0]["summary"]["items_per_second"]["cv"] == 0.0  # the input is not modified


def test_undefined_statistics_are_none_with_a_reason_never_zero_or_nan():
    one = sr.summarize([5.0])
    assert one["median"] == 5.0 and one["cv"] is None and one["undefined"]["cv"]
    none = sr.summarize([])
    assert none["n"] == 0 and all(none[k] is None and none["undefined"][k] for k in ("median", "min", "max", "cv"))
    assert "undefined" not in sr.summarize([1.0, 2.0])
    point = synth.make_point("fan_in", dict(synth.BASE_PARAMS), [synth.repetition(1000, 1e6)])
    point["summary"]["items_per_second"]["cv"] = 0.0
    assert any(p.startswith("items_per_second.cv 0.0 is stored, but it is undefined") for p in sr.summary_disagreements(point))


def test_ids_are_the_scenario_and_the_sorted_params_and_parse_back():
    for path in (BASE, HANDOFF_V1):
        for point in sr.load(path)["points"]:
            assert sr.point_id(point["scenario"], point["params"]) == point["id"]
            scenario, params = sr.parse_point_id(point["id"])
            assert scenario == point["scenario"] and params == {k: str(v) for k, v in point["params"].items()}
    with pytest.raises(sr.ResultError, match="'rounds' is not key=value"):
        sr.parse_point_id("pool|items=5|rounds")


def test_facts_come_from_the_file_as_spill_bench_declares_them():
    with open(SCENARIOS, encoding="utf-8") as handle:
        declared = {s["name"]: s["facts"] for s in json.load(handle)["scenarios"]}
    for point in sr.load(BASE)["points"]:
        facts = sr.point_facts(point)
        assert facts["contender"] == declared[point["scenario"]]["contender"]
        assert facts["hands_rings"] == declared[point["scenario"]]["hands_rings"]
        assert set(sr.point_config(point)) == set(declared[point["scenario"]]["config"])
    baselines = [p for p in sr.load(BASE)["points"] if p["scenario"].startswith("baseline_")]
    assert baselines and all(sr.point_facts(p)["contender"] != "spill" and not sr.point_facts(p)["hands_rings"] for p in baselines)


def test_provenance_names_commit_dirty_flag_date_host_and_command_line():
    prov = sr.provenance("tool.py", ["--out", "x y.json"])
    assert set(prov) == set(sr.PROVENANCE_KEYS)
    assert prov["tool"] == "tool.py" and prov["command_line"] == "tool.py --out 'x y.json'"
    assert prov["dirty"] in (True, False, None) and prov["date_utc"].endswith("Z") and prov["host"]
    sr.validate_provenance(prov, "p")


def test_write_results_writes_only_valid_current_documents_with_provenance(tmp_path):
    doc = sr.load(MINIMAL)
    out = tmp_path / "r.json"
    sr.write_results(str(out), doc)
    assert sr.load(str(out))["points"] == doc["points"]
    bad = copy.deepcopy(doc)
    del bad["metadata"]["provenance"]
    with pytest.raises(sr.ResultError, match="metadata.provenance is missing"):
        sr.write_results(str(tmp_path / "noprov.json"), bad)
    nan = copy.deepcopy(doc)
    nan["points"][0]["summary"]["items_per_second"]["cv"] = float("nan")
    with pytest.raises(sr.ResultError, match="NaN"):
        sr.write_results(str(tmp_path / "nan.json"), nan)
    old = copy.deepcopy(doc)
    old["schema_version"] = 1
    with pytest.raises(sr.ResultError, match="refusing to write schema_version 1"):
        sr.write_results(str(tmp_path / "old.json"), old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_a_null_figure_needs_its_reason():
    doc = sr.load(MINIMAL)
    rep = doc["points"][0]["repetitions"][0]
    rep["items_per_second"] = None
    with pytest.raises(sr.ResultError, match="null without a reason"):
        sr.validate(doc, "doc")
    rep["undefined"] = {"items_per_second": "the repetition took no measurable time"}
    sr.validate(doc, "doc")


def test_an_empty_histogram_has_no_percentiles():
    empty = {"count": 0, "min": None, "max": None, "mean": None, "p50": None, "p99": None, "p99_9": None, "buckets": [],
             "undefined": {k: "no samples" for k in ("min", "max", "mean", "p50", "p99", "p99_9")}}
    sr.validate_histogram(empty, "h")
    merged = sr.merge_histograms([empty, empty])
    assert merged["count"] == 0 and merged["p99"] is None and merged["undefined"]["p99"] == "no samples"
    with pytest.raises(sr.ResultError, match="'min' null is not a non-negative integer"):  # null without its reason
        sr.validate_histogram(dict(empty, undefined={}), "h")


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
