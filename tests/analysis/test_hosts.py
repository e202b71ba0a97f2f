"""The report's hosts section (analysis/sections/hosts.py): which point ran
on which host, shown only when the input holds points from more than one.

Fixtures (fixtures/hosts/): a real 2-shard run of fixtures/hosts/sweep on
one machine and its merge, as spill-bench wrote them (the commands are at
the top of fixtures/hosts/sweep).  There is only one machine here, so a second host is faked: each
test edits a copy of a file's recorded host (a shard's provenance, a
merged_from entry, a resumed session) and says so.
"""

from __future__ import annotations

import copy
import json
import os

import pytest

import report
from conftest import FIXTURES, run_cli
from sections import hosts

DIR = os.path.join(FIXTURES, "hosts")
FAKE = "fake-host-b"  # the second host, written into copies by these tests


def load(name: str) -> dict:
    with open(os.path.join(DIR, name), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def run():
    shards = [load("shard-0.json"), load("shard-1.json")]
    merged = load("merged.json")
    real = shards[0]["metadata"]["provenance"]["host"]
    assert real != FAKE and all(s["metadata"]["provenance"]["host"] == real for s in shards)
    return {"shards": shards, "merged": merged, "host": real,
            "ids": [[p["id"] for p in s["points"]] for s in shards]}


def two_host_merge(run) -> dict:
    """A copy of the merged fixture whose shard 1 says it ran on FAKE."""
    merged = copy.deepcopy(run["merged"])
    for k, entry in enumerate(merged["metadata"]["merged_from"]):
        assert entry.get("points", run["ids"][k]) == run["ids"][k]
        entry["points"] = run["ids"][k]
        entry["host"] = entry["provenance"]["host"] = FAKE if k == 1 else run["host"]
    return merged


def by_id(section: dict) -> dict[str, str]:
    return {row["id"]: row["host"] for row in section["rows"]}


def test_one_host_hides_the_section(run):
    for inputs in ([("merged.json", run["merged"])],
                   [("shard-0.json", run["shards"][0]), ("shard-1.json", run["shards"][1])]):
        section = hosts.hosts_section(inputs)
        assert not section["shown"]
        assert set(by_id(section).values()) == {run["host"]}
        assert hosts.document_blocks(section, {}) == []


def test_shard_files_from_two_hosts_put_each_point_on_its_host(run):
    # Faked: shard 1's copy says it ran on FAKE.
    other = copy.deepcopy(run["shards"][1])
    other["metadata"]["provenance"]["host"] = FAKE
    section = hosts.hosts_section([("shard-0.json", run["shards"][0]), ("shard-1.json", other)])
    assert section["shown"] and section["names"] == sorted([run["host"], FAKE])
    assert by_id(section) == {**{i: run["host"] for i in run["ids"][0]}, **{i: FAKE for i in run["ids"][1]}}
    counts = {h["host"]: h["points"] for h in section["hosts"]}
    assert counts == {run["host"]: len(run["ids"][0]), FAKE: len(run["ids"][1])}
    blocks = hosts.document_blocks(section, {})
    assert blocks[0] == ("h2", hosts.TITLE)
    assert blocks[1][0] == "p" and blocks[1][1].startswith("WARNING: these points ran on 2 hosts")
    assert "not directly comparable" in blocks[1][1]
    table = [b for b in blocks if b[0] == "table"][-1]
    assert {row[2]: row[0] for row in table[2]} == by_id(section)


def test_a_merge_that_lists_each_shards_points_puts_them_on_the_shards_host(run):
    # What merge records per shard (harness/SCHEMA.md, merged_from: its host
    # and the ids it contributed; filled in from the shard files when the
    # fixture's merge predates them), with shard 1 faked onto FAKE.
    merged = two_host_merge(run)
    section = hosts.hosts_section([("merged.json", merged)])
    assert section["shown"]
    assert by_id(section) == {**{i: run["host"] for i in run["ids"][0]}, **{i: FAKE for i in run["ids"][1]}}
    assert section["notes"] == []


def test_a_merge_that_does_not_say_which_shard_a_point_came_from_does_not_guess(run):
    # Faked: the second merged_from entry's provenance names FAKE, and the
    # entries keep only {file, provenance} (what an older merge wrote), so no
    # point can be put on either host.
    merged = copy.deepcopy(run["merged"])
    merged["metadata"]["merged_from"] = [{"file": e["file"], "provenance": e["provenance"]}
                                         for e in merged["metadata"]["merged_from"]]
    merged["metadata"]["merged_from"][1]["provenance"]["host"] = FAKE
    section = hosts.hosts_section([("merged.json", merged)])
    assert section["shown"] and section["names"] == sorted([run["host"], FAKE])
    assert set(by_id(section).values()) == {hosts.UNKNOWN}
    assert len(section["notes"]) == 1 and "does not record which shard" in section["notes"][0]
    assert FAKE in section["notes"][0] and run["host"] in section["notes"][0]


def test_a_file_resumed_on_another_host_does_not_guess(run):
    # Faked: a --resume of shard 0 on FAKE.
    resumed = copy.deepcopy(run["shards"][0])
    resumed["metadata"]["resumed"] = [dict(resumed["metadata"]["provenance"], host=FAKE)]
    section = hosts.hosts_section([("shard-0.json", resumed)])
    assert section["shown"]
    assert set(by_id(section).values()) == {hosts.UNKNOWN}
    assert "resumed on another host" in section["notes"][0]


def test_the_report_shows_the_section_only_for_two_hosts(run, tmp_path):
    merged = two_host_merge(run)
    two = tmp_path / "two-hosts.json"
    two.write_text(json.dumps(merged), encoding="utf-8")
    for path, shown in ((str(two), True), (os.path.join(DIR, "merged.json"), False)):
        out = tmp_path / ("two" if shown else "one")
        result = run_cli("report.py", path, "-o", str(out), "--no-headline-png")
        assert result.returncode == 0, result.stderr
        md = (out / "report.md").read_text(encoding="utf-8")
        html = (out / "report.html").read_text(encoding="utf-8")
        assert (f"## {hosts.TITLE}" in md) == shown
        assert ("not directly comparable" in html) == shown
        if shown:
            assert f"| {FAKE} | " in md and f"| {run['host']} | " in md
    data = report.build_report(report.load_inputs([str(two)]))
    assert data["section_keys"].index("hosts") == data["section_keys"].index("metadata") + 1


def test_a_merged_shard_resumed_on_another_host_does_not_guess(run):
    # Faked: shard 1 of a merge was resumed on FAKE (merged_from[].hosts).
    merged = copy.deepcopy(run["merged"])
    for k, entry in enumerate(merged["metadata"]["merged_from"]):
        entry["points"] = run["ids"][k]
        entry["host"] = run["host"]
    merged["metadata"]["merged_from"][1]["hosts"] = [run["host"], FAKE]
    section = hosts.hosts_section([("merged.json", merged)])
    assert section["shown"]
    assert by_id(section) == {**{i: run["host"] for i in run["ids"][0]}, **{i: hosts.UNKNOWN for i in run["ids"][1]}}
    assert len(section["notes"]) == 1 and "shard-1.json was resumed on another host" in section["notes"][0]
