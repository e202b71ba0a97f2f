"""What the end-to-end scripts of spill-bench share: running the binary and recording checks.

Each script passes the binary's path as its first argument; each check
prints one line ("ok   ..." or "FAIL ...") and failures are collected in
FAILURES for the script's summary and exit status.
"""
import os
import subprocess
import sys

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
