#!/usr/bin/python3
"""Proves the wall-clock gate on real runs of this machine.

Each trial runs spill-bench twice through ab_run.py (baseline and candidate
in lockstep, repetition by repetition, over fresh processes per session):
once as an A/A pair (the same build on both sides) and once against a
candidate slowed by the hidden knob `--inject-slowdown PCT`. Each pair of
result files is gated with gate.py's paired rule for every metric asked
for, and the script prints, per metric, how many A/A trials raised a false
alarm and how many slowed trials were caught.

    /usr/bin/python3 analysis/prove_gate.py --bench build/harness/spill-bench --trials 20 \\
        -- ring --ring-size 65536 --items 4000000 --repetitions 8 --warmup 2 --no-calibrate

`--unpaired` reproduces the first design (one process per side, Mann-Whitney
over repetitions), which fails here because whole processes differ.

`--json` prints the result as JSON, with the bar it was held to (`bar`) and a `provenance` block (as in
metadata.provenance of a results file, harness/SCHEMA.md): the tool, the
commit of this source tree with its dirty flag, the UTC date the trials
started (and `finished_utc`), the host and the command line.  The files of
results/sample-gate-proof/ are such output; `load_proof` reads one back
(analysis/docs.py shows them in the README).

Exit status: 0 when, for every metric, A/A alarms <= allowed and slowdowns
caught >= required (defaults: at most 1 false alarm and at least 19 catches
in 20); 1 otherwise; 2 on bad input.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ab_run  # noqa: E402
import gate  # noqa: E402
import spill_results as sr  # noqa: E402

PROG = "prove_gate.py"
TOOL = "analysis/prove_gate.py"
DEFAULT_ARGS = ["ring", "--ring-size", "65536", "--items", "4000000", "--repetitions", "4",
                "--warmup", "2", "--no-calibrate"]
DEFAULT_METRICS = ["items_per_second", "cpu_seconds_per_item"]
# The bar: at most this many A/A alarms, at least this many slowdowns caught.
DEFAULT_ALLOWED_FALSE_ALARMS = 1
DEFAULT_REQUIRED_CATCHES = 19


def _unpaired_docs(bench: str, bench_args: list[str], extra: list[str], tmp: str, tag: str) -> dict[str, dict]:
    docs = {}
    for side, args in (("baseline", []), ("candidate", extra)):
        out = os.path.join(tmp, f"{tag}-{side}.json")
        cmd = [bench, "run", *bench_args, *args, "--out", out, "--quiet"]
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise ab_run.RunError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
        docs[side] = sr.load(out)
    return docs


def alarms(docs: dict[str, dict], metric: str, max_regression: float, alpha: float) -> bool:
    """True when the gate would fail the candidate on `metric`."""
    result = gate.gate(docs["baseline"], docs["candidate"], max_regression_pct=max_regression,
                       alpha=alpha, metric=metric)
    return not result["passed"]


def prove(bench: str, bench_args: list[str], trials: int, slowdown: float, max_regression: float,
          alpha: float, metrics: list[str], sessions: int, paired: bool, progress=None) -> dict:
    counts = {m: {"aa_alarms": 0, "slowdown_caught": 0} for m in metrics}
    slow = ["--inject-slowdown", f"{slowdown:g}"]
    with tempfile.TemporaryDirectory(prefix="prove_gate.") as tmp:
        for t in range(trials):
            for kind, extra in (("aa", []), ("slow", slow)):
                if paired:
                    docs = ab_run.ab_run({"baseline": bench, "candidate": bench}, bench_args, sessions,
                                         seed=1000 * t + (kind == "slow"),
                                         extra={"baseline": [], "candidate": extra})
                else:
                    docs = _unpaired_docs(bench, bench_args, extra, tmp, f"{kind}{t}")
                for m in metrics:
                    hit = alarms(docs, m, max_regression, alpha)
                    counts[m]["aa_alarms" if kind == "aa" else "slowdown_caught"] += hit
            if progress:
                progress(t + 1, trials, counts)
    return {"trials": trials, "paired": paired, "sessions": sessions if paired else None,
            "slowdown_pct": slowdown, "max_regression_pct": max_regression, "alpha": alpha,
            "bench_args": bench_args, "metrics": counts}


class ProofError(Exception):
    """A prove_gate.py --json file cannot be used; the message is one line naming the file."""


PROOF_KEYS = {"trials": int, "paired": bool, "slowdown_pct": (int, float), "max_regression_pct": (int, float),
              "alpha": (int, float), "bench_args": list, "metrics": dict}


def load_proof(path: str) -> dict:
    """A prove_gate.py --json file, validated: the keys `prove` returns, each
    metric with integer `aa_alarms` and `slowdown_caught`; `provenance` when
    the file has one, and `bar` (files written before these were recorded
    have neither: the keys are then None).  Raises ProofError."""
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except OSError as err:
        raise ProofError(f"{path}: cannot read file: {err.strerror or err}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ProofError(f"{path}: not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise ProofError(f"{path}: top level is not an object")
    for key, kind in PROOF_KEYS.items():
        if key not in doc:
            raise ProofError(f"{path}: missing key {key!r}")
        if not isinstance(doc[key], kind) or (kind is int and isinstance(doc[key], bool)):
            raise ProofError(f"{path}: {key!r} {json.dumps(doc[key])} has the wrong type")
    for metric, counts in doc["metrics"].items():
        for key in ("aa_alarms", "slowdown_caught"):
            value = counts.get(key) if isinstance(counts, dict) else None
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= doc["trials"]:
                raise ProofError(f"{path}: metrics.{metric}.{key} {json.dumps(value)} is not a count of 0..{doc['trials']} trials")
    prov = doc.get("provenance")
    if prov is not None:
        try:
            sr.validate_provenance(prov, f"{path}: provenance")
        except sr.ResultError as err:
            raise ProofError(str(err)) from None
    bar = doc.get("bar")
    if bar is not None and not (isinstance(bar, dict) and all(
            isinstance(bar.get(k), int) and not isinstance(bar.get(k), bool)
            for k in ("allowed_false_alarms", "required_catches"))):
        raise ProofError(f"{path}: bar {json.dumps(bar)} does not hold integer allowed_false_alarms and required_catches")
    doc.setdefault("provenance", None)
    doc.setdefault("bar", None)
    return doc


def main(argv: list[str] | None = None) -> int:
    p = sr.OneLineArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--bench", required=True, help="path to spill-bench")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--sessions", type=int, default=8, help="ab_run.py sessions per comparison (the unit of the test) [8]")
    p.add_argument("--slowdown", type=float, default=10.0, help="injected slowdown, percent [10]")
    p.add_argument("--max-regression", type=float, default=5.0, help="gate threshold, percent [5]")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--metric", action="append", default=None,
                   help=f"metric to gate on (repeatable) [{', '.join(DEFAULT_METRICS)}]")
    p.add_argument("--unpaired", action="store_true",
                   help="one process per side, no lockstep (the design that fails on a shared machine)")
    p.add_argument("--allowed-false-alarms", type=int, default=DEFAULT_ALLOWED_FALSE_ALARMS)
    p.add_argument("--required-catches", type=int, default=DEFAULT_REQUIRED_CATCHES)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="after --: SCENARIO and spill-bench run options")
    a = p.parse_args(argv)
    bench_args = a.bench_args[1:] if a.bench_args[:1] == ["--"] else a.bench_args
    bench_args = bench_args or DEFAULT_ARGS
    if not (os.path.isfile(a.bench) and os.access(a.bench, os.X_OK)):
        sr.fail(PROG, f"--bench {a.bench}: not an executable file")
    if a.trials < 1:
        sr.fail(PROG, f"--trials {a.trials}: need at least 1")
    if not 1 <= a.sessions <= 1000:
        sr.fail(PROG, f"--sessions {a.sessions}: need 1..1000")
    if not 0.0 < a.slowdown <= 10000.0:
        sr.fail(PROG, f"--slowdown {a.slowdown:g}: need a percentage in (0, 10000]")
    metrics = a.metric or DEFAULT_METRICS
    provenance = sr.provenance(TOOL, sys.argv[1:] if argv is None else list(argv))

    def progress(done: int, total: int, counts: dict) -> None:
        text = "; ".join(f"{m}: A/A alarms {c['aa_alarms']}, caught {c['slowdown_caught']}" for m, c in counts.items())
        print(f"{PROG}: trial {done}/{total}: {text}", file=sys.stderr)

    try:
        res = prove(a.bench, bench_args, a.trials, a.slowdown, a.max_regression, a.alpha, metrics,
                    a.sessions, not a.unpaired, progress)
    except (ab_run.RunError, ValueError, gate.GateInputError) as e:
        sr.fail(PROG, str(e))
    res["bar"] = {"allowed_false_alarms": a.allowed_false_alarms, "required_catches": a.required_catches}
    provenance["finished_utc"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    res["provenance"] = provenance
    ok = True
    for m, c in res["metrics"].items():
        good = c["aa_alarms"] <= a.allowed_false_alarms and c["slowdown_caught"] >= a.required_catches
        ok = ok and good
        if not a.json:
            print(f"{m}: A/A: {c['aa_alarms']} alarms in {a.trials} trials; {a.slowdown:g}% slowdown: caught in "
                  f"{c['slowdown_caught']} of {a.trials} ({'meets' if good else 'MISSES'} the bar)")
    if a.json:
        print(json.dumps(res, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
