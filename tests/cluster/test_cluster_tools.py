"""The fleet test's own checks can fail: same_points.compare on merged
files that are wrong in each way it looks for, readme_script on documents
that do not show the script, and slurm_fleet.sh refusing (CI) or skipping
loudly (elsewhere) when the Slurm tools are missing.  Fast: no cluster."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import readme_script  # noqa: E402
import same_points  # noqa: E402

HOST = "node-a"


def point(ident: str, passed: bool = True) -> dict:
    return {"id": ident, "scenario": ident.split("|")[0], "params": {"k": ident}, "checks": {"passed": passed}}


def run_docs(n_points: int = 5, shards: int = 2) -> tuple[dict, dict, list[dict]]:
    """A one-process run, its shards (p % n == i) and their merge, as spill-bench writes them."""
    ids = [f"fan_in|p={p}" for p in range(n_points)]
    single = {"metadata": {"provenance": {"host": HOST}}, "points": [point(i) for i in ids]}
    shard_docs = [{"metadata": {"shard": {"index": k, "count": shards}, "provenance": {"host": HOST}},
                   "points": [point(i) for p, i in enumerate(ids) if p % shards == k]} for k in range(shards)]
    merged = {"metadata": {"shard": {"index": 0, "count": 1}, "provenance": {"host": HOST},
                           "merged_from": [{"file": f"shard-{k}.json", "provenance": {"host": HOST}}
                                           for k in range(shards)]},
              "points": [p for doc in shard_docs for p in doc["points"]]}
    return single, merged, shard_docs


def test_a_correct_merge_has_no_problems():
    single, merged, shards = run_docs()
    assert same_points.compare(merged, single, shards, HOST) == []


def test_each_wrong_merge_is_named():
    single, merged, shards = run_docs()
    lost = copy.deepcopy(merged)
    del lost["points"][0]
    assert any("lacks point fan_in|p=0" in p for p in same_points.compare(lost, single, shards, HOST))
    extra = copy.deepcopy(merged)
    extra["points"].append(point("fan_in|p=9"))
    assert any("which the one-process run does not" in p for p in same_points.compare(extra, single, shards, HOST))
    twice = copy.deepcopy(merged)
    twice["points"].append(point("fan_in|p=1"))
    assert any("more than once" in p for p in same_points.compare(twice, single, shards, HOST))
    failed = copy.deepcopy(merged)
    failed["points"][1]["checks"]["passed"] = False
    assert any("did not pass its checks" in p for p in same_points.compare(failed, single, shards, HOST))
    params = copy.deepcopy(merged)
    params["points"][2]["params"] = {"k": "other"}
    assert any("params" in p for p in same_points.compare(params, single, shards, HOST))


def test_a_shard_that_is_not_its_share_is_named():
    single, merged, shards = run_docs()
    swapped = [shards[1], shards[0]]
    problems = same_points.compare(merged, single, swapped, HOST)
    assert any("the points p % 2 == 0" in p for p in problems)
    assert any("records metadata.shard" in p for p in problems)


def test_a_shard_from_another_host_is_named():
    single, merged, shards = run_docs()
    merged["metadata"]["merged_from"][1]["provenance"]["host"] = "node-b"
    problems = same_points.compare(merged, single, shards, HOST)
    assert any("ran on host 'node-b'" in p for p in problems)
    assert any("hosts section" in p for p in problems)


def test_an_empty_run_is_not_a_match():
    single, merged, shards = run_docs(n_points=0)
    assert "the one-process run has no points" in same_points.compare(merged, single, shards, HOST)


SCRIPT = "#!/bin/bash\n#SBATCH --array=0-7\nsrun true\n"


def test_readme_script_finds_the_block_and_its_differences():
    doc = f"text\n\n{readme_script.marker('x.sbatch')}\n```bash\n{SCRIPT}```\n\nmore\n"
    assert readme_script.differences(doc, "x.sbatch", SCRIPT) == []
    changed = doc.replace("0-7", "0-3")
    assert any(line.startswith("+#SBATCH --array=0-3") for line in readme_script.differences(changed, "x.sbatch", SCRIPT))
    assert readme_script.differences("no marker\n", "x.sbatch", SCRIPT)[0].startswith("no fenced code block")
    unclosed = f"{readme_script.marker('x.sbatch')}\n```bash\n{SCRIPT}"
    assert readme_script.differences(unclosed, "x.sbatch", SCRIPT)[0].startswith("no fenced code block")


def _fleet_without_slurm(tmp_path, ci: str | None) -> subprocess.CompletedProcess:
    """slurm_fleet.sh with a PATH that has the few tools it uses before the
    cluster starts, and none of munge's or Slurm's."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("dirname", "readlink", "grep", "id"):
        os.symlink(subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True,
                                  check=True).stdout.strip(), bindir / tool)
    env = {"PATH": str(bindir), "SPILL_SOURCE_ROOT": os.path.dirname(os.path.dirname(HERE))}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(["/bin/bash", os.path.join(HERE, "slurm_fleet.sh"), "/bin/true"],
                          capture_output=True, text=True, env=env, timeout=60)


def test_fleet_without_slurm_fails_in_ci_and_skips_loudly_elsewhere(tmp_path):
    ci = _fleet_without_slurm(tmp_path, "true")
    assert ci.returncode == 1, ci.stdout + ci.stderr
    assert "REQUIRED CHECK NOT RUN: slurm fleet: not installed: munged (Debian package munge)" in ci.stdout
    (tmp_path / "bin").rename(tmp_path / "bin-ci")
    elsewhere = _fleet_without_slurm(tmp_path, None)
    assert elsewhere.returncode == 77, elsewhere.stdout + elsewhere.stderr
    assert "SKIP (required in CI): slurm fleet: not installed:" in elsewhere.stdout
    assert "slurmctld (Debian package slurmctld)" in elsewhere.stdout
