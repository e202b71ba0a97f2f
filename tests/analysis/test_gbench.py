"""Specification of Google Benchmark JSON, both ways (analysis/gbench.py,
analysis/to_gbench.py), on real files:

* micro_small.json: a small real spill-micro run (3 repetitions, with
  aggregates), made by
  build-d/harness/micro/spill-micro --benchmark_repetitions=3
      --benchmark_filter='^(ref_sink/batch=512|fanin/spill/P=(1|2)/cap=1024/batch=(512|1024)/nb=0|fanin/(boost_spsc_bulk|mutex_deque)/)'
      --benchmark_out=tests/analysis/fixtures/micro_small.json --benchmark_out_format=json
* bench_small.json: a small real spill-bench sweep (bench_small.sweep).
"""

from __future__ import annotations

import json
import os

import pytest

import gbench
import spill_results as sr
import stats
from conftest import FIXTURES

MICRO = os.path.join(FIXTURES, "micro_small.json")
BENCH = os.path.join(FIXTURES, "bench_small.json")
SPILL_1_1 = "fanin/spill/P=1/cap=1024/batch=512/nb=0"


def raw(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


# ------------------------------------------------------------ reading spill-micro

def test_a_micro_benchmark_name_carries_contender_producers_capacity_batch_and_neighbours():
    parsed = gbench.parse_name("fanin/spill/P=1/cap=65536/batch=16384/nb=0/min_time:0.250/real_time")
    assert parsed["id"] == "fanin/spill/P=1/cap=65536/batch=16384/nb=0"
    assert (parsed["scenario"], parsed["contender"]) == ("fanin", "spill")
    assert parsed["params"] == {"producers": 1, "ring_size": 65536, "batch": 16384, "busy_neighbours": 0}
    assert parsed["options"] == ["min_time:0.250", "real_time"]


def test_a_real_spill_micro_run_reads_as_a_results_document_with_every_repetition():
    doc = gbench.load_results(MICRO)
    points = sr.points_by_id(doc)
    assert set(points) == {SPILL_1_1, "fanin/spill/P=1/cap=1024/batch=1024/nb=0", "fanin/spill/P=2/cap=1024/batch=512/nb=0",
                           "fanin/spill/P=2/cap=1024/batch=1024/nb=0", "ref_sink/batch=512",
                           "fanin/boost_spsc_bulk/P=1/cap=1024/batch=64/nb=0", "fanin/mutex_deque/P=1/cap=1024/batch=1/nb=0"}
    spill = points[SPILL_1_1]
    assert spill["facts"]["contender"] == "spill" and spill["facts"]["job"] == "1->1"
    assert spill["config"] == {"capacity_items": 1024, "batch_items": 512}
    entries = [e for e in raw(MICRO)["benchmarks"]
               if e["run_type"] == "iteration" and e["run_name"].startswith(SPILL_1_1 + "/")]
    assert len(spill["repetitions"]) == len(entries) == 3
    for rep, entry in zip(spill["repetitions"], entries):
        assert rep["items_per_second"] == entry["items_per_second"]
        assert rep["seconds"] == pytest.approx(entry["real_time"] * 1e-9 * entry["iterations"])
        assert rep["counters"]["cpu_seconds"] == pytest.approx(entry["cpu_time"] * 1e-9 * entry["iterations"])
        assert rep["counters"]["allocs_per_round"] == entry["allocs_per_round"]


def test_the_median_of_the_repetitions_equals_google_benchmarks_own_median_aggregate():
    doc = gbench.load_results(MICRO)
    for entry in raw(MICRO)["benchmarks"]:
        if entry.get("aggregate_name") == "median" and "items_per_second" in entry:
            ident = gbench.parse_name(entry["run_name"])["id"]
            point = sr.points_by_id(doc)[ident]
            assert stats.median(sr.metric_values(point, "items_per_second")) == pytest.approx(entry["items_per_second"])


def test_a_benchmark_that_reported_an_error_fails_its_checks_and_keeps_no_measurement():
    data = raw(MICRO)
    broken = next(e for e in data["benchmarks"] if e["run_name"].startswith("ref_sink"))
    broken.update(error_occurred=True, error_message="checksum mismatch")
    doc = gbench.read_gbench(data, "x.json")
    point = sr.points_by_id(doc)["ref_sink/batch=512"]
    assert point["checks"] == {"passed": False, "message": "checksum mismatch"}
    assert len(point["repetitions"]) == 2        # the failed repetition has no numbers to keep


def test_a_file_with_only_aggregates_is_refused_with_the_reason(tmp_path):
    data = raw(MICRO)
    data["benchmarks"] = [e for e in data["benchmarks"] if e["run_type"] == "aggregate"]
    path = tmp_path / "agg.json"
    path.write_text(json.dumps(data))
    with pytest.raises(sr.ResultError, match="only aggregate entries .*--benchmark_report_aggregates_only"):
        gbench.load_results(str(path))


def test_report_compare_and_gate_take_spill_micro_json(cli, tmp_path):
    out = tmp_path / "report"
    result = cli("report.py", MICRO, "-o", str(out))
    assert result.returncode == 0, result.stderr
    md = (out / "report.md").read_text()
    assert "- 1 -> 1: spill" in md and "boost_spsc_bulk" in md
    same = cli("compare.py", MICRO, MICRO)
    assert same.returncode == 0 and "changed beyond noise: none (7 points compared" in same.stdout
    gate = cli("gate.py", "--baseline", MICRO, "--candidate", MICRO, "--max-regression", "5")
    assert gate.returncode == 0 and gate.stdout.splitlines()[-1] == "gate: pass (7 points)"


def test_the_gate_fails_a_micro_run_that_lost_a_benchmark(cli, tmp_path):
    data = raw(MICRO)
    data["benchmarks"] = [e for e in data["benchmarks"] if not e["name"].startswith("ref_sink")]
    path = tmp_path / "fewer.json"
    path.write_text(json.dumps(data))
    result = cli("gate.py", "--baseline", MICRO, "--candidate", str(path), "--max-regression", "5")
    assert result.returncode == 1
    assert f"gate: MISSING ref_sink/batch=512: in {MICRO}, not in {path}" in result.stdout


# ------------------------------------------------------------ writing a sweep

def test_a_sweep_converts_to_one_iteration_entry_per_point_and_repetition_with_aggregates():
    doc = sr.load(BENCH)
    out = gbench.to_gbench(doc)
    iterations = [e for e in out["benchmarks"] if e["run_type"] == "iteration"]
    assert len(iterations) == sum(len(p["repetitions"]) for p in doc["points"])
    point = doc["points"][3]
    mine = [e for e in iterations if e["name"] == point["id"]]
    assert [e["repetition_index"] for e in mine] == list(range(len(point["repetitions"])))
    for entry, rep in zip(mine, point["repetitions"]):
        assert entry["iterations"] == rep["items"] and entry["time_unit"] == "ns"
        assert entry["real_time"] == pytest.approx(rep["seconds"] / rep["items"] * 1e9)
        assert entry["ns_per_item"] == entry["real_time"]
        assert entry["items_per_second"] == rep["items_per_second"]
        assert entry["cpu_time"] == pytest.approx(rep["counters"]["cpu_seconds"] / rep["items"] * 1e9)
        assert "PAPI_TOT_CYC" not in entry            # a null counter is left out, never written as 0
    aggregates = {e["aggregate_name"]: e for e in out["benchmarks"]
                  if e["run_type"] == "aggregate" and e["run_name"] == point["id"]}
    assert set(aggregates) == {"mean", "median", "stddev", "cv"}
    assert aggregates["median"]["items_per_second"] == pytest.approx(
        stats.median([r["items_per_second"] for r in point["repetitions"]]))
    assert aggregates["cv"]["aggregate_unit"] == "percentage"


def test_a_converted_sweep_reads_back_with_the_same_ids_and_numbers():
    doc = sr.load(BENCH)
    back = gbench.read_gbench(gbench.to_gbench(doc), "converted.json")
    assert [p["id"] for p in back["points"]] == [p["id"] for p in doc["points"]]
    for before, after in zip(doc["points"], back["points"]):
        assert after["scenario"] == before["scenario"] and after["params"]["producers"] == before["params"]["producers"]
        assert [r["items_per_second"] for r in after["repetitions"]] == \
               pytest.approx([r["items_per_second"] for r in before["repetitions"]])


def test_to_gbench_cli_writes_a_file_google_benchmark_tools_read(cli, tmp_path):
    out = tmp_path / "sweep.gbench.json"
    result = cli("to_gbench.py", BENCH, "-o", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert set(data) == {"context", "benchmarks"}
    for entry in data["benchmarks"]:          # the fields Google Benchmark's compare.py reads
        assert {"name", "run_name", "run_type", "real_time", "cpu_time", "time_unit", "iterations"} <= set(entry)
    # ...and this project's tools read it back as a sweep:
    assert cli("gate.py", "--baseline", str(out), "--candidate", BENCH, "--max-regression", "5").returncode == 0


def test_to_gbench_refuses_a_repetition_without_cpu_time_and_writes_nothing(cli, tmp_path):
    doc = raw(BENCH)
    del doc["points"][0]["repetitions"][1]["counters"]["cpu_seconds"]
    src = tmp_path / "no_cpu.json"
    src.write_text(json.dumps(doc))
    out = tmp_path / "out.json"
    result = cli("to_gbench.py", str(src), "-o", str(out))
    assert result.returncode == 2 and not out.exists()
    assert result.stderr.startswith("to_gbench.py: error: ") and "repetitions[1]: no cpu_seconds counter" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("script,args", [("report.py", ["-o", "OUT"]), ("compare.py", ["MICRO"]),
                                         ("gate.py", None)])
def test_a_bad_google_benchmark_entry_is_one_error_line_naming_it(cli, tmp_path, script, args):
    data = raw(MICRO)
    data["benchmarks"][0]["time_unit"] = "fortnights"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    out = tmp_path / "out"
    if script == "gate.py":
        argv = ["--baseline", MICRO, "--candidate", str(bad), "--max-regression", "5"]
    else:
        argv = [str(bad)] + [str(out) if a == "OUT" else (MICRO if a == "MICRO" else a) for a in args]
    result = cli(script, *argv)
    assert result.returncode == 2 and result.stdout == "" and not out.exists()
    assert result.stderr.count("\n") == 1
    assert "benchmarks[0]" in result.stderr and "time_unit 'fortnights'" in result.stderr
