#!/usr/bin/python3
"""Count instructions and simulated cache misses of spill-det's workloads.

usage: det_run.py --binary PATH [--workloads a,b,...] [--items N]
                  [--extra-work N] [--valgrind PATH] -o OUT.json

Wall-clock time is noisy on shared machines; these counts are not.  Each
workload of `spill-det` (harness/det) runs under valgrind's cachegrind with
cache simulation, once with its item count and once with `--items 0`; the
point records the difference, so process start-up, the dynamic loader and the
workload's fixed setup cancel.  The result is a results file in the current
schema (harness/SCHEMA.md, written through analysis/spill_results.py) that
`gate.py --mode deterministic --metric Ir_per_item` compares with a
committed baseline.

One point per workload: scenario `det_<workload>`, params {items, extra_work},
one repetition whose counters are the totals `Ir`, `D1mr`, `D1mw`, `DLmr`,
`DLmw` (after the subtraction) and the same divided by items
(`Ir_per_item`, ...).

The point id is `det_<workload>|items=N`: it leaves out `extra_work` on
purpose.  `--extra-work N` stands for a code change that adds work per item,
and a code change does not change which point is measured, so a run with
`--extra-work 8` must match, and be gated against, the baseline's points.

The simulated caches are fixed (I1 and D1 32 KiB 8-way, LL 8 MiB 16-way,
64-byte lines) instead of cachegrind's guess from the host CPU, so the miss
counts do not change with the machine that runs CI.  Instruction counts can
still differ between CPU models where glibc picks another memcpy (valgrind
reports the CPU's features), so make the baseline on the kind of machine that
runs the gate.

`seconds` and `items_per_second` in the repetition are the wall-clock time of
the measured run under valgrind, as the schema requires them; they say
nothing about the speed of the code.

Exit status: 0 when every workload passed its checks, 1 when one failed
(the file is still written, with checks.passed false), 2 for bad input (one
error line on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import spill_results as sr  # noqa: E402

PROG = "det_run.py"
EVENTS = ("Ir", "D1mr", "D1mw", "DLmr", "DLmw")
CACHE_ARGS = ("--I1=32768,8,64", "--D1=32768,8,64", "--LL=8388608,16,64")
# Valgrind runs one thread at a time; with its default lock, which thread runs
# after a futex wake is up to the kernel.  The 2-thread pool workload's Ir then
# spread over 0.39% in 8 runs; with the ticket lock (FIFO hand-over) and the
# zero-padded --items below, over 0.002% in 11 runs.  Single-threaded
# workloads are unaffected (their counts repeat exactly).
VALGRIND_ARGS = ("--fair-sched=yes",)
# Workloads whose check is the exact global order of all items; the others
# check per-producer (push) order, which is the schema's `fifo`.
GLOBAL_ORDER_WORKLOADS = ("sequenced_in_order", "sequenced_reorder")
OUTCOME_FIELDS = ("items", "produced", "delivered", "overflowed", "dropped", "order", "passed", "checksum")
RUN_TIMEOUT_SECONDS = 600
# The environment of every measured process: the same for the run and its
# --items 0 twin, and for every invocation, so nothing outside the workload
# moves the counts.
CHILD_ENV = {"LC_ALL": "C", "PATH": "/usr/bin:/bin"}


class DetRunError(Exception):
    """Bad input or a failed measurement; the message is one line."""


# --------------------------------------------------------------------------
# parsing (pure)


def parse_cachegrind_out(text: str, source: str = "cachegrind output") -> dict[str, int]:
    """Event name -> total, from a cachegrind out file's `events:` and
    `summary:` lines (`totals:` is accepted too)."""
    events: list[str] | None = None
    totals: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("events:"):
            events = line[len("events:"):].split()
        elif line.startswith("summary:") or line.startswith("totals:"):
            totals = line.split(":", 1)[1].split()
    if events is None:
        raise DetRunError(f"{source}: no 'events:' line")
    if totals is None:
        raise DetRunError(f"{source}: no 'summary:' line")
    if len(totals) != len(events):
        raise DetRunError(f"{source}: {len(events)} events but {len(totals)} totals in the summary line")
    result = {}
    for name, value in zip(events, totals):
        try:
            result[name] = int(value)
        except ValueError:
            raise DetRunError(f"{source}: summary value {value!r} of {name} is not an integer") from None
    return result


def parse_outcome(text: str, workload: str, source: str = "spill-det") -> dict[str, int]:
    """The `workload=NAME key=value ...` line of `workload` in spill-det's output."""
    for line in text.splitlines():
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if fields.get("workload") != workload:
            continue
        outcome = {}
        for key in OUTCOME_FIELDS:
            if key not in fields:
                raise DetRunError(f"{source}: line for workload {workload} has no '{key}=': {line.strip()!r}")
            try:
                outcome[key] = int(fields[key])
            except ValueError:
                raise DetRunError(f"{source}: {key}={fields[key]!r} of workload {workload} is not an integer") from None
        return outcome
    raise DetRunError(f"{source}: no output line for workload {workload}")


def parse_list(text: str) -> dict[str, int]:
    """Workload name -> default item count, from `spill-det --list`."""
    workloads = {}
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2 and parts[1].isdigit():
            workloads[parts[0]] = int(parts[1])
    return workloads


def parse_info(text: str) -> dict[str, str]:
    """key -> value, from `spill-det --info`."""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def subtract(full: dict[str, int], zero: dict[str, int]) -> dict[str, int]:
    """Counts of `full` minus those of the --items 0 run, for EVENTS."""
    missing = [name for name in EVENTS if name not in full or name not in zero]
    if missing:
        raise DetRunError(f"cachegrind did not report {', '.join(missing)} (was --cache-sim=yes ignored?)")
    return {name: full[name] - zero[name] for name in EVENTS}


def point_id(workload: str, items: int) -> str:
    """`det_<workload>|items=N`: the id keys on items only (see the module doc)."""
    return sr.point_id(f"det_{workload}", {"items": items})


# What every spill-det point is: the spill core, run one thread at a time
# (valgrind serialises threads), counted, not timed.
DET_FACTS = {"contender": "spill", "job": "1 thread", "source": "spill-det under cachegrind",
             "handoff_stats": False}


def make_point(workload: str, items: int, extra_work: int, delta: dict[str, int],
               outcome: dict[str, int], seconds: float) -> dict:
    """One schema-1 point from the subtracted counts and spill-det's outcome."""
    counters: dict[str, float | int | None] = dict(delta)
    for name in EVENTS:
        counters[f"{name}_per_item"] = delta[name] / items if items > 0 else None
    balanced = outcome["produced"] == outcome["delivered"] + outcome["overflowed"] + outcome["dropped"]
    ordered = outcome["order"] == 1
    passed = outcome["passed"] == 1 and balanced and ordered and outcome["items"] == items
    problems = []
    if outcome["items"] != items:
        problems.append(f"spill-det ran {outcome['items']} items, {items} requested")
    if not balanced:
        problems.append(f"produced {outcome['produced']} != delivered {outcome['delivered']} + overflowed "
                        f"{outcome['overflowed']} + dropped {outcome['dropped']}")
    if not ordered:
        problems.append("items came out of order")
    if outcome["passed"] != 1 and not problems:
        problems.append("spill-det reported passed=0")
    checks = {"produced": outcome["produced"], "delivered": outcome["delivered"],
              "overflowed": outcome["overflowed"], "merged_items": 0, "dropped": outcome["dropped"]}
    seconds = max(seconds, 1e-9)
    return {
        "id": point_id(workload, items),
        "scenario": f"det_{workload}",
        "facts": dict(DET_FACTS),
        "params": {"items": items, "extra_work": extra_work},
        "threads": [],
        "oversubscribed": False,
        "repetitions": [{
            "seconds": seconds,
            "items": items,
            "items_per_second": items / seconds,
            "counters": counters,
            "checks": dict(checks, passed=passed),
        }],
        "checks": dict(checks, fifo=ordered,
                       order=ordered if workload in GLOBAL_ORDER_WORKLOADS else None,
                       passed=passed, message="; ".join(problems)),
    }


def make_document(points: list[dict], metadata: dict) -> dict:
    return sr.make_document(points, metadata)


def select_workloads(requested: str | None, known: dict[str, int], binary: str) -> list[str]:
    """The workloads named in `--workloads a,b` (all of them when None)."""
    if requested is None:
        return list(known)
    names = [name.strip() for name in requested.split(",")]
    for name in names:
        if name not in known:
            raise DetRunError(f"--workloads: {name!r} is not a workload of {binary} (known: {', '.join(known)})")
    if len(set(names)) != len(names):
        raise DetRunError(f"--workloads: {requested!r} names a workload twice")
    return names


def format_table(doc: dict) -> str:
    """One line per point: items and the per-item counts."""
    lines = [f"{'point':<40} {'items':>8} " + " ".join(f"{e + '/item':>10}" for e in EVENTS) + "  checks"]
    for point in doc["points"]:
        counters = point["repetitions"][0]["counters"]
        cells = " ".join(f"{round(counters[e + '_per_item'], 4) + 0.0:>10.4f}" for e in EVENTS)  # no "-0.0000"
        lines.append(f"{point['id']:<40} {point['params']['items']:>8} {cells}  "
                     f"{'ok' if point['checks']['passed'] else 'FAILED: ' + point['checks']['message']}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# running (thin wrappers around subprocess)


def _run(argv: list[str], what: str, timeout: float = 60) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=CHILD_ENV)
    except OSError as err:
        raise DetRunError(f"{what}: cannot run {argv[0]}: {err.strerror or err}") from None
    except subprocess.TimeoutExpired:
        raise DetRunError(f"{what}: {shlex.join(argv)} did not finish within {timeout:g} s") from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def check_binary(binary: str) -> None:
    if not os.path.exists(binary):
        raise DetRunError(f"--binary {binary}: no such file")
    if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        raise DetRunError(f"--binary {binary}: not an executable file")


def find_valgrind(valgrind: str | None) -> str:
    path = shutil.which(valgrind or "valgrind")
    if path is None:
        raise DetRunError(f"valgrind {valgrind!r} not found" if valgrind
                          else "valgrind not found on PATH (install the valgrind package)")
    return path


def query_binary(binary: str) -> tuple[dict[str, int], dict[str, str]]:
    listing = _run([binary, "--list"], f"--binary {binary}")
    if listing.returncode != 0:
        raise DetRunError(f"--binary {binary}: --list failed with exit {listing.returncode}: {_last_line(listing.stderr)}")
    known = parse_list(listing.stdout)
    if not known:
        raise DetRunError(f"--binary {binary}: --list printed no workloads (is it spill-det?)")
    info = _run([binary, "--info"], f"--binary {binary}")
    return known, (parse_info(info.stdout) if info.returncode == 0 else {})


def cachegrind(valgrind: str, binary: str, workload: str, items: int, extra_work: int,
               workdir: str) -> tuple[dict[str, int], dict[str, int], float]:
    """Run one workload under cachegrind: (event totals, outcome, wall seconds)."""
    out_file = os.path.join(workdir, f"cachegrind.{workload}.{items}.out")
    argv = [valgrind, "--tool=cachegrind", "--cache-sim=yes", *VALGRIND_ARGS, *CACHE_ARGS, f"--cachegrind-out-file={out_file}",
            binary, "--workload", workload, "--items", f"{items:010d}", "--extra-work", str(extra_work)]
    # --items zero-padded: the run and its --items 0 twin then differ in no
    # argv length, so start-up work that depends on the stack layout cancels
    # exactly (unpadded, a different binary path moved Ir by up to 28).
    start = time.monotonic()
    proc = _run(argv, f"workload {workload}", timeout=RUN_TIMEOUT_SECONDS)
    seconds = time.monotonic() - start
    if proc.returncode not in (0, 1):  # 1: the workload's checks failed, recorded below
        raise DetRunError(f"workload {workload}: {shlex.join(argv)} exited with {proc.returncode}: {_last_line(proc.stderr)}")
    try:
        with open(out_file, "r", encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise DetRunError(f"workload {workload}: cachegrind wrote no {out_file}: {err.strerror}") from None
    return parse_cachegrind_out(text, out_file), parse_outcome(proc.stdout, workload, binary), seconds


def measure(valgrind: str, binary: str, workload: str, items: int, extra_work: int, workdir: str) -> dict:
    full, outcome, seconds = cachegrind(valgrind, binary, workload, items, extra_work, workdir)
    zero, _, _ = cachegrind(valgrind, binary, workload, 0, extra_work, workdir)
    return make_point(workload, items, extra_work, subtract(full, zero), outcome, seconds)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", "r", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def collect_metadata(valgrind: str, binary: str, info: dict[str, str], extra_work: int,
                     argv: list[str]) -> dict:
    version = _run([valgrind, "--version"], "valgrind").stdout.strip() or "unknown"
    prov = sr.provenance(PROG, argv)
    flags = []
    if info:
        flags.append("__OPTIMIZE__" if info.get("optimized") == "1" else "no __OPTIMIZE__")
        flags.append("-DNDEBUG" if info.get("ndebug") == "1" else "no NDEBUG")
    return {
        "tool": "det_run.py",
        "provenance": prov,
        "commit": prov["commit"],
        "dirty": prov["dirty"],  # working tree when measured
        "compiler": info.get("compiler", "unknown"),
        "flags": ", ".join(flags) if flags else "unknown",
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "kernel": f"{platform.system()} {platform.release()}",
        "hostname": prov["host"],
        "date_utc": prov["date_utc"],
        "command_line": prov["command_line"],
        "binary": binary,
        "valgrind": version,
        "extra_work": extra_work,
        "method": ("cachegrind --cache-sim=yes " + " ".join((*VALGRIND_ARGS, *CACHE_ARGS)) +
                   "; counts of the run minus those of the same workload with --items 0 "
                   "(item counts passed zero-padded to 10 digits, so both runs have the same argv layout); "
                   "seconds are wall-clock under valgrind, not a speed"),
        "counters": {
            "requested": list(EVENTS),
            "available": [*EVENTS, *(f"{e}_per_item" for e in EVENTS)],
            "unavailable": {},
        },
    }


# --------------------------------------------------------------------------
# command line


def _count(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not in [{low}, {high}]")
        return value
    return parse


def build_parser() -> sr.OneLineArgumentParser:
    parser = sr.OneLineArgumentParser(prog=PROG, description="Count Ir and simulated cache misses of spill-det workloads under cachegrind.")
    parser.add_argument("--binary", required=True, metavar="PATH", help="the spill-det executable")
    parser.add_argument("--workloads", metavar="a,b,...", help="workloads to run (default: all of `spill-det --list`)")
    parser.add_argument("--items", type=_count(1, 1_000_000_000), metavar="N",
                        help="items per workload (default: each workload's own)")
    parser.add_argument("--extra-work", type=_count(0, 1_000_000), default=0, metavar="N",
                        help="iterations of extra work per item (simulates a slower change)")
    parser.add_argument("--valgrind", metavar="PATH", help="valgrind executable (default: valgrind on PATH)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.json")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    out_dir = os.path.dirname(os.path.abspath(args.output))
    try:
        if not os.path.isdir(out_dir):
            raise DetRunError(f"-o {args.output}: directory {out_dir} does not exist")
        if os.path.isdir(args.output):
            raise DetRunError(f"-o {args.output}: is a directory")
        check_binary(args.binary)
        binary = os.path.abspath(args.binary)  # a bare name would be looked up on PATH
        known, info = query_binary(binary)
        workloads = select_workloads(args.workloads, known, args.binary)
        valgrind = find_valgrind(args.valgrind)
        with tempfile.TemporaryDirectory(prefix="det_run.") as workdir:
            points = [measure(valgrind, binary, w, args.items or known[w], args.extra_work, workdir)
                      for w in workloads]
        doc = make_document(points, collect_metadata(valgrind, args.binary, info, args.extra_work, argv))
        sr.write_results(args.output, doc)
    except (DetRunError, sr.ResultError) as err:
        sr.fail(PROG, str(err))
    except OSError as err:
        sr.fail(PROG, f"-o {args.output}: cannot write: {err.strerror or err}")
    sys.stdout.write(format_table(doc))
    return 0 if all(point["checks"]["passed"] for point in doc["points"]) else 1


if __name__ == "__main__":
    sys.exit(main())
