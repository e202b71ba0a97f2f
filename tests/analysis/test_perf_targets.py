"""analysis/perf_targets.py: the issue-7 targets as same-run ratios of medians.

The fixture perf_targets_pass.json has the shape of a spill-micro Google
Benchmark JSON run (three repetitions, plus aggregate entries that must be
ignored); its values are invented so that every target is met. The miss cases
edit one benchmark of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ANALYSIS = os.path.join(os.path.dirname(os.path.dirname(HERE)), "analysis")
if ANALYSIS not in sys.path:
    sys.path.insert(0, ANALYSIS)

import perf_targets as pt  # noqa: E402

PASS = os.path.join(HERE, "perf_targets_pass.json")


def good_doc() -> dict:
    with open(PASS, encoding="utf-8") as f:
        return json.load(f)


def set_metric(doc: dict, run_name: str, metric: str, values: list[float]) -> dict:
    """Sets `metric` of the repetitions of `run_name`, in repetition order."""
    reps = [e for e in doc["benchmarks"] if e["run_name"] == run_name and e["run_type"] == "iteration"]
    assert len(reps) == len(values)
    for e, v in zip(sorted(reps, key=lambda e: e["repetition_index"]), values):
        e[metric] = v
    return doc


def by_id(results) -> dict:
    return {r.target.id: r for r in results}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(ANALYSIS, "perf_targets.py"), *args],
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))


def run_main(capsys, *args: str):
    """Runs the front end in-process (fast); returns (status, stdout, stderr)."""
    status = pt.main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def write(tmp_path, doc, name="run.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc, encoding="utf-8")
    return str(path)


def test_option_suffixes_are_stripped_from_run_names():
    assert pt.base_name("idle_pool/1s/iterations:1/real_time") == "idle_pool/1s"
    assert pt.base_name("fanin/spill/real_time") == "fanin/spill"
    assert pt.base_name("push_drop/N=1024/B=8") == "push_drop/N=1024/B=8"


def test_every_target_is_met_on_the_pass_fixture():
    results = pt.evaluate_all(pt.parse(good_doc()))
    assert [r.target.id for r in results] == [f"T{i}" for i in range(1, 10)]
    assert all(r.passed for r in results), pt.format_table(results)


def test_a_ratio_is_the_ratio_of_the_medians_and_the_spread_pairs_repetitions():
    r = by_id(pt.evaluate_all(pt.parse(good_doc())))["T1"]
    # push_drop medians 2.0e9, masked store 2.2e9; per-repetition ratios 2.0/2.2, 2.1/2.2, 1.9/2.3
    assert r.measured == pytest.approx(2.0 / 2.2)
    assert r.low == pytest.approx(1.9 / 2.3)
    assert r.high == pytest.approx(2.1 / 2.2)


def test_aggregate_entries_are_ignored():
    doc = good_doc()
    for e in doc["benchmarks"]:
        if e["run_type"] == "aggregate" and "items_per_second" in e:
            e["items_per_second"] = 1.0  # would wreck every rate target if used
    assert all(r.passed for r in pt.evaluate_all(pt.parse(doc)))


def test_a_round_trip_is_better_when_smaller():
    doc = set_metric(good_doc(), "round_trip/workers=1/real_time", "real_time", [400.0, 410.0, 390.0])
    r = by_id(pt.evaluate_all(pt.parse(doc)))["T3"]
    assert r.measured == pytest.approx(400.0 / 200.0)
    assert not r.passed


def test_the_round_trip_floor_is_the_faster_ping_pong():
    doc = set_metric(good_doc(), "ref_pingpong_pause/real_time", "real_time", [100.0, 100.0, 100.0])
    r = by_id(pt.evaluate_all(pt.parse(doc)))["T3"]
    assert r.measured == pytest.approx(260.0 / 100.0)
    assert not r.passed


def test_replacements_are_printed_but_do_not_gate_while_their_target_is_reachable(tmp_path, capsys):
    doc = set_metric(good_doc(), "ref_switch_pingpong/real_time", "real_time", [1.0, 1.0, 1.0])
    status, out, _ = run_main(capsys, write(tmp_path, doc))
    assert status == 0
    proposed = out.split("Replacements")[1]
    assert [line.split()[-1] for line in proposed.splitlines() if line.startswith("T9'")] == ["MISS"]


def pingpong_fixture(switch_ns: float, oversubscribed_ns: float) -> dict:
    """The pass fixture with the ping-pong floors at 100 ns and the given switch floor and T9 round trip."""
    doc = good_doc()
    for name in pt.PINGPONGS:
        doc = set_metric(doc, f"{name}/real_time", "real_time", [100.0, 100.0, 100.0])
    doc = set_metric(doc, "round_trip/workers=1/real_time", "real_time", [120.0, 120.0, 120.0])  # T3 stays met
    doc = set_metric(doc, "ref_switch_pingpong/real_time", "real_time", [switch_ns] * 3)
    return set_metric(doc, "round_trip_oversubscribed/workers=2/real_time", "real_time", [oversubscribed_ns] * 3)


def test_a_target_the_run_proves_out_of_reach_is_gated_by_its_replacement(tmp_path, capsys):
    # A thread switch alone costs 30x the ping-pong: T9 (<= 4x) cannot be met; T9' (<= 4x the switch) gates.
    doc = pingpong_fixture(switch_ns=3000.0, oversubscribed_ns=6000.0)
    runs = pt.parse(doc)
    t9 = next(t for t in pt.TARGETS if t.id == "T9")
    assert "out of reach here: at least 30" in pt.out_of_reach(t9, runs)
    status, out, _ = run_main(capsys, write(tmp_path, doc))
    assert status == 0 and "gated by T9'" in out and "missed" not in out


def test_a_replacement_that_misses_fails_the_run(tmp_path, capsys):
    doc = pingpong_fixture(switch_ns=3000.0, oversubscribed_ns=20000.0)  # 6.7x the switch floor
    status, out, _ = run_main(capsys, write(tmp_path, doc))
    assert status == 1 and "missed: T9'" in out


def test_a_reachable_target_that_misses_is_not_excused(tmp_path, capsys):
    # The switch floor is 2x the ping-pong, so T9 is reachable; 6x misses it and no replacement steps in.
    doc = pingpong_fixture(switch_ns=200.0, oversubscribed_ns=600.0)
    runs = pt.parse(doc)
    assert pt.out_of_reach(next(t for t in pt.TARGETS if t.id == "T9"), runs) == ""
    status, out, _ = run_main(capsys, write(tmp_path, doc))
    assert status == 1 and "missed: T9" in out and "gated by" not in out


def add_copy(doc: dict, source: str, name: str) -> dict:
    """Adds benchmark `name` as a copy of the repetitions of `source`."""
    import copy
    doc["benchmarks"] += [dict(copy.deepcopy(e), name=name, run_name=name)
                          for e in doc["benchmarks"] if e["run_name"] == source and e["run_type"] == "iteration"]
    return doc


def test_the_fan_in_ceiling_is_the_slower_floor_over_the_best_baseline():
    doc = add_copy(good_doc(), "push_drop/N=1024/B=8", "ref_checksum_sink")
    doc = set_metric(doc, "ref_checksum_sink", "items_per_second", [5.0e8, 6.0e8, 5.5e8])
    doc = add_copy(doc, "push_drop/N=1024/B=8", "ref_round_handoff")
    doc = set_metric(doc, "ref_round_handoff", "items_per_second", [9.0e8, 9.0e8, 9.0e8])
    doc = set_metric(doc, "fanin/boost_spsc_bulk/real_time", "items_per_second", [4.0e8, 4.0e8, 4.0e8])
    ceiling, how = pt.t4_ceiling(pt.parse(doc))
    assert ceiling == pytest.approx(6.0e8 / 4.0e8) and "ref_checksum_sink" in how
    t4 = next(t for t in pt.TARGETS if t.id == "T4")
    assert "out of reach here: at most 1.5" in pt.out_of_reach(t4, pt.parse(doc))


def test_fan_in_is_compared_with_the_best_baseline():
    doc = set_metric(good_doc(), "fanin/tbb_bounded/real_time", "items_per_second", [2.0e8, 2.0e8, 2.0e8])
    r = by_id(pt.evaluate_all(pt.parse(doc)))["T4"]
    assert "tbb_bounded" in r.note
    assert r.measured == pytest.approx(3.0e8 / 2.0e8)
    assert not r.passed


def test_one_allocation_in_any_pool_scenario_misses_t6():
    doc = set_metric(good_doc(), "mpsm_io/mergers=2/real_time", "allocs_per_round", [0.0, 0.001, 0.0])
    r = by_id(pt.evaluate_all(pt.parse(doc)))["T6"]
    assert not r.passed and "mpsm_io/mergers=2" in r.note


def test_the_pass_fixture_exits_zero_and_prints_the_table():
    out = cli(PASS)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "9/9 targets met" in out.stdout
    for i in range(1, 10):
        assert f"T{i} " in out.stdout


def test_a_missed_target_exits_one_and_names_it(tmp_path, capsys):
    doc = set_metric(good_doc(), "idle_pool/1s/iterations:1/real_time", "cpu_fraction", [0.05, 0.04, 0.06])
    status, out, _ = run_main(capsys, write(tmp_path, doc))
    assert status == 1
    assert "missed: T7" in out
    assert [line.split()[-1] for line in out.splitlines() if line.startswith("T7")] == ["MISS"]


def test_a_missing_benchmark_is_a_miss_that_names_it(tmp_path, capsys):
    doc = good_doc()
    doc["benchmarks"] = [e for e in doc["benchmarks"] if not e["run_name"].startswith("mpsm_io/mergers=1")]
    status, out, _ = run_main(capsys, write(tmp_path, doc))
    assert status == 1
    assert "mpsm_io/mergers=1 missing" in out


def test_a_failed_self_check_fails_the_run(tmp_path, capsys):
    doc = good_doc()
    for e in doc["benchmarks"]:
        if e["run_name"] == "fanin/spill_sequenced/real_time" and e["run_type"] == "iteration":
            e["error_occurred"] = True
            e["error_message"] = "fanin: produced != delivered + overflowed"
    status, out, _ = run_main(capsys, write(tmp_path, doc))
    assert status == 1
    assert "T5" in out and "failed its check" in out
    assert "benchmark fanin/spill_sequenced failed its self-check" in out


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    (json.dumps({"context": {}}), "no \"benchmarks\" list"),
    (json.dumps({"benchmarks": [{"run_type": "iteration"}]}), "benchmarks[0]"),
    (json.dumps({"benchmarks": [{"name": "x", "run_name": "x", "real_time": "fast"}]}), "'fast'"),
    (json.dumps({"benchmarks": [{"name": "x", "run_name": "x", "real_time": 1, "time_unit": "fortnight"}]}), "'fortnight'"),
    (json.dumps({"benchmarks": []}), "no benchmark repetitions"),
])
def test_bad_input_exits_two_with_one_line(tmp_path, capsys, content, words):
    status, out, err = run_main(capsys, write(tmp_path, content))
    assert status == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and lines[0].startswith("perf_targets: ")


def test_an_unreadable_file_exits_two(tmp_path, capsys):
    status, _, err = run_main(capsys, str(tmp_path / "absent.json"))
    assert status == 2 and "cannot read" in err


def test_a_busy_machine_is_flagged(tmp_path, capsys):
    doc = good_doc()
    doc["context"]["load_avg"] = [3.5, 2.0, 1.0]
    status, out, _ = run_main(capsys, write(tmp_path, doc))
    assert status == 0 and "load average 3.50 on 2 CPUs" in out


# --------------------------------------------------------------------------
# --sweep: the system-level cross-checks from a run of scenarios/perf


def perf_sweep_doc(fan=4e7, best_base=1e7, seq=3.8e7, m1=2e7, m2=4e7, allocs=0.0) -> dict:
    import synth
    def point(scenario, ips, **params):
        p = synth.make_point(scenario, dict(synth.BASE_PARAMS, **params),
                             [synth.repetition(1000, ips * f) for f in (0.98, 1.0, 1.02)])
        if scenario in pt.POOL_SCENARIOS:
            p["cost"] = {"allocations_per_round": allocs}
        return p
    return synth.make_doc([point("fan_in", fan), point("baseline_mutex", best_base / 2),
                           point("baseline_boost_spsc", best_base), point("sequenced", seq),
                           point("mpsm", m1, producers=2, mergers=1), point("mpsm", m2, producers=2, mergers=2)])


def test_sweep_cross_checks_compute_each_ratio_from_the_points():
    checks = {c.id: c for c in pt.sweep_checks(perf_sweep_doc())}
    assert checks["S4"].measured == pytest.approx(4.0) and "baseline_boost_spsc" in checks["S4"].note
    assert checks["S5"].measured == pytest.approx(0.95) and checks["S5"].passed
    assert checks["S6"].measured == 0 and checks["S6"].passed
    assert checks["S8"].measured == pytest.approx(2.0) and checks["S8"].passed


def test_sweep_cross_checks_report_misses_and_missing_points():
    doc = perf_sweep_doc(allocs=3.0)
    doc["points"] = [p for p in doc["points"] if p["scenario"] != "sequenced"]
    checks = {c.id: c for c in pt.sweep_checks(doc)}
    assert not checks["S6"].passed and "worst" in checks["S6"].note
    assert checks["S5"].measured is None and "missing" in checks["S5"].note


def test_sweep_cross_checks_are_printed_but_do_not_change_the_exit_status(tmp_path, capsys):
    sweep = write(tmp_path, perf_sweep_doc(allocs=5.0), name="perf.json")
    status, out, _ = run_main(capsys, write(tmp_path, good_doc()), "--sweep", sweep)
    assert status == 0 and "cross-checks, not gating" in out and "S6" in out


def test_a_sweep_file_that_is_not_a_result_file_is_one_line_and_exit_2(tmp_path, capsys):
    status, _, err = run_main(capsys, write(tmp_path, good_doc()), "--sweep", write(tmp_path, {"x": 1}, name="bad.json"))
    assert status == 2 and len(err.strip().splitlines()) == 1 and "bad.json" in err
