"""What the end-to-end scripts of spill-bench share: running the binary and recording checks.

Each script passes the binary's path as its first argument; each check
prints one line ("ok   ..." or "FAIL ...") and failures are collected in
FAILURES for the script's summary and exit status.
"""
import os
import re
import shutil
import subprocess
import sys
import time

BENCH = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else ""
FAILURES = []


def run(*args, timeout=60):
    """spill-bench with these arguments; text output captured."""
    return subprocess.run([BENCH, *args], capture_output=True, text=True, timeout=timeout)


def check(cond, what):
    """Records one check; returns `cond` so a test can stop after a failed one."""
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


def dry_run_points(stdout):
    """--dry-run's points: [(id, placement or None, [(slot, role, index, cpu or None)])]."""
    points = []
    for line in stdout.splitlines():
        if m := re.match(r"^\[\d+/\d+\] (\S+)$", line):
            points.append((m.group(1), None, []))
        elif m := re.match(r"^  placement (\w+): cpus (\d+),(\d+)$", line):
            points[-1] = (points[-1][0], (m.group(1), int(m.group(2)), int(m.group(3))), points[-1][2])
        elif m := re.match(r"^  slot (\d+): (\w+) (\d+) -> (?:cpu (\d+)|unbound)$", line):
            points[-1][2].append((int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4)) if m.group(4) else None))
    return points


def run_tests(namespace, tmp):
    """Runs every test_* function of `namespace` (a script's globals()) in
    order, prints the summary, removes `tmp` when every check passed (keeps
    it for a look otherwise) and exits 1 on a failure, 0 otherwise."""
    tests = [v for k, v in namespace.items() if k.startswith("test_")]
    t0 = time.time()
    for t in tests:
        print(f"-- {t.__name__}", flush=True)
        t()
    print(f"{len(FAILURES)} failure(s) in {time.time() - t0:.1f}s")
    for f in FAILURES:
        print("FAILED: " + f)
    if not FAILURES:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("files kept in " + tmp)
    sys.exit(1 if FAILURES else 0)
