"""Specification of the report's headline (analysis/sections/headline.py):
every contender on each job at its best configuration, the ratio to the
best peer with a bootstrap CI, and one sentence computed from the data --
including when spill loses."""

from __future__ import annotations

import os

import facts
import report
import synth
from conftest import FIXTURES
from sections import headline

BENCH = os.path.join(FIXTURES, "bench_small.json")


def point(scenario: str, producers: int, rates: list[float], ring: int = 1024, **extra) -> dict:
    params = dict(synth.BASE_PARAMS, producers=producers, ring_size=ring, **extra)
    return synth.make_point(scenario, params, [synth.repetition(100000, r) for r in rates])


def jobs_of(points: list[dict]) -> dict[str, dict]:
    data = headline.compute({"inputs": [], "points": points})
    return {job["label"]: job for job in data.get("jobs", [])}


FAST = [100e6, 101e6, 99e6, 100.5e6, 99.5e6]
SLOW = [50e6, 50.5e6, 49.5e6, 50.2e6, 49.8e6]


def test_spill_wins_when_its_best_configuration_beats_the_best_peer_beyond_noise():
    job = jobs_of([point("fan_in", 1, FAST), point("fan_in", 1, SLOW, ring=256),
                   point("baseline_mutex", 1, SLOW), point("baseline_tbb", 1, [40e6] * 5)])["1 -> 1"]
    spill = job["entries"][0]
    assert spill["contender"] == "spill" and spill["configuration"] == "P=1, capacity=1024"
    assert spill["peer"] == "mutex" and spill["ratio"] == 2.0
    assert spill["ratio_ci_low"] > 1.0
    assert job["sentence"].startswith("1 -> 1: spill wins: 2.00x the throughput of the best peer, mutex (95% CI")


def test_the_sentence_says_when_spill_loses():
    job = jobs_of([point("fan_in", 2, SLOW), point("baseline_moodycamel", 2, FAST)])["P -> 1"]
    assert [e["contender"] for e in job["entries"]] == ["moodycamel", "spill"]
    assert job["sentence"].startswith("P -> 1: spill loses: moodycamel is 2.00x faster; spill reaches 0.50x of it")


def test_a_difference_inside_the_noise_is_no_clear_winner():
    noisy_a = [100e6, 60e6, 140e6, 90e6, 110e6]
    noisy_b = [95e6, 130e6, 55e6, 105e6, 98e6]
    job = jobs_of([point("fan_in", 1, noisy_a), point("baseline_mutex", 1, noisy_b)])["1 -> 1"]
    assert job["sentence"].startswith("1 -> 1: no clear winner: spill is at")
    assert "includes a tie" in job["sentence"]


def test_a_job_only_one_contender_ran_says_there_is_no_peer():
    job = jobs_of([point("mpsm", 2, FAST, mergers=2)])["P -> M"]
    assert job["entries"][0]["ratio"] is None
    assert job["sentence"].startswith("P -> M: only spill ran this job")


def test_a_slow_consumer_is_its_own_job_shape_one_per_delay():
    jobs = jobs_of([point("backpressure", 1, SLOW, consumer_delay_ns=2000), point("fan_in", 1, FAST),
                    point("baseline_mutex_deque", 1, SLOW, consumer_delay_ns=100),
                    point("fan_in", 1, FAST, consumer_delay_ns=100),
                    point("backpressure", 1, SLOW, consumer_delay_ns=20000, delay_mode="block_batch")])
    # Each contender's best is taken among points with the same delay only:
    # spill at 2000 ns/item does not stand against a queue at 100 ns/item.
    assert list(jobs) == ["1 -> 1", "1 -> 1 (slow consumer 100 ns/item)", "1 -> 1 (slow consumer 2000 ns/item)",
                          "1 -> 1 (slow consumer 20000 ns/batch blocking)"]
    assert [e["contender"] for e in jobs["1 -> 1 (slow consumer 100 ns/item)"]["entries"]] == ["spill", "mutex_deque"]


def test_busy_neighbours_and_more_producers_than_cpus_are_job_shapes_of_their_own():
    contended = point("fan_in", 1, SLOW, contend=1)
    contended["facts"] = {"contender": "spill", "job": "1->1", "busy_neighbours": 1, "producers_exceed_cpus": False}
    crowded = point("baseline_boost_spsc", 4, SLOW)
    crowded["facts"] = {"contender": "boost_spsc", "job": "P->1", "busy_neighbours": 0, "producers_exceed_cpus": True}
    old_style = point("fan_in", 1, SLOW, contend=2)  # no facts object: the neighbours come from params.contend
    jobs = jobs_of([point("fan_in", 1, FAST), contended, crowded, old_style])
    assert list(jobs) == ["1 -> 1", "1 -> 1 (2 busy neighbours)", "1 -> 1 (busy neighbour)", "P -> 1 (more producers than CPUs)"]


def test_a_configuration_that_overflowed_ranks_on_its_delivered_rate_when_the_file_records_it():
    def lossy(rate, ring, produced_rate_recorded):
        p = point("backpressure", 1, [rate] * 5, ring=ring)
        for rep in p["repetitions"]:
            rep["checks"].update(delivered=90000, overflowed=10000)
            if produced_rate_recorded:
                rep["produced_items_per_second"] = rate * 100000 / 90000  # items_per_second is delivered/s
        p["checks"].update(delivered=450000, overflowed=50000)
        return p
    data = headline.compute({"inputs": [], "points": [lossy(300e6, 256, True), lossy(900e6, 128, False),
                                                      point("baseline_mutex_deque", 1, FAST)]})
    job = data["jobs"][0]
    spill = next(e for e in job["entries"] if e["contender"] == "spill")
    assert spill["median"] == 300e6 and spill["configuration"].endswith(", 10% overflowed")
    assert job["excluded"] == {"spill": 1}   # the older point's rate counts produced items: left out


def test_configurations_that_lost_items_or_failed_checks_are_not_ranked():
    lossy = point("fan_in", 1, [500e6] * 5, ring=64)
    lossy["checks"]["overflowed"] = 1000
    failed = point("fan_in", 1, [900e6] * 5, ring=128)
    failed["checks"]["passed"] = False
    data = headline.compute({"inputs": [], "points": [lossy, failed, point("fan_in", 1, FAST),
                                                      point("baseline_mutex", 1, SLOW)]})
    job = data["jobs"][0]
    assert job["entries"][0]["median"] == 100e6      # neither 500e6 (overflowed) nor 900e6 (failed)
    assert job["excluded"] == {"spill": 1} and data["left_out_failed"] == 1


def test_the_facts_object_of_a_point_decides_contender_and_job_when_present():
    p = point("custom_scenario", 3, FAST)
    p["facts"] = {"contender": "spill", "job": "P->1", "hands_rings": True}
    p["config"] = {"capacity_items": 4096, "batch_items": 512}
    f = facts.point_facts(p)
    assert (f["contender"], f["job"], f["capacity_items"], f["batch_items"], f["derived"]) == \
           ("spill", "P->1", 4096, 512, False)
    assert facts.configuration_label(p) == "P=3, capacity=4096, batch=512"


def test_a_configuration_whose_consumer_was_pinned_says_where():
    p = point("custom_scenario", 2, FAST)
    p["facts"] = {"contender": "boost_spsc", "job": "P->1"}
    p["config"] = {"capacity_items": 65536, "batch_items": 4096}
    p["params"]["consumer"] = "alone"  # spill-micro's /consumer=alone
    assert facts.configuration_label(p) == "P=2, capacity=65536, batch=4096, consumer alone"
    p["params"]["consumer"] = "with_producer"  # spill-micro's /consumer=with_producer
    assert facts.configuration_label(p) == "P=2, capacity=65536, batch=4096, consumer with producer"
    del p["params"]["consumer"]
    p["params"]["one_cpu"] = 1  # spill-bench's --one-cpu 1
    assert facts.configuration_label(p) == "P=2, capacity=65536, batch=4096, one CPU"
    del p["params"]["one_cpu"]
    p["params"]["consumer_alone"] = 1  # spill-bench's --consumer-alone 1: the same placement as spill-micro's
    assert facts.configuration_label(p) == "P=2, capacity=65536, batch=4096, consumer alone"


def test_the_report_opens_with_the_headline_on_a_real_sweep():
    data = report.build_report(report.load_inputs([BENCH]))
    figures = report.render_figures(data)
    md = report.render_markdown(report.document_blocks(data, figures))
    first = [line for line in md.splitlines() if line.startswith("## ")][0]
    assert first == "## Headline: every contender on each job"
    labels = [job["label"] for job in data["headline"]["jobs"]]
    assert labels[:3] == ["1 -> 1", "P -> 1", "P -> M"]
    for job in data["headline"]["jobs"]:
        assert f"- {job['sentence']}" in md
    assert "headline" in figures


def test_jobs_without_an_arrow_are_not_ranked_against_anything():
    ring = point("ring", 1, FAST)
    ring["facts"] = {"contender": "spill", "job": "1 thread"}
    assert facts.job_label(facts.point_facts(ring)) is None
    assert headline.compute({"inputs": [], "points": [ring]})["skip"]
