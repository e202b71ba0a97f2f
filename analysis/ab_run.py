#!/usr/bin/python3
"""Run a baseline and a candidate spill-bench in lockstep, repetition by repetition.

    /usr/bin/python3 analysis/ab_run.py --baseline-bench base/spill-bench \
        --candidate-bench cand/spill-bench \
        --out-baseline ab-base.json --out-candidate ab-cand.json \
        -- ring --ring-size 65536 --items 4000000 --repetitions 4 --no-calibrate
    /usr/bin/python3 analysis/gate.py --baseline ab-base.json \
        --candidate ab-cand.json --max-regression 5 --metric cpu_seconds_per_item

Why: on a shared machine the speed of a whole process moves with what the
other tenants of the host do. Measured here (2 vCPUs): the same point's
repetitions agreed within 1-3% inside a process, while the process medians
fell into modes 1.5x apart (1.11 or 1.65 ns of CPU per item) that changed
from one process to the next, a tenth of a second apart. One baseline run
against one candidate run compares two moments of the host, not two builds.

How: both builds run at once, each blocked before every repetition on a
pipe (spill-bench's hidden --lockstep IN,OUT). A step lets one repetition of
each side run, one after the other, in an order drawn from a seeded random
generator, so the two repetitions with the same index ran a few milliseconds
apart and never at the same time. Each repetition is tagged with that index
(`pair`); gate.py sees the matching `interleaved` blocks and compares pair by
pair (stats.py: median of the pair ratios, Wilcoxon signed-rank test).
`--sessions` repeats this with fresh processes (memory layout and placement
differ per process), continuing the pair numbering; with several sessions
gate.py tests over sessions, since repetitions of one process are not
independent.

Each side's output is a valid spill-bench result file: every repetition of
every session (none dropped), checks summed over the sessions (`passed`
only if every process passed), summaries recomputed, and
metadata.interleaved = {mode, sessions, seed, order, run_id, side,
commands}. With more than one session the per-process cost/thread blocks
are dropped (they describe one process).

Exit status: 0 done (also when a process reported failed correctness
checks, exit 3: its points carry checks.passed = false and gate.py fails
them), 2 bad input or a spill-bench process that failed otherwise (one
line on stderr naming the command). Nothing is written unless every process
succeeded; outputs are written atomically.
"""
from __future__ import annotations

import argparse
import copy
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import spill_results as sr  # noqa: E402

PROG = "ab_run.py"
SIDES = ("baseline", "candidate")
CHECK_SUMS = sr.CHECK_COUNTS


class RunError(Exception):
    """A spill-bench process failed; message is one line."""


def merge_side(docs: list[dict], side: str, meta: dict, prov: dict | None = None) -> dict:
    """One result document from the per-session documents of one side.

    Its provenance is `prov` (this ab_run.py process) when given, and then
    the spill-bench processes' own provenance is kept, one per session, in
    metadata.interleaved.session_provenance.

    Repetition j of a point in session s becomes pair (reps of that point in
    sessions before s) + j: the lockstep made it run right next to the
    other side's repetition with the same index. Points are matched by id; a
    point missing from a session is an error (the sessions ran one grid).
    """
    if not docs:
        raise ValueError("no documents to merge")
    out = copy.deepcopy(docs[0])
    out["metadata"]["interleaved"] = dict(meta, side=side)
    if prov is not None:  # the merged file is this process's; each session's process keeps its own
        out["metadata"]["interleaved"]["session_provenance"] = [doc["metadata"].get("provenance") for doc in docs]
        out["metadata"]["provenance"] = dict(prov)
    by_id = {point["id"]: point for point in out["points"]}
    for point in out["points"]:
        point["repetitions"] = []
        if len(docs) > 1:  # per-process blocks describe one process
            point.pop("cost", None)
            point.pop("threads", None)
        point["checks"] = {key: 0 for key in CHECK_SUMS} | {"fifo": True, "order": None, "passed": True, "message": ""}
    for session, doc in enumerate(docs):
        ids = {point["id"] for point in doc["points"]}
        if ids != set(by_id):
            raise ValueError(f"session {session}: the {side} process ran other points than session 0 "
                             f"({len(ids ^ set(by_id))} differ)")
        for point in doc["points"]:
            merged = by_id[point["id"]]
            offset = len(merged["repetitions"])
            for j, rep in enumerate(point["repetitions"]):
                merged["repetitions"].append(dict(rep, pair=offset + j, session=session))
            checks, src = merged["checks"], point["checks"]
            for key in CHECK_SUMS:
                checks[key] += int(src.get(key) or 0)
            checks["fifo"] = bool(checks["fifo"] and src.get("fifo", True))
            if src.get("order") is not None:
                checks["order"] = bool(src["order"]) if checks["order"] is None else bool(checks["order"] and src["order"])
            if src.get("passed") is False:
                checks["passed"] = False
                if not checks["message"]:
                    checks["message"] = f"session {session}: {src.get('message') or 'checks.passed is false'}"
    for point in out["points"]:
        summary = point.get("summary") or {}
        if len(docs) > 1:  # each process measured its own floors: no one multiple over the sessions
            summary["floor_multiples"] = None
            summary.setdefault("undefined", {})["floor_multiples"] = (
                "each session's process measured its own floors; none is defined over several sessions")
        summary.update(sr.recompute_summary(point))
        point["summary"] = summary
    return out


def _read_byte(fd: int) -> bytes:
    while True:
        try:
            return os.read(fd, 1)
        except InterruptedError:
            continue


def lockstep_session(benches: dict[str, str], bench_args: list[str], extra: dict[str, list[str]],
                     outs: dict[str, str], rng: random.Random) -> list[list[str]]:
    """Runs one process per side in lockstep; returns the order of each step.

    Both processes start together and block before every repetition until
    they get a token; a step gives one token to each side in a random order
    and waits for each repetition to finish before the next starts, so the
    two repetitions of a step run back to back and never at the same time.
    A process that has finished closes its pipe and drops out of the steps.
    """
    procs, go, done = {}, {}, {}
    try:
        for side in SIDES:
            go_r, go_w = os.pipe()
            done_r, done_w = os.pipe()
            cmd = [benches[side], "run", *bench_args, *extra[side], "--out", outs[side], "--quiet",
                   "--lockstep", f"{go_r},{done_w}"]
            procs[side] = (cmd, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                 pass_fds=(go_r, done_w), text=True))
            os.close(go_r)
            os.close(done_w)
            go[side], done[side] = go_w, done_r
        live = set(SIDES)
        steps = []
        while live:
            order = [side for side in (SIDES if rng.random() < 0.5 else SIDES[::-1]) if side in live]
            for side in order:
                try:
                    os.write(go[side], b"g")
                except BrokenPipeError:
                    live.discard(side)
                    continue
                if _read_byte(done[side]) != b"d":
                    live.discard(side)  # exited: every repetition is done
            steps.append(order)
    finally:
        for fd in list(go.values()) + list(done.values()):
            os.close(fd)
        for cmd, proc in procs.values():
            try:
                proc.wait(timeout=600)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    for side, (cmd, proc) in procs.items():
        # Exit 3 is a run whose correctness checks failed: its file is data
        # (gate.py fails such a point), not an error of the run.
        if proc.returncode != 0 and not (proc.returncode == 3 and os.path.exists(outs[side])):
            last = ((proc.stderr.read() if proc.stderr else "").strip().splitlines() or ["(no message)"])[-1]
            raise RunError(f"{' '.join(cmd)}: exit {proc.returncode}: {last}")
    return steps


def ab_run(benches: dict[str, str], bench_args: list[str], sessions: int, seed: int,
           extra: dict[str, list[str]], progress=None, prov: dict | None = None) -> dict[str, dict]:
    """Run `sessions` lockstep sessions; return {"baseline": doc, "candidate": doc}."""
    rng = random.Random(seed)
    docs: dict[str, list[dict]] = {side: [] for side in SIDES}
    orders = []
    with tempfile.TemporaryDirectory(prefix="ab_run.") as tmp:
        for session in range(sessions):
            outs = {side: os.path.join(tmp, f"{side}-{session}.json") for side in SIDES}
            orders.append(lockstep_session(benches, bench_args, extra, outs, rng))
            for side in SIDES:
                try:
                    docs[side].append(sr.load(outs[side]))
                except sr.ResultError as err:
                    raise RunError(str(err)) from None
            if progress:
                progress(session + 1, sessions)
    meta = {"mode": "lockstep", "sessions": sessions, "seed": seed,
            "run_id": f"{int(time.time())}-{os.getpid()}-{seed}", "order": orders,
            "commands": {side: [benches[side], "run", *bench_args, *extra[side]] for side in SIDES}}
    return {side: merge_side(docs[side], side, meta, prov) for side in SIDES}


def build_parser() -> sr.OneLineArgumentParser:
    p = sr.OneLineArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--baseline-bench", required=True, metavar="PATH", help="spill-bench of the baseline build")
    p.add_argument("--candidate-bench", required=True, metavar="PATH", help="spill-bench of the candidate build")
    p.add_argument("--sessions", type=int, default=8,
                   help="lockstep sessions, each a fresh process per side; with 2 or more the session is the "
                        "unit of gate.py's test, which needs 5 to reach p < 0.05 [8]")
    p.add_argument("--seed", type=int, default=1, help="seed of the order inside each step [1]")
    p.add_argument("--baseline-arg", action="append", default=[], metavar="ARG",
                   help="extra spill-bench argument for baseline processes only (repeatable)")
    p.add_argument("--candidate-arg", action="append", default=[], metavar="ARG",
                   help="extra spill-bench argument for candidate processes only (repeatable; "
                        "e.g. --candidate-arg=--inject-slowdown --candidate-arg=10)")
    p.add_argument("--out-baseline", required=True, metavar="B.json")
    p.add_argument("--out-candidate", required=True, metavar="C.json")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("bench_args", nargs=argparse.REMAINDER,
                   help="after --: SCENARIO and spill-bench run options (one point or a small grid)")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = build_parser().parse_args(argv)
    bench_args = a.bench_args[1:] if a.bench_args[:1] == ["--"] else a.bench_args
    for flag, path in (("--baseline-bench", a.baseline_bench), ("--candidate-bench", a.candidate_bench)):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            sr.fail(PROG, f"{flag} {path}: not an executable file")
    if not 1 <= a.sessions <= 1000:
        sr.fail(PROG, f"--sessions {a.sessions}: need 1..1000")
    if not bench_args:
        sr.fail(PROG, "no spill-bench arguments: give them after --, starting with the scenario")
    for flag in ("--out", "--resume", "--shard", "--lockstep"):
        if any(arg == flag or arg.startswith(flag + "=") for arg in bench_args):
            sr.fail(PROG, f"{flag}: set by {PROG} itself; remove it from the spill-bench arguments")
    for path in (a.out_baseline, a.out_candidate):
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            sr.fail(PROG, f"{path}: directory {directory} does not exist")

    def progress(done: int, total: int) -> None:
        if not a.quiet:
            print(f"{PROG}: session {done}/{total}", file=sys.stderr)

    try:
        docs = ab_run({"baseline": a.baseline_bench, "candidate": a.candidate_bench}, bench_args, a.sessions,
                      a.seed, {"baseline": a.baseline_arg, "candidate": a.candidate_arg}, progress,
                      sr.provenance(PROG, argv))
        for side, path in (("baseline", a.out_baseline), ("candidate", a.out_candidate)):
            sr.validate(docs[side], path)  # both are checked before either is written
        sr.write_results(a.out_baseline, docs["baseline"], indent=1)
        sr.write_results(a.out_candidate, docs["candidate"], indent=1)
    except (RunError, ValueError, sr.ResultError) as err:
        sr.fail(PROG, str(err))
    if not a.quiet:
        print(f"{PROG}: wrote {a.out_baseline} and {a.out_candidate}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
