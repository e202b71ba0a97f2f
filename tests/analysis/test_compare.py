"""Specification of analysis/compare.py."""

from __future__ import annotations

import json
import math

import compare
import spill_results as sr
import synth
from conftest import BASE, CANDIDATE, SLOWED_ID


def test_compare_of_a_file_with_itself_gives_ratio_one_for_every_point():
    base = sr.load(BASE)
    result = compare.compare(base, sr.load(BASE))
    assert len(result["rows"]) == len(base["points"])
    for row in result["rows"]:
        assert row["ratio"] == 1.0
        assert row["p_value"] == 1.0
        assert row["ci_low"] <= 1.0 <= row["ci_high"]
        assert row["cv_base"] == row["cv_candidate"]
        assert not row["changed"] and row["direction"] == "same"
    assert result["only_base"] == [] and result["only_candidate"] == []
    assert result["changed"] == []


def test_compare_finds_the_ten_percent_slower_point():
    result = compare.compare(sr.load(BASE), sr.load(CANDIDATE))
    rows = {row["id"]: row for row in result["rows"]}
    slowed = rows[SLOWED_ID]
    assert 0.85 < slowed["ratio"] < 0.92
    assert slowed["ci_high"] < 1.0
    assert slowed["p_value"] < 0.05
    others = [row for ident, row in rows.items() if ident != SLOWED_ID]
    assert all(0.93 < row["ratio"] < 1.07 for row in others)


def test_compare_rows_carry_medians_and_cvs_of_each_side():
    result = compare.compare(sr.load(BASE), sr.load(CANDIDATE))
    row = next(r for r in result["rows"] if r["id"] == SLOWED_ID)
    base_point = sr.points_by_id(sr.load(BASE))[SLOWED_ID]
    assert row["base_median"] == base_point["summary"]["items_per_second"]["median"]
    assert row["ratio"] == row["candidate_median"] / row["base_median"]
    assert row["n_base"] == row["n_candidate"] == 5
    assert 0 < row["cv_base"] < 0.1 and 0 < row["cv_candidate"] < 0.1


def test_compare_lists_points_present_in_only_one_file_separately():
    result = compare.compare(sr.load(BASE), sr.load(CANDIDATE))
    assert len(result["only_base"]) == 1 and len(result["only_candidate"]) == 1
    ids = {row["id"] for row in result["rows"]}
    assert not ids & set(result["only_base"]) and not ids & set(result["only_candidate"])


def test_compare_of_an_unavailable_counter_gives_no_ratio_instead_of_zero():
    base = synth.simple_doc({"a": [1e6] * 3}, counter="PAPI_TOT_INS", counter_values={"a": [5e5] * 3})
    cand = synth.simple_doc({"a": [1e6] * 3}, counter="PAPI_TOT_INS", counter_values={"a": [None] * 3})
    row = compare.compare(base, cand, metric="PAPI_TOT_INS")["rows"][0]
    assert row["ratio"] is None and row["ci_low"] is None and row["p_value"] is None
    assert "unavailable in candidate" in row["reasons"]["ratio"]


def test_compare_cli_prints_a_table_with_every_column(cli):
    result = cli("compare.py", BASE, CANDIDATE)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for header in ("base median", "cand median", "ratio", "95% CI", "p (MWU)", "CV base", "CV cand", "point id"):
        assert header in out
    slowed_line = next(line for line in out.splitlines() if line.endswith(SLOWED_ID) and "[" in line
                       and "CI [" not in line)
    assert " 0.877 " in slowed_line
    assert "only in base (1):" in out and "only in candidate (1):" in out


def test_compare_cli_json_output_is_the_rows_as_data(cli):
    result = cli("compare.py", BASE, BASE, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {row["ratio"] for row in data["rows"]} == {1.0}
    assert data["metric"] == "items_per_second" and data["higher_is_better"] is True


def test_format_table_is_deterministic():
    base, cand = sr.load(BASE), sr.load(CANDIDATE)
    assert compare.format_table(compare.compare(base, cand)) == compare.format_table(compare.compare(base, cand))


def test_compare_leads_with_the_changes_beyond_noise_largest_effect_first(cli):
    result = compare.compare(sr.load(BASE), sr.load(CANDIDATE))
    assert result["changed"][0] == SLOWED_ID
    slowed = next(r for r in result["rows"] if r["id"] == SLOWED_ID)
    assert slowed["direction"] == "worse" and slowed["changed"]
    effects = [next(r for r in result["rows"] if r["id"] == i)["effect"] for i in result["changed"]]
    assert effects == sorted(effects, reverse=True)
    out = cli("compare.py", BASE, CANDIDATE).stdout.splitlines()
    lead = out.index(next(line for line in out if line.startswith("changed beyond noise")))
    assert lead == 4                                   # right after the metric and the two file names
    assert out[lead + 1].split()[:2] == ["WORSE", "1/1.14x"] and out[lead + 1].endswith(SLOWED_ID)


def test_compare_says_when_nothing_changed_beyond_noise(cli):
    out = cli("compare.py", BASE, BASE).stdout
    assert "changed beyond noise: none (22 points compared; no 95% CI of the ratio excludes 1)" in out


def test_compare_with_one_repetition_shows_undefined_with_the_reason_never_zero():
    base = synth.simple_doc({"a": [1e6]})
    cand = synth.simple_doc({"a": [2e6]})
    row = compare.compare(base, cand)["rows"][0]
    assert row["ratio"] == 2.0 and row["cv_base"] is None and row["ci_low"] is None
    assert "1 repetition" in row["reasons"]["cv_base"] and "1 repetition" in row["reasons"]["ci"]
    text = compare.format_table(compare.compare(base, cand))
    assert "undefined" in text and "0.0%" not in text
