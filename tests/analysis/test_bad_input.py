"""Every bad input gives exit status 2, one stderr line naming the bad value,
nothing on stdout, and no output file or directory."""

from __future__ import annotations

import copy
import json
import os

import pytest

import spill_results as sr
from conftest import BASE, run_cli

GOOD = sr.load(BASE)
FIRST_ID = GOOD["points"][0]["id"]


def write_json(path, value) -> str:
    path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


def variant(path, edit) -> str:
    doc = copy.deepcopy(GOOD)
    edit(doc)
    return write_json(path, doc)


def missing_file(tmp):
    return str(tmp / "results" / "missing.json")


def not_json(tmp):
    path = tmp / "garbage.json"
    path.write_text("{ this is not json", encoding="utf-8")
    return str(path)


def top_level_array(tmp):
    return write_json(tmp / "array.json", [1, 2, 3])


def no_schema_version(tmp):
    return variant(tmp / "noversion.json", lambda d: d.pop("schema_version"))


def without_provenance(tmp):
    return variant(tmp / "noprov.json", lambda d: d["metadata"].pop("provenance"))


def point_without_facts(tmp):
    return variant(tmp / "nofacts.json", lambda d: d["points"][0].pop("facts"))


def schema_version_string(tmp):
    return variant(tmp / "vstring.json", lambda d: d.update(schema_version="1"))


def schema_version_7(tmp):
    return variant(tmp / "v7.json", lambda d: d.update(schema_version=7))


def point_without_repetitions(tmp):
    return variant(tmp / "noreps.json", lambda d: d["points"][0].pop("repetitions"))


def non_numeric_throughput(tmp):
    def edit(d):
        d["points"][0]["repetitions"][0]["items_per_second"] = "fast"
    return variant(tmp / "fast.json", edit)


def duplicate_id(tmp):
    return variant(tmp / "dup.json", lambda d: d["points"].append(copy.deepcopy(d["points"][0])))


def disjoint_ids(tmp):
    def edit(d):
        for point in d["points"]:
            point["id"] = "other|" + point["id"]
    return variant(tmp / "disjoint.json", edit)


def no_instruction_counter(tmp):
    def edit(d):
        d["metadata"]["counters"]["unavailable"]["PAPI_TOT_INS"] = "PAPI not available in this VM"
        for point in d["points"]:
            for rep in point["repetitions"]:
                rep["counters"]["instructions_per_item"] = None
                rep["counters"]["PAPI_TOT_INS"] = None
    return variant(tmp / "noinstr.json", edit)


def existing_file(tmp):
    path = tmp / "occupied"
    path.write_text("keep me", encoding="utf-8")
    return str(path)


# (case id, script, argv builder, expected substrings of the error line)
CASES = [
    ("compare-missing-file", "compare.py", lambda t: [missing_file(t), BASE],
     ["missing.json", "cannot read file"]),
    ("compare-not-json", "compare.py", lambda t: [BASE, not_json(t)],
     ["garbage.json", "not JSON"]),
    ("compare-top-level-array", "compare.py", lambda t: [top_level_array(t), BASE],
     ["array.json", "top level is a JSON array"]),
    ("compare-no-schema-version", "compare.py", lambda t: [no_schema_version(t), BASE],
     ["noversion.json", "missing key 'schema_version'"]),
    ("compare-no-provenance", "compare.py", lambda t: [BASE, without_provenance(t)],
     ["noprov.json", "metadata.provenance is missing"]),
    ("compare-unsupported-schema-version", "compare.py", lambda t: [schema_version_7(t), BASE],
     ["v7.json", "unsupported schema_version 7"]),
    ("gate-string-schema-version", "gate.py",
     lambda t: ["--baseline", schema_version_string(t), "--candidate", BASE, "--max-regression", "5"],
     ["vstring.json", 'schema_version "1" is not an integer']),
    ("gate-point-without-facts", "gate.py",
     lambda t: ["--baseline", BASE, "--candidate", point_without_facts(t), "--max-regression", "5"],
     ["nofacts.json", FIRST_ID, "missing key 'facts'"]),
    ("compare-point-without-repetitions", "compare.py", lambda t: [point_without_repetitions(t), BASE],
     ["noreps.json", FIRST_ID, "missing key 'repetitions'"]),
    ("compare-non-numeric-throughput", "compare.py", lambda t: [BASE, non_numeric_throughput(t)],
     ["fast.json", "'items_per_second' \"fast\" is not a number"]),
    ("compare-duplicate-id", "compare.py", lambda t: [duplicate_id(t), BASE],
     ["dup.json", FIRST_ID, "duplicate id"]),
    ("compare-no-matching-points", "compare.py", lambda t: [BASE, disjoint_ids(t)],
     ["disjoint.json", "no point id matches any point of", BASE]),
    ("gate-no-matching-points", "gate.py",
     lambda t: ["--baseline", BASE, "--candidate", disjoint_ids(t), "--max-regression", "5"],
     ["disjoint.json", "no point id matches"]),
    ("gate-threshold-not-a-number", "gate.py",
     lambda t: ["--baseline", BASE, "--candidate", BASE, "--max-regression", "abc"],
     ["--max-regression", "'abc' is not a number"]),
    ("gate-threshold-negative", "gate.py",
     lambda t: ["--baseline", BASE, "--candidate", BASE, "--max-regression", "-5"],
     ["--max-regression", "'-5'", "(0, 100)"]),
    ("gate-threshold-too-large", "gate.py",
     lambda t: ["--baseline", BASE, "--candidate", BASE, "--max-regression", "150"],
     ["--max-regression", "'150'"]),
    ("gate-alpha-out-of-range", "gate.py",
     lambda t: ["--baseline", BASE, "--candidate", BASE, "--max-regression", "5", "--alpha", "1.5"],
     ["--alpha", "'1.5'"]),
    ("gate-unknown-mode", "gate.py",
     lambda t: ["--baseline", BASE, "--candidate", BASE, "--max-regression", "5", "--mode", "fast"],
     ["--mode", "'fast'"]),
    ("gate-metric-unavailable-everywhere", "gate.py",
     lambda t: ["--baseline", no_instruction_counter(t), "--candidate", no_instruction_counter(t),
                "--max-regression", "5", "--mode", "deterministic"],
     ["--metric instructions_per_item", "unavailable in every matching point",
      "PAPI_TOT_INS: PAPI not available in this VM"]),
    ("gate-missing-required-option", "gate.py", lambda t: ["--baseline", BASE, "--candidate", BASE],
     ["--max-regression"]),
    ("report-not-json", "report.py", lambda t: [not_json(t), "-o", str(t / "out")],
     ["garbage.json", "not JSON"]),
    ("report-no-provenance", "report.py", lambda t: [BASE, without_provenance(t), "-o", str(t / "out")],
     ["noprov.json", "metadata.provenance is missing"]),
    ("report-same-point-in-two-files", "report.py", lambda t: [BASE, BASE, "-o", str(t / "out")],
     [FIRST_ID, "is also in"]),
    ("report-output-is-a-file", "report.py", lambda t: [BASE, "-o", existing_file(t)],
     ["occupied", "not a directory"]),
    ("report-output-parent-missing", "report.py", lambda t: [BASE, "-o", str(t / "no" / "such" / "out")],
     ["no/such", "does not exist"]),
]


@pytest.mark.parametrize("name,script,argv,expected", CASES, ids=[case[0] for case in CASES])
def test_bad_input_gives_exit_2_one_line_naming_the_value_and_no_output(tmp_path, name, script, argv, expected):
    args = argv(tmp_path)
    before = sorted(os.listdir(tmp_path))
    result = run_cli(script, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{script}: error: ")
    for fragment in expected:
        assert fragment in lines[0], (fragment, lines[0])
    assert sorted(os.listdir(tmp_path)) == before          # nothing created, not even an output dir
    if name == "report-output-is-a-file":
        assert (tmp_path / "occupied").read_text() == "keep me"

