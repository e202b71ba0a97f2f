#!/usr/bin/python3
"""End-to-end specification of spill-bench --lockstep and analysis/ab_run.py.

usage: e2e_lockstep.py PATH/TO/spill-bench   (SPILL_SOURCE_ROOT names the source tree)

Each check prints one line; any failure exits non-zero with the reason.
"""
import json
import os
import subprocess
import sys
import tempfile

from e2e_common import BENCH, check, run_tests  # noqa: E402

ROOT = os.path.abspath(os.environ.get("SPILL_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", "..")))
AB_RUN = os.path.join(ROOT, "analysis", "ab_run.py")
GATE = os.path.join(ROOT, "analysis", "gate.py")
TMP = tempfile.mkdtemp(prefix="spill-lockstep-")
SMALL = ["ring", "--ring-size", "256", "--items", "20000", "--rounds", "4", "--repetitions", "3", "--warmup", "1",
         "--counters", "none", "--no-calibrate"]


def py(script, *args):
    return subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=120)


def test_lockstep_bad_descriptors_are_one_line_errors():
    for value, needle in (("7,8", "file descriptor 7 is not open"), ("0", "is not IN,OUT"), ("x,1", "--lockstep")):
        r = subprocess.run([BENCH, "run", *SMALL, "--lockstep", value, "--out", os.path.join(TMP, "bad.json")],
                           capture_output=True, text=True, timeout=60)
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 2 and len(lines) == 1 and needle in lines[0] and not os.path.exists(os.path.join(TMP, "bad.json")),
              f"--lockstep {value}: exit 2, one line naming it ({lines[-1] if lines else ''})")


def test_lockstep_runs_one_repetition_per_token():
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    out = os.path.join(TMP, "one.json")
    p = subprocess.Popen([BENCH, "run", *SMALL, "--quiet", "--out", out, "--lockstep", f"{go_r},{done_w}"],
                         pass_fds=(go_r, done_w), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(go_r)
    os.close(done_w)
    tokens = 0
    while True:
        try:
            os.write(go_w, b"g")
        except BrokenPipeError:
            break
        if os.read(done_r, 1) != b"d":
            break
        tokens += 1
    os.close(go_w)
    os.close(done_r)
    p.wait(timeout=60)
    check(p.returncode == 0 and tokens == 4, f"--lockstep: 1 warm-up + 3 repetitions took 4 tokens (took {tokens}, exit {p.returncode})")


def test_lockstep_aborts_when_the_controller_goes_away():
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    out = os.path.join(TMP, "gone.json")
    p = subprocess.Popen([BENCH, "run", *SMALL, "--quiet", "--out", out, "--lockstep", f"{go_r},{done_w}"],
                         pass_fds=(go_r, done_w), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    os.close(go_r)
    os.close(done_w)
    os.close(go_w)  # no token will ever come
    err = p.communicate(timeout=60)[1]
    os.close(done_r)
    check(p.returncode != 0 and "controller closed its pipe" in err,
          f"--lockstep: a closed controller pipe fails the point instead of hanging (exit {p.returncode})")


def test_ab_run_interleaves_and_the_gate_compares_pair_by_pair():
    b, c = os.path.join(TMP, "ab-b.json"), os.path.join(TMP, "ab-c.json")
    r = py(AB_RUN, "--baseline-bench", BENCH, "--candidate-bench", BENCH, "--sessions", "2", "--seed", "5", "--quiet",
           "--out-baseline", b, "--out-candidate", c, "--", *SMALL)
    if not check(r.returncode == 0, f"ab_run.py: 2 sessions of a small ring point (exit {r.returncode} {r.stderr.strip()})"):
        return
    docs = [json.load(open(path)) for path in (b, c)]
    pairs = [[rep["pair"] for rep in d["points"][0]["repetitions"]] for d in docs]
    check(pairs == [list(range(6))] * 2, f"every repetition of both sessions kept and numbered 0..5 on both sides ({pairs})")
    meta = [d["metadata"]["interleaved"] for d in docs]
    check(meta[0]["run_id"] == meta[1]["run_id"] and [m["side"] for m in meta] == ["baseline", "candidate"],
          "both files carry one run id and their side")
    steps = meta[0]["order"]
    firsts = {step[0] for session in steps for step in session if len(step) == 2}
    check(len(steps) == 2 and all(len(session) >= 4 for session in steps) and firsts == {"baseline", "candidate"},
          f"each session ran in steps of one repetition per side, in a random order ({firsts})")
    r = py(GATE, "--baseline", b, "--candidate", c, "--max-regression", "50")
    check(r.returncode == 0 and "pair by pair" in r.stdout, f"gate.py compares the A/A pair by pair and passes ({r.stdout.strip()})")


def test_ab_run_keeps_a_candidate_that_failed_its_checks_and_the_gate_fails_it():
    b, c = os.path.join(TMP, "f-b.json"), os.path.join(TMP, "f-c.json")
    r = py(AB_RUN, "--baseline-bench", BENCH, "--candidate-bench", BENCH, "--sessions", "1", "--quiet",
           "--candidate-arg=--inject-fault", "--candidate-arg=drop", "--out-baseline", b, "--out-candidate", c, "--", *SMALL)
    ok = r.returncode == 0 and json.load(open(c))["points"][0]["checks"]["passed"] is False
    check(ok, f"ab_run.py keeps the file of a candidate whose checks failed (exit {r.returncode})")
    if ok:
        g = py(GATE, "--baseline", b, "--candidate", c, "--max-regression", "50")
        check(g.returncode == 1 and "FAILED CHECKS" in g.stdout, "gate.py fails that candidate")


def test_ab_run_reports_a_crashing_process_and_writes_nothing():
    b, c = os.path.join(TMP, "x-b.json"), os.path.join(TMP, "x-c.json")
    r = py(AB_RUN, "--baseline-bench", BENCH, "--candidate-bench", BENCH, "--sessions", "1", "--quiet",
           "--candidate-arg=--inject-slowdown", "--candidate-arg=99999", "--out-baseline", b, "--out-candidate", c, "--", *SMALL)
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 2 and len(lines) == 1 and "99999 is above the limit" in lines[0] and not os.path.exists(b) and not os.path.exists(c),
          f"a process that exits with an error: one line naming it, exit 2, no output ({lines[-1] if lines else ''})")


if __name__ == "__main__":
    run_tests(globals(), TMP)
