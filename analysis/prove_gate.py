#!/usr/bin/python3
"""Proves the wall-clock gate on real runs of this machine.

Runs spill-bench `trials` times as an A/A pair (the same build twice) and
`trials` times as A against a candidate slowed by `--inject-slowdown PCT`,
gates each pair with gate.py's rule, and prints how many pairs raised an alarm.

    /usr/bin/python3 analysis/prove_gate.py --bench build/harness/spill-bench --trials 20

Exit status: 0 when A/A alarms <= allowed and slowdowns caught >= required
(defaults: at most 1 false alarm and at least 19 catches in 20), 1 otherwise,
2 on bad input.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gate  # noqa: E402
import spill_results  # noqa: E402


def run_bench(bench: str, out: str, slowdown: float, args: list[str]) -> dict:
    cmd = [bench, "run", *args, "--out", out, "--quiet"]
    if slowdown:
        cmd += ["--inject-slowdown", f"{slowdown:g}"]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return spill_results.load(out)


def alarms(base: dict, cand: dict, max_regression: float, alpha: float) -> bool:
    """True when the gate would fail the candidate."""
    return not gate.gate(base, cand, max_regression_pct=max_regression, alpha=alpha)["passed"]


def prove(bench: str, trials: int, slowdown: float, max_regression: float, alpha: float, args: list[str]) -> dict:
    aa = caught = 0
    with tempfile.TemporaryDirectory() as tmp:
        for t in range(trials):
            a = run_bench(bench, os.path.join(tmp, f"a{t}.json"), 0, args)
            b = run_bench(bench, os.path.join(tmp, f"b{t}.json"), 0, args)
            s = run_bench(bench, os.path.join(tmp, f"s{t}.json"), slowdown, args)
            aa += alarms(a, b, max_regression, alpha)
            caught += alarms(a, s, max_regression, alpha)
            print(f"trial {t + 1}/{trials}: A/A alarms {aa}, slowdowns caught {caught}", file=sys.stderr)
    return {"trials": trials, "aa_alarms": aa, "slowdown_caught": caught, "slowdown_pct": slowdown,
            "max_regression_pct": max_regression, "alpha": alpha, "bench_args": args}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="prove_gate.py", description=__doc__.splitlines()[0])
    p.add_argument("--bench", required=True, help="path to spill-bench")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--slowdown", type=float, default=10.0, help="injected slowdown, percent")
    p.add_argument("--max-regression", type=float, default=5.0)
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--allowed-false-alarms", type=int, default=1)
    p.add_argument("--required-catches", type=int, default=19)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("bench_args", nargs="*", default=["ring", "--ring-size", "1024", "--items", "20000000",
                                                      "--rounds", "100", "--repetitions", "30", "--warmup", "2",
                                                      "--pin", "compact"])
    a = p.parse_args(argv)
    if not os.access(a.bench, os.X_OK):
        print(f"prove_gate.py: error: --bench {a.bench}: not an executable file", file=sys.stderr)
        return 2
    if a.trials < 1:
        print(f"prove_gate.py: error: --trials {a.trials}: need at least 1", file=sys.stderr)
        return 2
    try:
        res = prove(a.bench, a.trials, a.slowdown, a.max_regression, a.alpha, a.bench_args)
    except RuntimeError as e:
        print(f"prove_gate.py: error: {e}", file=sys.stderr)
        return 2
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"A/A: {res['aa_alarms']} alarms in {a.trials} trials; "
              f"{a.slowdown:g}% slowdown: caught in {res['slowdown_caught']} of {a.trials}")
    ok = res["aa_alarms"] <= a.allowed_false_alarms and res["slowdown_caught"] >= a.required_catches
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
