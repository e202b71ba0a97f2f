"""analysis/perf_targets.py: the performance targets as same-run ratios of medians.

The runs here are built in code with the shape of spill-micro's Google
Benchmark JSON (repetitions plus aggregate entries that must be ignored), with
invented values chosen so that every target is met; each miss case changes
one benchmark.
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

REPS = 3


def entry(name: str, rep: int, **fields) -> dict:
    e = {"name": name + "/real_time", "run_name": name + "/real_time", "run_type": "iteration",
         "repetition_index": rep, "time_unit": "ns", "real_time": 1000.0, "cpu_time": 1000.0}
    e.update(fields)
    return e


def add(doc: dict, name: str, values: list[float] | float, metric: str = "items_per_second", **extra) -> None:
    values = values if isinstance(values, list) else [values] * REPS
    for rep, v in enumerate(values):
        doc["benchmarks"].append(entry(name, rep, **{metric: v}, **extra))
    doc["benchmarks"].append({"name": name + "_median", "run_name": name, "run_type": "aggregate",
                              "aggregate_name": "median", "time_unit": "ns", "real_time": 1.0, metric: -1.0})


def fanin(contender: str, p: int, cap: int, batch: int, nb: int = 0, alone: bool = False, consumer: str = "") -> str:
    consumer = consumer or ("alone" if alone else "")
    return f"fanin/{contender}/P={p}/cap={cap}/batch={batch}/nb={nb}" + (f"/consumer={consumer}" if consumer else "")


def good_run() -> dict:
    """Every target met."""
    doc = {"context": {"host_name": "testhost", "date": "2026-01-01T00:00:00", "commit": "abc1234",
                       "num_cpus": 2, "load_avg": [0.1]}, "benchmarks": []}
    add(doc, "push_count/N=1024/B=8", [1.8e9, 1.9e9, 1.7e9])
    add(doc, "push_count/N=65536/B=8", 1.8e9)
    add(doc, "ref_masked_store/N=1024/B=8", [2.0e9, 2.0e9, 2.1e9])
    add(doc, "ref_masked_store/N=65536/B=8", 2.0e9)
    add(doc, "push_collect/N=1024/B=8", 1.0e9)
    add(doc, "ref_deque_evict/N=1024/B=8", 0.4e9)
    add(doc, "ref_pingpong", 200.0, metric="real_time")
    add(doc, "ref_pingpong_pause", 150.0, metric="real_time")
    add(doc, "ref_switch_pingpong", 500.0, metric="real_time")
    add(doc, "round_trip/workers=1", 200.0, metric="real_time", allocs_per_round=0.0)
    add(doc, "round_trip_oversubscribed/workers=2", 550.0, metric="real_time", allocs_per_round=0.0)
    add(doc, "idle_pool/1s", 1e-4, metric="cpu_fraction")
    add(doc, "mpsm_io/mergers=1", 1.0e6, allocs_per_round=0.0)
    add(doc, "mpsm_io/mergers=2", 1.95e6, allocs_per_round=0.0)
    add(doc, "ref_sink/batch=512", 2.0e9)
    add(doc, "ref_sink/batch=65536", 2.2e9)
    add(doc, "ref_round_handoff/batch=65536", 1.5e9)
    for shape, spill, queue in (((1, 0), (65536, 16384, 2.0e9), (1.5e9,)), ((1, 1), (65536, 65536, 1.2e9), (0.3e9,)),
                                ((2, 0), (65536, 65536, 1.8e9), (1.1e9,)), ((4, 0), (65536, 65536, 1.8e9), (1.0e9,))):
        p, nb = shape
        add(doc, fanin("spill", p, *spill[:2], nb), spill[2], allocs_per_round=0.0)
        add(doc, fanin("spill", p, 1024, 512, nb), 0.9e9, allocs_per_round=0.0)
        add(doc, fanin("boost_spsc", p, 65536, 4096, nb), queue[0])
        add(doc, fanin("boost_spsc", p, 1024, 512, nb), 0.5e9 if nb == 0 else 0.2e9)
        add(doc, fanin("mutex_deque", p, 16384, 4096, nb), queue[0] / 10)
    add(doc, fanin("spill_sequenced", 1, 65536, 16384), 1.9e9, allocs_per_round=0.0)
    return doc


def set_values(doc: dict, name: str, metric: str, values: list[float]) -> dict:
    reps = sorted((e for e in doc["benchmarks"] if e["run_type"] == "iteration" and pt.base_name(e["run_name"]) == name),
                  key=lambda e: e["repetition_index"])
    assert len(reps) == len(values), name
    for e, v in zip(reps, values):
        e[metric] = v
    return doc


def results(doc: dict, sweep: dict | None = None) -> dict:
    return {r.id: r for r in pt.evaluate(pt.parse(doc), sweep)}


def good_sweep() -> dict:
    pts = []
    for producers, spill, best_queue in ((1, 9e8, 6e8), (2, 8e8, 5e8), (4, 7e8, 4e8)):
        pts.append({"scenario": "fan_in", "params": {"producers": producers}, "checks": {"passed": True},
                    "summary": {"items_per_second": {"median": spill}}})
        pts.append({"scenario": "baseline_boost_spsc", "params": {"producers": producers}, "checks": {"passed": True},
                    "summary": {"items_per_second": {"median": best_queue}}})
        pts.append({"scenario": "baseline_mutex", "params": {"producers": producers}, "checks": {"passed": True},
                    "summary": {"items_per_second": {"median": best_queue / 3}}})
    return {"schema_version": 1, "points": pts}


def main(capsys, *args: str):
    status = pt.main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def write(tmp_path, doc, name="run.json") -> str:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return str(path)


# ---- parsing --------------------------------------------------------------------

def test_option_suffixes_are_stripped_from_run_names():
    assert pt.base_name("idle_pool/1s/iterations:1/real_time") == "idle_pool/1s"
    assert pt.base_name("fanin/spill/P=1/cap=1024/batch=512/nb=0/min_time:0.250/real_time") == "fanin/spill/P=1/cap=1024/batch=512/nb=0"


def test_a_fan_in_name_carries_its_configuration():
    c = pt.fanin_config("fanin/moodycamel_cq/P=2/cap=16384/batch=4096/nb=1")
    assert (c.contender, c.producers, c.capacity, c.batch, c.neighbours) == ("moodycamel_cq", 2, 16384, 4096, 1)
    assert pt.fanin_config("ref_sink/batch=512") is None
    assert c.consumer is None and c.describe() == "cap=16384 batch=4096"


def test_a_fan_in_name_carries_its_placement():
    c = pt.fanin_config("fanin/spill/P=4/cap=65536/batch=16384/nb=0/consumer=alone")
    assert (c.contender, c.producers, c.capacity, c.batch, c.consumer) == ("spill", 4, 65536, 16384, "alone")
    assert c.describe() == "cap=65536 batch=16384 consumer alone"
    c = pt.fanin_config("fanin/boost_spsc/P=1/cap=65536/batch=16384/nb=1/consumer=with_producer")
    assert (c.neighbours, c.consumer) == (1, "with_producer")
    assert c.describe() == "cap=65536 batch=16384 consumer with producer"
    with pytest.raises(pt.InputError, match="consumer=shared"):
        pt.fanin_config("fanin/spill/P=4/cap=65536/batch=16384/nb=0/consumer=shared")


def test_aggregate_entries_are_ignored():
    runs = pt.parse(good_run())
    assert runs["ref_sink/batch=512"].values["items_per_second"] == {0: 2.0e9, 1: 2.0e9, 2: 2.0e9}


# ---- the targets ----------------------------------------------------------------

def test_every_target_is_met_on_the_good_run():
    rs = pt.evaluate(pt.parse(good_run()), good_sweep())
    assert [r.id for r in rs] == ["T1", "T1b", "T2", "T3", "T4", "T4f", "T4s", "T4b2", "T4b4", "T5", "T6", "T7", "T8", "T9",
                                  "T11", "H"]
    assert all(r.passed for r in rs), pt.format_table(rs)


def test_a_ratio_is_the_ratio_of_the_medians_and_the_spread_pairs_repetitions():
    r = results(good_run())["T1"]
    assert r.measured == pytest.approx(1.8e9 / 2.0e9)
    assert (r.low, r.high) == (pytest.approx(1.7 / 2.1), pytest.approx(1.9 / 2.0))


def test_a_round_trip_is_compared_with_the_faster_ping_pong():
    r = results(good_run())["T3"]
    assert r.measured == pytest.approx(200.0 / 150.0)
    assert "ref_pingpong_pause" in r.note


def test_each_contender_is_compared_at_its_best_configuration():
    r = results(good_run())["T4"]
    assert r.measured == pytest.approx(2.0e9 / 1.5e9)  # spill cap=65536 batch=16384 vs boost_spsc cap=65536 batch=4096
    assert "spill cap=65536 batch=16384" in r.note and "boost_spsc cap=65536 batch=4096" in r.note


def test_a_peer_whose_best_configuration_wins_makes_the_fan_in_miss_with_the_reason():
    doc = set_values(good_run(), fanin("boost_spsc", 1, 65536, 4096), "items_per_second", [1.9e9] * REPS)
    r = results(doc)["T4"]
    assert not r.passed and r.measured == pytest.approx(2.0 / 1.9)
    assert "of the sink alone" in r.note


def test_a_placement_is_one_more_configuration_each_contender_is_compared_at_its_best():
    doc = good_run()
    add(doc, fanin("boost_spsc", 2, 65536, 4096, alone=True), 1.7e9)  # the queue's best 2 -> 1 is now consumer-alone
    r = results(doc)["T4b2"]
    assert r.measured == pytest.approx(1.8e9 / 1.7e9) and not r.passed
    assert "boost_spsc cap=65536 batch=4096 consumer alone" in r.note
    add(doc, fanin("spill", 2, 65536, 65536, alone=True), 2.9e9)
    r = results(doc)["T4b2"]
    assert r.measured == pytest.approx(2.9e9 / 1.7e9) and r.passed
    assert "spill cap=65536 batch=65536 consumer alone" in r.note


def test_beside_a_neighbour_consumer_and_producer_on_one_cpu_is_a_placement_every_contender_has():
    doc = good_run()
    assert results(doc)["T11"].measured == pytest.approx(1.2e9 / 0.3e9)
    add(doc, fanin("boost_spsc", 1, 65536, 16384, nb=1, consumer="with_producer"), 0.5e9)  # the queue gains more
    r = results(doc)["T11"]
    assert r.measured == pytest.approx(1.2e9 / 0.5e9) and not r.passed
    assert "boost_spsc cap=65536 batch=16384 consumer with producer" in r.note
    add(doc, "ref_one_core/batch=65536", 2.0e9)
    add(doc, fanin("spill", 1, 65536, 65536, nb=1, consumer="with_producer"), 1.4e9)
    r = next(x for x in pt.evaluate(pt.parse(doc), None, 2) if x.id == "T11")  # on 2 CPUs
    assert "of the CPU-time bound (1.33 CPUs x ref_one_core" in r.note
    assert not r.passed and "0.70 of one CPU's worth, the bound of its placement (ref_one_core, 4.00x the best queue)" in r.note
    set_values(doc, fanin("spill", 1, 65536, 65536, nb=1, consumer="with_producer"), "items_per_second", [1.6e9] * REPS)
    r = results(doc)["T11"]
    assert r.measured == pytest.approx(1.6e9 / 0.5e9) and r.passed
    assert "spill cap=65536 batch=65536 consumer with producer" in r.note
    assert results(doc)["T4"].measured == pytest.approx(2.0e9 / 1.5e9)  # the quiet shape does not see them


def test_the_small_shape_only_admits_capacity_1024_and_batches_up_to_512():
    r = results(good_run())["T4s"]
    assert r.measured == pytest.approx(0.9e9 / 0.5e9)
    assert "cap=1024 batch=512" in r.note


def test_a_missed_fan_in_weighs_the_cpu_time_bound_and_the_bare_handoff_against_the_best_queue():
    # T11: spill 1.2e9 against boost_spsc 0.5e9 beside one busy neighbour (2.4x, the target is 3).
    doc = set_values(good_run(), fanin("boost_spsc", 1, 65536, 4096, 1), "items_per_second", [0.5e9] * REPS)
    add(doc, "ref_one_core/batch=4096", 1.5e9)
    add(doc, "ref_one_core/batch=512", 1.0e9)
    r = {x.id: x for x in pt.evaluate(pt.parse(doc), None, cpus=2)}["T11"]
    assert not r.passed and r.measured == pytest.approx(2.4)
    # Two threads and one neighbour on 2 CPUs: 4/3 of a CPU; the fastest one-core rate, 1.5e9, gives 2.0e9.
    assert "0.60 of the CPU-time bound (1.33 CPUs x ref_one_core, 2000 M/s, 4.00x the best queue)" in r.note
    assert "ref_round_handoff" not in r.note  # measured without the neighbour: no comparison
    # T4b2 (3 threads, no neighbour, 2 CPUs): 2 CPUs' worth, 3.0e9; the bare handoff named when measured.
    doc = set_values(doc, fanin("boost_spsc", 2, 65536, 4096), "items_per_second", [1.5e9] * REPS)
    r = {x.id: x for x in pt.evaluate(pt.parse(doc), None, cpus=2)}["T4b2"]
    assert not r.passed
    assert "0.60 of the CPU-time bound (2 CPUs x ref_one_core, 3000 M/s, 2.00x the best queue)" in r.note
    assert "1.20 of ref_round_handoff at the same round size (which is 1.00x the best queue)" in r.note
    # Without the CPU count, no bound is claimed.
    r = {x.id: x for x in pt.evaluate(pt.parse(doc), None)}["T4b2"]
    assert "CPU-time bound" not in r.note


def test_cpu_share_counts_one_cpu_per_thread_and_a_fair_share_beside_neighbours():
    shapes = {s.id: s for s in pt.SHAPES}
    assert pt.cpu_share(shapes["1->1"], 2) == 2
    assert pt.cpu_share(shapes["4->1"], 2) == 2
    assert pt.cpu_share(shapes["4->1"], 64) == 5
    assert pt.cpu_share(shapes["1->1 contended"], 2) == pytest.approx(4 / 3)
    assert pt.cpu_share(shapes["1->1 contended"], 8) == 2


def test_the_floor_target_uses_the_fastest_sink_and_names_the_move_reference_when_missed():
    r = results(good_run())["T4f"]
    assert r.measured == pytest.approx(2.0e9 / 2.2e9)
    doc = set_values(good_run(), "ref_sink/batch=512", "items_per_second", [4e9] * REPS)
    r = results(doc)["T4f"]
    assert not r.passed and "ref_round_handoff" in r.note


def test_the_handoff_floor_is_the_faster_of_the_cached_and_the_streaming_way():
    runs = pt.parse(good_run())
    assert pt.handoff_rate(runs, 65536) == (1.5e9, "ref_round_handoff")
    assert pt.handoff_rate(runs, 512) == (None, "ref_round_handoff")  # not measured at that size
    doc = good_run()
    add(doc, "ref_round_handoff_stream/batch=65536", 1.8e9)
    add(doc, "ref_round_handoff_stream/batch=4096", 1.9e9)
    runs = pt.parse(doc)
    assert pt.handoff_rate(runs, 65536) == (1.8e9, "ref_round_handoff_stream")
    assert pt.handoff_rate(runs) == (1.9e9, "ref_round_handoff_stream")  # at its best round size
    # A streaming run that failed its check does not count.
    doc = set_values(doc, "ref_round_handoff_stream/batch=65536", "items_per_second", [9e9] * REPS)
    doc["benchmarks"] = [dict(b, error_occurred=True, error_message="bad keys") if b["name"].startswith("ref_round_handoff_stream/batch=65536") else b
                         for b in doc["benchmarks"]]
    assert pt.handoff_rate(pt.parse(doc), 65536) == (1.5e9, "ref_round_handoff")
    # The notes name the faster way.
    doc = set_values(good_run(), "ref_sink/batch=512", "items_per_second", [4e9] * REPS)
    add(doc, "ref_round_handoff_stream/batch=16384", 1.7e9)
    r = results(doc)["T4f"]
    assert "(ref_round_handoff_stream, at its best round size), reaches 0.42 of it" in r.note


def test_the_sequenced_fan_in_is_compared_at_spill_s_best_configuration():
    r = results(good_run())["T5"]
    assert r.measured == pytest.approx(1.9 / 2.0)


def test_one_allocation_in_any_pool_benchmark_misses_t6():
    doc = set_values(good_run(), fanin("spill", 2, 1024, 512), "allocs_per_round", [0.0, 0.5, 0.0])
    r = results(doc)["T6"]
    assert not r.passed and "P=2" in r.note


def test_a_missed_oversubscribed_round_trip_says_what_a_thread_switch_costs():
    doc = set_values(good_run(), "round_trip_oversubscribed/workers=2", "real_time", [5000.0] * REPS)
    r = results(doc)["T9"]
    assert not r.passed and "ref_switch_pingpong" in r.note


def test_a_missed_push_says_what_the_same_job_written_by_hand_reaches():
    doc = good_run()
    add(doc, "ref_evict_count/N=1024/B=8", [1.6e9] * REPS)
    doc = set_values(doc, "push_count/N=1024/B=8", "items_per_second", [1.5e9] * REPS)
    r = results(doc)["T1"]
    assert not r.passed and "ref_evict_count" in r.note and "0.80 of the masked store" in r.note
    assert "ref_evict_count" not in results(doc)["T1b"].note  # passed: no reason given, and none measured at 65536


def test_the_headline_needs_spill_first_at_every_producer_count():
    sweep = good_sweep()
    for p in sweep["points"]:
        if p["scenario"] == "baseline_boost_spsc" and p["params"]["producers"] == 2:
            p["summary"]["items_per_second"]["median"] = 9e8
    r = results(good_run(), sweep)["H"]
    assert not r.passed and "P=2: 0.89x boost_spsc" in r.note


def test_a_headline_without_a_sweep_is_a_miss():
    assert not results(good_run())["H"].passed


def test_a_missing_benchmark_is_a_miss_that_names_it():
    doc = good_run()
    doc["benchmarks"] = [e for e in doc["benchmarks"] if not e["name"].startswith("mpsm_io/mergers=2")]
    r = results(doc)["T8"]
    assert not r.passed and "mpsm_io/mergers=2 was not measured" in r.note


# ---- select: the tuning pass ----------------------------------------------------------

def test_select_picks_every_contender_s_best_configuration_per_shape_and_the_fixed_benchmarks():
    names = pt.select(pt.parse(good_run()))
    assert fanin("spill", 1, 65536, 16384) in names
    assert fanin("spill_sequenced", 1, 65536, 16384) in names
    assert fanin("boost_spsc", 1, 65536, 4096) in names
    assert fanin("boost_spsc", 1, 1024, 512) in names  # the best of the small shape
    regex = pt.filter_regex(names)
    import re
    assert re.search(regex, "push_count/N=1024/B=8/min_time:0.100")
    assert re.search(regex, fanin("spill", 1, 65536, 16384) + "/min_time:0.250/real_time")
    assert not re.search(regex, fanin("spill", 1, 65536, 65536))


def test_a_configuration_that_failed_its_check_is_never_selected():
    doc = good_run()
    for e in doc["benchmarks"]:
        if e["run_name"].startswith(fanin("spill", 1, 65536, 16384)) and e["run_type"] == "iteration":
            e["error_occurred"] = True
            e["error_message"] = "fanin: produced != delivered + overflowed"
    names = pt.select(pt.parse(doc))
    assert fanin("spill", 1, 65536, 16384) not in names
    assert fanin("spill", 1, 1024, 512) in names


# ---- the command line -----------------------------------------------------------------

def test_check_exits_zero_when_every_target_is_met_and_writes_json(tmp_path, capsys):
    micro = write(tmp_path, good_run())
    sweep = write(tmp_path, good_sweep(), "sweep.json")
    out_json = str(tmp_path / "targets.json")
    status, out, _ = main(capsys, "check", micro, "--sweep", sweep, "--json", out_json)
    assert status == 0, out
    assert "16/16 targets met" in out and "host testhost, commit abc1234" in out
    doc = json.loads(open(out_json, encoding="utf-8").read())
    assert doc["format"] == "spill-perf-targets" and doc["context"]["commit"] == "abc1234"
    assert {t["id"] for t in doc["targets"]} >= {"T1", "T4", "H"}


def test_check_exits_one_and_names_a_miss(tmp_path, capsys):
    doc = set_values(good_run(), "push_count/N=1024/B=8", "items_per_second", [1e9] * REPS)
    status, out, _ = main(capsys, "check", write(tmp_path, doc), "--sweep", write(tmp_path, good_sweep(), "s.json"))
    assert status == 1 and "missed: T1" in out and "MISS" in out


def test_a_failed_self_check_fails_the_run(tmp_path, capsys):
    doc = good_run()
    doc["benchmarks"].append(entry("seq_submit/in_order", 0, error_occurred=True, error_message="out of order"))
    status, out, _ = main(capsys, "check", write(tmp_path, doc), "--sweep", write(tmp_path, good_sweep(), "s.json"))
    assert status == 1 and "seq_submit/in_order failed its self-check: out of order" in out


@pytest.mark.parametrize("content, words", [
    ("not json", "not valid JSON"),
    ("[]", "no \"benchmarks\" list"),
    ('{"benchmarks": []}', "no benchmark repetitions"),
    ('{"benchmarks": [{"name": "x", "run_name": "x", "run_type": "iteration", "repetition_index": 0, '
     '"time_unit": "ns", "real_time": "fast"}]}', "expected a finite number"),
])
def test_bad_input_exits_two_with_one_line_naming_the_file(tmp_path, capsys, content, words):
    path = write(tmp_path, content)
    status, _, err = main(capsys, "check", path)
    assert status == 2 and words in err and path in err and err.count("\n") == 1


def test_select_refuses_a_tuning_run_without_a_passing_spill_configuration(tmp_path, capsys):
    doc = {"benchmarks": [entry(fanin("boost_spsc", 1, 1024, 64), 0, items_per_second=1e8)]}
    status, _, err = main(capsys, "select", write(tmp_path, doc))
    assert status == 2 and "no spill fan-in configuration" in err


def test_history_counts_passes_over_the_last_runs(tmp_path, capsys):
    runs = tmp_path / "runs"
    for i, passed in enumerate([True, False, True, True, True]):
        d = runs / f"2026010{i}T000000Z-host-abc"
        d.mkdir(parents=True)
        (d / "targets.json").write_text(json.dumps({"format": "spill-perf-targets", "version": 1, "context": {},
                                                   "targets": [{"id": "T1", "what": "push", "passed": passed},
                                                               {"id": "T9", "what": "rt", "passed": i == 4}]}))
    status, out, _ = main(capsys, "history", str(runs), "--last", "5", "--need", "4")
    assert status == 1  # T9 passed once
    assert "4/5" in out and "1/5" in out
    status, _, _ = main(capsys, "history", str(runs), "--last", "3", "--need", "1")
    assert status == 0


def _runs_with_values(tmp_path) -> str:
    runs = tmp_path / "runs"
    for i, measured in enumerate([1.4, 1.6, 2.0]):
        d = runs / f"2026010{i}T000000Z-host-c{i}"
        d.mkdir(parents=True)
        targets = [{"id": "T3", "what": "rt", "measured": measured, "op": "<=", "bound": 1.5, "passed": measured <= 1.5,
                    "low": measured - 0.2, "high": measured + 0.5}]
        if i != 1:  # T9 absent from the middle run
            targets.append({"id": "T9", "what": "rt2", "measured": None, "op": "<=", "bound": 4.0, "passed": False})
        (d / "targets.json").write_text(json.dumps({"format": "spill-perf-targets", "version": 1,
                                                   "context": {"commit": f"c{i}", "date": f"2026-01-0{i + 1}T00:00:00",
                                                               "host_name": "h"}, "targets": targets}))
    return str(runs)


def test_trend_gives_each_target_per_run_with_its_bound_and_none_where_absent(tmp_path):
    contexts, points, bounds = pt.trend(pt.run_documents(_runs_with_values(tmp_path), 10))
    assert [c["commit"] for c in contexts] == ["c0", "c1", "c2"]
    assert [p.measured for p in points["T3"]] == [1.4, 1.6, 2.0]
    assert [p.passed for p in points["T3"]] == [True, False, False]
    assert points["T3"][2].low == pytest.approx(1.8) and points["T3"][2].high == pytest.approx(2.5)
    assert points["T9"][1] is None and points["T9"][0].measured is None  # absent, then present but unmeasured
    assert bounds == {"T3": ("<=", 1.5), "T9": ("<=", 4.0)}
    contexts, points, _ = pt.trend(pt.run_documents(_runs_with_values(tmp_path / "again"), 2))
    assert [c["commit"] for c in contexts] == ["c1", "c2"] and len(points["T3"]) == 2


def test_history_draws_the_trend_into_a_png_and_a_bad_path_is_one_line(tmp_path, capsys):
    runs = _runs_with_values(tmp_path)
    png = tmp_path / "trend.png"
    status, _, _ = main(capsys, "history", runs, "--last", "3", "--need", "1", "--plot", str(png))
    assert status == 1 and png.read_bytes().startswith(b"\x89PNG")  # 1: T9 never passed; the plot is drawn anyway
    assert sorted(os.listdir(tmp_path)) == ["runs", "trend.png"]  # no temporary file left beside it
    bad = tmp_path / "no-such-dir" / "trend.png"
    status, _, err = main(capsys, "history", runs, "--last", "3", "--need", "1", "--plot", str(bad))
    assert status == 2 and len(err.strip().splitlines()) == 1 and "no-such-dir" in err and not bad.exists()
    status, _, err = main(capsys, "history", runs, "--plot", str(png), "--plot-runs", "0")
    assert status == 2 and "--plot-runs 0" in err


def test_the_front_end_runs_as_a_script(tmp_path):
    path = write(tmp_path, good_run())
    p = subprocess.run([sys.executable, os.path.join(ANALYSIS, "perf_targets.py"), "select", path],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("^((push_")


def test_select_keeps_each_close_contender_s_two_best_configurations_and_drops_the_far_ones():
    doc = {"benchmarks": []}
    add(doc, fanin("spill", 1, 65536, 16384), 2.0e9)
    add(doc, fanin("spill", 1, 65536, 32768), 1.9e9)
    add(doc, fanin("spill", 1, 1024, 512), 0.5e9)  # spill's third best: not repeated
    for contender, rate in (("boost_spsc", 1.5e9), ("moodycamel_cq", 1.2e9), ("mutex_deque", 0.3e9),
                            ("tbb_bounded", 0.05e9), ("boost_queue", 0.01e9)):
        add(doc, fanin(contender, 1, 65536, 4096), rate)
        add(doc, fanin(contender, 1, 16384, 4096), rate * 0.9)
    names = pt.select(pt.parse(doc))
    assert fanin("spill", 1, 65536, 16384) in names and fanin("spill", 1, 65536, 32768) in names
    assert fanin("spill", 1, 1024, 512) in names  # the best of the small shape
    assert fanin("boost_spsc", 1, 16384, 4096) in names  # second best configuration of a close contender
    assert fanin("mutex_deque", 1, 65536, 4096) in names  # within the first three queues
    assert not any("tbb_bounded" in n or "boost_queue" in n for n in names)  # far below the best queue


def test_the_load_warning_reads_the_load_before_the_run_not_the_one_the_tuning_pass_raised():
    # Google Benchmark reads load_avg when the measured pass starts, just after
    # the tuning pass kept both CPUs busy: high on any machine, so never a warning.
    busy_after_tuning = {"num_cpus": 2, "load_avg": [1.9], "load_before_run": "0.20"}
    assert pt.load_warning(pt.context_of({"context": busy_after_tuning})) == ""
    loaded_before = {"num_cpus": 2, "load_avg": [1.9], "load_before_run": "1.70"}
    warning = pt.load_warning(pt.context_of({"context": loaded_before}))
    assert "1.70 on 2 CPUs before the run started" in warning
    # A run that did not record it (older runs, or /proc unreadable) gets no warning.
    assert pt.context_of({"context": {"num_cpus": 2, "load_before_run": "unknown"}})["load_before_run"] is None
    assert pt.load_warning(pt.context_of({"context": {"num_cpus": 2, "load_avg": [1.9]}})) == ""


def without_pingpong() -> dict:
    """good_run() without its ref_pingpong_pause, for a test to add its own."""
    doc = good_run()
    doc["benchmarks"] = [b for b in doc["benchmarks"] if not b["name"].startswith("ref_pingpong_pause")]
    return doc


def test_a_run_whose_cross_core_latency_changed_says_so_and_keeps_the_figures():
    doc = without_pingpong()
    add(doc, "ref_pingpong_pause", [60.0, 470.0, 80.0], metric="real_time")
    states = pt.latency_states(pt.parse(doc))
    assert states["changed"] and states["min_ns"] == 60.0 and states["max_ns"] == 470.0
    assert (states["near_repetitions"], states["far_repetitions"]) == (2, 1)
    note = pt.latency_note(states)
    assert "60-470 ns across the 3 repetitions (2 near, 1 at least twice as far)" in note


def test_a_run_in_one_latency_state_or_without_a_ping_pong_gets_no_note():
    steady = pt.latency_states(pt.parse(good_run()))  # 150 ns in every repetition
    assert steady is not None and not steady["changed"] and steady["far_repetitions"] == 0
    assert pt.latency_note(steady) == ""
    assert pt.latency_states(pt.parse(without_pingpong())) is None
    assert pt.latency_note(None) == ""


def test_check_writes_the_latency_states_into_its_json(tmp_path):
    doc = without_pingpong()
    add(doc, "ref_pingpong_pause", [60.0, 470.0, 80.0], metric="real_time")
    micro = tmp_path / "micro.json"
    micro.write_text(json.dumps(doc))
    out = tmp_path / "targets.json"
    proc = subprocess.run([sys.executable, os.path.join(ANALYSIS, "perf_targets.py"), "check", str(micro), "--json", str(out)],
                          capture_output=True, text=True)
    assert "note: the cache-line ping-pong took 60-470 ns" in proc.stdout
    written = json.loads(out.read_text())
    assert written["cross_core_latency"]["far_repetitions"] == 1
