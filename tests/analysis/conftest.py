"""Shared helpers for the analysis tests: import paths, fixture paths, CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ANALYSIS = os.path.join(ROOT, "analysis")
FIXTURES = os.path.join(HERE, "fixtures")

for path in (ANALYSIS, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

BASE = os.path.join(FIXTURES, "run_base.json")
CANDIDATE = os.path.join(FIXTURES, "run_candidate.json")
MINIMAL = os.path.join(FIXTURES, "run_minimal.json")

# The point the candidate fixture slowed down by 10%, and the one that fails
# its checks in the base fixture.
SLOWED_ID = "fan_in|consumer_delay_ns=0|delay_mode=busy_item|items=100000|mergers=1|producers=4|ring_size=1024|rounds=100"
FAILED_ID = "fan_in|consumer_delay_ns=0|delay_mode=busy_item|items=100000|mergers=1|producers=2|ring_size=256|rounds=100"


def run_cli(script: str, *args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run analysis/<script> with this interpreter; capture text output."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    return subprocess.run([sys.executable, os.path.join(ANALYSIS, script), *args],
                          capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=120)


@pytest.fixture
def cli():
    return run_cli
