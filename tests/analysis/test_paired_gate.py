"""Specification of the paired gate: ab_run.py's lockstep files and gate.py's paired rule.

Synthetic data model the noise this machine shows (analysis/README.md): each
pair of repetitions shares a "machine state" factor drawn per pair
(lognormal, CV 40%: whole processes and moments differ by that much here),
on top of 3% independent noise per repetition. Unpaired statistics drown in
the shared factor; the paired rule must not.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import ab_run
import gate
import stats
import synth

PAIRS = 24
SHARED_CV = 0.40
OWN_CV = 0.03


def paired_docs(rng: np.random.Generator, slowdown: float, pairs: int = PAIRS) -> tuple[dict, dict]:
    shared = synth.lognormal(rng, 1.0, SHARED_CV, pairs)
    base = shared * synth.lognormal(rng, 1e8, OWN_CV, pairs)
    cand = shared * synth.lognormal(rng, 1e8 * slowdown, OWN_CV, pairs)
    docs = []
    for side, values in (("baseline", base), ("candidate", cand)):
        doc = synth.simple_doc({"p": list(values)})
        for i, rep in enumerate(doc["points"][0]["repetitions"]):
            rep["pair"] = i
        doc["metadata"]["interleaved"] = {"mode": "lockstep", "run_id": "r1", "side": side, "sessions": 1}
        docs.append(doc)
    return docs[0], docs[1]


def alarm(base: dict, cand: dict, metric: str | None = None) -> bool:
    return not gate.gate(base, cand, 5.0, metric=metric)["passed"]


# --------------------------------------------------------------------------
# statistics


def test_signed_rank_matches_hand_computed_exact_p_values():
    # All five differences negative: W+ = 0, P(W+ <= 0) = 1/32.
    result = stats.wilcoxon_signed_rank([-1, -2, -3, -4, -5], "less")
    assert (result.statistic, result.p_value) == (0.0, pytest.approx(1 / 32))
    # Ranks 1..4, positive ones 1 and 3: W+ = 4; 11 of the 16 subsets of {1,2,3,4} sum to >= 4.
    result = stats.wilcoxon_signed_rank([1, -2, 3, -4], "greater")
    assert result.statistic == 4.0 and result.p_value == pytest.approx(11 / 16)
    # Zeros are dropped; nothing left is no evidence at all: undefined, with the reason.
    assert stats.wilcoxon_signed_rank([0.0, 0.0], "less").p_value is None


# --------------------------------------------------------------------------
# the paired rule


def test_paired_gate_raises_no_alarm_in_19_of_20_a_a_trials_under_shared_noise():
    alarms = sum(alarm(*paired_docs(np.random.default_rng(100 + i), 1.0)) for i in range(20))
    assert alarms <= 1


def test_paired_gate_catches_a_ten_percent_slowdown_in_19_of_20_trials_under_shared_noise():
    caught = sum(alarm(*paired_docs(np.random.default_rng(200 + i), 0.9)) for i in range(20))
    assert caught >= 19


def test_the_same_data_unpaired_cannot_see_the_slowdown():
    # Strip the pairing: the shared factor (CV 40%) hides a 10% change from the rank-sum test.
    caught = 0
    for i in range(20):
        base, cand = paired_docs(np.random.default_rng(200 + i), 0.9)
        for doc in (base, cand):
            del doc["metadata"]["interleaved"]
        caught += alarm(base, cand)
    assert caught < 19


def test_paired_mode_needs_both_files_from_one_run():
    base, cand = paired_docs(np.random.default_rng(1), 0.9)
    other = copy.deepcopy(cand)
    other["metadata"]["interleaved"]["run_id"] = "another run"
    assert gate.gate(base, cand, 5.0)["paired"] is True
    assert gate.gate(base, other, 5.0)["paired"] is False
    assert gate.interleaved_run(base, copy.deepcopy(base)) is None  # same side twice


def test_paired_report_names_the_pairs_and_the_test():
    base, cand = paired_docs(np.random.default_rng(3), 0.8)
    text = gate.format_result(gate.gate(base, cand, 5.0))
    assert "interleaved pairs" in text and "signed-rank" in text and "FAIL" in text


def test_a_lower_is_better_metric_regresses_when_it_grows():
    base, cand = paired_docs(np.random.default_rng(4), 1.0)
    for doc, factor in ((base, 1.0), (cand, 1.25)):
        for rep in doc["points"][0]["repetitions"]:
            rep["counters"]["cpu_seconds"] = factor * rep["seconds"]
    assert alarm(base, cand, metric="cpu_seconds_per_item")


def test_pairs_missing_the_metric_on_one_side_are_left_out():
    base, cand = paired_docs(np.random.default_rng(5), 1.0, pairs=6)
    cand["points"][0]["repetitions"][0]["counters"]["cpu_seconds"] = None
    ratios = gate.pair_ratios(base["points"][0], cand["points"][0], "cpu_seconds_per_item")
    assert len(ratios) == 5 and all(math.isfinite(r) for r in ratios)


def test_too_few_pairs_are_reported_as_unable_to_flag():
    base, cand = paired_docs(np.random.default_rng(6), 0.5, pairs=4)
    result = gate.gate(base, cand, 5.0)
    assert result["passed"] and "cannot reach" in result["rows"][0]["note"]


# --------------------------------------------------------------------------
# ab_run.merge_side


def test_merge_keeps_every_repetition_numbers_pairs_across_sessions_and_sums_checks():
    s0 = synth.simple_doc({"p": [1e8, 2e8, 3e8]})
    s1 = synth.simple_doc({"p": [4e8, 5e8]})
    s1["points"][0]["checks"]["passed"] = False
    s1["points"][0]["checks"]["message"] = "fifo broken"
    merged = ab_run.merge_side([s0, s1], "baseline", {"run_id": "x", "sessions": 2})
    point = merged["points"][0]
    assert [r["pair"] for r in point["repetitions"]] == [0, 1, 2, 3, 4]
    assert [r["session"] for r in point["repetitions"]] == [0, 0, 0, 1, 1]
    assert point["checks"]["produced"] == 5 * synth.BASE_PARAMS["items"]
    assert point["checks"]["passed"] is False and "session 1" in point["checks"]["message"]
    assert point["summary"]["items_per_second"]["median"] == 3e8
    assert merged["metadata"]["interleaved"] == {"run_id": "x", "sessions": 2, "side": "baseline"}


def test_merge_refuses_sessions_that_ran_other_points():
    with pytest.raises(ValueError, match="session 1"):
        ab_run.merge_side([synth.simple_doc({"p": [1.0]}), synth.simple_doc({"q": [1.0], "r": [1.0]})],
                          "candidate", {})


# --------------------------------------------------------------------------
# front ends: bad input is one line and exit 2


@pytest.mark.parametrize("args, needle", [
    (["--baseline-bench", "/nonexistent", "--candidate-bench", "/bin/true", "--out-baseline", "b.json",
      "--out-candidate", "c.json", "--", "ring"], "--baseline-bench /nonexistent"),
    (["--baseline-bench", "/bin/true", "--candidate-bench", "/bin/true", "--sessions", "0",
      "--out-baseline", "b.json", "--out-candidate", "c.json", "--", "ring"], "--sessions 0"),
    (["--baseline-bench", "/bin/true", "--candidate-bench", "/bin/true", "--out-baseline", "b.json",
      "--out-candidate", "c.json"], "no spill-bench arguments"),
    (["--baseline-bench", "/bin/true", "--candidate-bench", "/bin/true", "--out-baseline", "b.json",
      "--out-candidate", "c.json", "--", "ring", "--out", "x.json"], "--out: set by ab_run.py"),
    (["--baseline-bench", "/bin/true", "--candidate-bench", "/bin/true", "--out-baseline", "/no/such/dir/b.json",
      "--out-candidate", "c.json", "--", "ring"], "/no/such/dir"),
])
def test_ab_run_bad_input_is_one_line_and_exit_2(cli, tmp_path, args, needle):
    r = cli("ab_run.py", *args, cwd=str(tmp_path))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
    assert not (tmp_path / "b.json").exists() and not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("args, needle", [
    (["--bench", "/nonexistent"], "--bench /nonexistent"),
    (["--bench", "/bin/true", "--trials", "0"], "--trials 0"),
    (["--bench", "/bin/true", "--slowdown", "-3"], "--slowdown -3"),
])
def test_prove_gate_bad_input_is_one_line_and_exit_2(cli, args, needle):
    r = cli("prove_gate.py", *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]


# --------------------------------------------------------------------------
# sessions: fresh processes, each with its own speed


def session_docs(rng: np.random.Generator, slowdown: float, sessions: int, reps: int = 6,
                 process_cv: float = 0.0) -> tuple[dict, dict]:
    """Like paired_docs, plus a factor per process (each side of each session its own)."""
    docs = {"baseline": synth.simple_doc({"p": []}), "candidate": synth.simple_doc({"p": []})}
    pair = 0
    for session in range(sessions):
        own = {side: synth.lognormal(rng, 1.0, process_cv, 1)[0] if process_cv else 1.0 for side in docs}
        for _ in range(reps):
            shared = synth.lognormal(rng, 1.0, SHARED_CV, 1)[0]
            for side, scale in (("baseline", 1.0), ("candidate", slowdown)):
                value = 1e8 * scale * shared * own[side] * synth.lognormal(rng, 1.0, OWN_CV, 1)[0]
                rep = synth.repetition(synth.BASE_PARAMS["items"], value)
                rep["pair"], rep["session"] = pair, session
                docs[side]["points"][0]["repetitions"].append(rep)
            pair += 1
    for side, doc in docs.items():
        doc["metadata"]["interleaved"] = {"mode": "lockstep", "run_id": "r2", "side": side, "sessions": sessions}
    return docs["baseline"], docs["candidate"]


def test_with_several_sessions_the_unit_of_the_test_is_the_session():
    base, cand = session_docs(np.random.default_rng(7), 0.9, sessions=3)
    ratios, unit = gate.unit_ratios(base["points"][0], cand["points"][0], "items_per_second")
    assert unit == "session" and len(ratios) == 3
    row = gate.gate(base, cand, 5.0)["rows"][0]
    assert row["unit"] == "session" and "only 3 sessions" in row["note"]  # 1/8 > 0.05: cannot flag


def test_processes_that_differ_do_not_raise_false_alarms_when_sessions_are_the_unit():
    # Each process runs 20% faster or slower than another at random: pooled pairs would see a
    # "significant" difference in most sessions; the session-level test must not.
    alarms = sum(alarm(*session_docs(np.random.default_rng(300 + i), 1.0, sessions=8, process_cv=0.2))
                 for i in range(20))
    assert alarms <= 1


def test_a_ten_percent_slowdown_is_caught_over_eight_sessions_of_steady_processes():
    caught = sum(alarm(*session_docs(np.random.default_rng(400 + i), 0.9, sessions=8)) for i in range(20))
    assert caught >= 19
