"""Specification: in CI (CI=true) a required check that cannot run fails with
its reason; outside CI it is a loud skip. One test per refusal: the closing
line of .ci/run, .ci/sanitizers without a working TSan, the fuzzers without
clang, and the spin model checks without spin (.ci/require-check and how
tests/model and tests/fuzz register the checks).

Run by meson (`harness ci refusals`); SPILL_BUILD_DIR names the build whose
registered tests are inspected.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.environ.get("SPILL_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CI_DIR = os.path.join(ROOT, ".ci")


def env_with(ci: bool, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "SPILL_REQUIRE_TSAN")}
    if ci:
        env["CI"] = "true"
    env.update(extra)
    return env


def run(argv: list[str], ci: bool, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, env=env_with(ci, **extra), cwd=ROOT, timeout=timeout)


# ---------------------------------------------------------------- .ci/run ----

def write_testlog(path, results: list[tuple[str, str, str]]) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        for name, result, stdout in results:
            handle.write(json.dumps({"name": name, "result": result, "stdout": stdout}) + "\n")
    return str(path)


def summary(paths: list[str], ci: bool) -> subprocess.CompletedProcess:
    return run([sys.executable, os.path.join(CI_DIR, "testlog-summary"), *paths], ci)


def test_the_closing_line_fails_a_ci_run_with_a_skipped_test_and_names_it(tmp_path):
    log = write_testlog(tmp_path / "testlog.json", [("core_ring", "OK", ""),
                                                   ("handoff_model", "SKIP", "SKIP (required in CI): handoff_model: spin was not found")])
    inside = summary([log], ci=True)
    assert inside.returncode == 1, inside.stdout
    assert "ci: 1 passed, 0 failed, 1 skipped" in inside.stdout
    assert "SKIPPED (a failure in CI) handoff_model: SKIP (required in CI): handoff_model: spin was not found" in inside.stdout
    outside = summary([log], ci=False)
    assert outside.returncode == 0 and "skipped handoff_model" in outside.stdout, outside.stdout


def test_the_closing_line_fails_on_a_failure_or_when_nothing_passed(tmp_path):
    failed = write_testlog(tmp_path / "failed.json", [("a", "OK", ""), ("b", "FAIL", ""), ("c", "TIMEOUT", "")])
    r = summary([failed], ci=False)
    assert r.returncode == 1 and "ci: FAILED b (FAIL)" in r.stdout and "ci: FAILED c (TIMEOUT)" in r.stdout
    r = summary([str(tmp_path / "absent.json")], ci=False)
    assert r.returncode == 1 and "no test passed" in r.stdout
    ok = write_testlog(tmp_path / "ok.json", [("a", "OK", ""), ("b", "EXPECTEDFAIL", "")])
    assert summary([ok, str(tmp_path / "absent.json")], ci=True).returncode == 0


def test_ci_run_uses_the_closing_line_checker_and_always_runs_the_sanitizers():
    with open(os.path.join(CI_DIR, "run"), encoding="utf-8") as handle:
        text = handle.read()
    assert ".ci/testlog-summary build/meson-logs/testlog.json" in text
    assert "\n.ci/sanitizers" in text and "-x .ci/sanitizers" not in text


# ------------------------------------------------------- .ci/sanitizers ----

def test_sanitizers_fail_in_ci_when_tsan_cannot_run_and_skip_loudly_elsewhere(tmp_path):
    # A compiler that cannot build anything: the TSan probe fails before any build starts.
    argv = [os.path.join(CI_DIR, "sanitizers"), "tsan"]
    prefix = str(tmp_path / "san")
    inside = run(argv, ci=True, CXX="/bin/false", SAN_BUILD_PREFIX=prefix)
    assert inside.returncode != 0, inside.stdout + inside.stderr
    assert "REQUIRED CHECK NOT RUN: TSan" in inside.stdout and "cannot compile with -fsanitize=thread" in inside.stderr
    outside = run(argv, ci=False, CXX="/bin/false", SAN_BUILD_PREFIX=prefix)
    assert outside.returncode == 0, outside.stdout + outside.stderr
    assert "did NOT run" in outside.stdout and "skipped (SPILL_REQUIRE_TSAN=0; in CI this fails)" in outside.stdout
    # An explicit SPILL_REQUIRE_TSAN=0 is the only way to let CI pass without TSan.
    waived = run(argv, ci=True, CXX="/bin/false", SAN_BUILD_PREFIX=prefix, SPILL_REQUIRE_TSAN="0")
    assert waived.returncode == 0 and "did NOT run" in waived.stdout
    assert not os.path.exists(prefix + "-tsan")


# -------------------------------------------------------------- fuzzers ----

def test_fuzzers_without_clang_fail_in_ci_and_skip_elsewhere():
    argv = ["bash", os.path.join(ROOT, "tests", "fuzz", "run_fuzzers.sh"), "replay"]
    inside = run(argv, ci=True, CLANGXX="/nonexistent/clang++")
    assert inside.returncode == 1 and "FAIL: /nonexistent/clang++ not found" in inside.stdout, inside.stdout
    outside = run(argv, ci=False, CLANGXX="/nonexistent/clang++")
    assert outside.returncode == 77 and "SKIP: /nonexistent/clang++ not found" in outside.stdout, outside.stdout


# ------------------------------------------------- spin, require-check ----

def test_require_check_fails_in_ci_and_is_a_meson_skip_elsewhere():
    argv = [os.path.join(CI_DIR, "require-check"), "handoff_model", "spin was not found at configure time"]
    inside = run(argv, ci=True)
    assert inside.returncode == 1
    assert inside.stdout.strip() == "REQUIRED CHECK NOT RUN: handoff_model: spin was not found at configure time (CI=true: this is a failure)"
    outside = run(argv, ci=False)
    assert outside.returncode == 77 and "handoff_model: spin was not found" in outside.stdout


def registered_tests() -> dict[str, dict]:
    build = os.environ.get("SPILL_BUILD_DIR")
    if not build:
        if os.environ.get("CI") == "true":
            pytest.fail("REQUIRED CHECK NOT RUN: SPILL_BUILD_DIR is not set (meson sets it for this test)", pytrace=False)
        pytest.skip("SPILL_BUILD_DIR is not set (meson sets it for this test)")
    out = subprocess.run(["meson", "introspect", build, "--tests"], capture_output=True, text=True, timeout=120, check=True)
    return {t["name"]: t for t in json.loads(out.stdout)}


@pytest.mark.parametrize("name", ["handoff_model", "handoff_model_planted_bugs", "handoff_model_liveness", "handoff_model_deep",
                                  "fuzz_replay", "fuzz"])
def test_every_model_check_and_fuzzer_is_registered_whether_or_not_its_tool_was_found(name):
    tests = registered_tests()
    assert name in tests, f"{name} is not registered: a required check must never be silently absent"
    cmd = tests[name]["cmd"]
    runs_itself = any(part.endswith(("run_spin.sh", "run_fuzzers.sh")) for part in cmd)
    stands_in = any(part.endswith("require-check") for part in cmd)
    assert runs_itself or stands_in, cmd
    if stands_in:  # the tool was missing at configure time: the stand-in names the check and says why
        assert name in cmd and len(cmd) >= 3
