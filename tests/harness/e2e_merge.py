#!/usr/bin/python3
"""End-to-end specification of `spill-bench merge` across builds and hosts:
every shard records its host, commit (with the dirty flag) and build (compiler,
flags, build type); merge records each shard's provenance and the points it
brought, refuses shards of different commits or builds (one line naming both
values and both files, exit 2, nothing written) unless --force, which is
recorded; shards from different hosts merge and say which points came from
which host.

usage: e2e_merge.py PATH/TO/spill-bench

The shards are real spill-bench runs. A shard "from another commit, build or
host" is a copy of a real shard whose JSON this test edits (spill-bench
cannot be rebuilt here, nor run on another host): each such edit is named
where it is made. Each check prints one line; any failure exits non-zero.
"""
import copy
import json
import os
import shutil
import tempfile

from e2e_common import check, run, run_tests  # noqa: E402

TMP = tempfile.mkdtemp(prefix="spill-e2e-merge-")
TINY = ["--items", "2000", "--rounds", "4", "--repetitions", "1", "--warmup", "0", "--counters", "none", "--quiet", "--no-calibrate"]
GRID = ["ring", "--ring-size", "64,128,256,512,1024", *TINY]


def path(name):
    return os.path.join(TMP, name)


def load(p):
    with open(p) as f:
        return json.load(f)


def save(doc, name):
    p = path(name)
    with open(p, "w") as f:
        json.dump(doc, f, indent=2)
    return p


def ids(doc):
    return [p["id"] for p in doc["points"]]


def one_line_error(r, *needles):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    return r.returncode == 2 and len(lines) == 1 and all(n in lines[0] for n in needles), lines


SHARDS = []


def shards():
    """Two real shards of one grid (made once)."""
    if not SHARDS:
        for i in range(2):
            out = path(f"shard{i}.json")
            r = run("run", *GRID, "--shard", f"{i}/2", "--out", out)
            check(r.returncode == 0, f"shard {i}/2 runs ({r.stderr.strip()})")
            SHARDS.append(out)
    return SHARDS


def edited(src, name, edit):
    """A copy of shard `src` with `edit` applied to its JSON (the faked difference)."""
    doc = copy.deepcopy(load(src))
    edit(doc["metadata"])
    return save(doc, name)


def test_every_shard_records_its_host_commit_and_build():
    for s in shards():
        md = load(s)["metadata"]
        prov = md["provenance"]
        build = prov.get("build", {})
        check(prov["host"] and prov["commit"] and isinstance(prov["dirty"], bool), f"{s}: provenance names host, commit and dirty flag")
        check(build == {"compiler": md["compiler"], "flags": md["flags"], "build_type": md["build_type"]} and all(build.values()),
              f"{s}: provenance.build is the compiler, flags and build type ({build})")


def test_shards_of_one_build_merge_with_their_provenance():
    s0, s1 = shards()
    out = path("merged.json")
    r = run("merge", out, s0, s1)
    if not check(r.returncode == 0, f"merge of one build's shards exits 0 ({r.stderr.strip()})"):
        return
    d = load(out)
    md = d["metadata"]
    mf = md["merged_from"]
    check([m["file"] for m in mf] == [s0, s1], "merged_from: one entry per shard, in order")
    for m, s in zip(mf, (s0, s1)):
        sd = load(s)
        prov = sd["metadata"]["provenance"]
        check(m["points"] == ids(sd), f"{s}: merged_from lists exactly the points it contributed")
        check(m["host"] == prov["host"] and m["commit"] == prov["commit"] + ("-dirty" if prov["dirty"] else "") and m["dirty"] == prov["dirty"],
              f"{s}: merged_from records its host, commit and dirty flag")
        check(m["build"] == prov["build"] and m["shard"] == sd["metadata"]["shard"] and m["provenance"] == prov,
              f"{s}: merged_from records its build, shard and whole provenance")
    check(sorted(ids(d)) == sorted(ids(load(s0)) + ids(load(s1))), "the merged file has every shard's points")
    merge = md["merge"]
    check(merge["forced"] is False and merge["differences"] == [], "metadata.merge: not forced, no differences")
    host = load(s0)["metadata"]["provenance"]["host"]
    check(merge["points_by_host"] == {host: len(d["points"])}, f"metadata.merge.points_by_host counts the points per host {merge['points_by_host']}")
    check("merge" in md["provenance"]["command_line"] and md["shard"] == {"index": 0, "count": 1}, "the merged file's provenance is the merge")


def test_shards_of_different_commits_are_refused():
    s0, s1 = shards()
    commit = load(s0)["metadata"]["provenance"]["commit"]
    dirty = load(s0)["metadata"]["provenance"]["dirty"]
    mine = commit + ("-dirty" if dirty else "")
    # Faked: the copy claims to be built from commit 0123abc.
    other = edited(s1, "other-commit.json", lambda md: md["provenance"].update(commit="0123abc"))
    out = path("refused.json")
    r = run("merge", out, s0, other)
    ok, lines = one_line_error(r, "commit", "'0123abc" + ("-dirty" if dirty else "") + "'", f"'{mine}'", other, s0)
    check(ok and not os.path.exists(out), f"different commits: one line naming both commits and both files, exit 2, nothing written: {lines}")
    # Faked: the copy's tree had (or had not) uncommitted changes.
    flipped = edited(s1, "other-dirty.json", lambda md: md["provenance"].update(dirty=not dirty))
    r = run("merge", out, s0, flipped)
    other_value = commit + ("" if dirty else "-dirty")
    ok, lines = one_line_error(r, f"'{other_value}'", f"'{mine}'", flipped)
    check(ok and not os.path.exists(out), f"the same commit, clean and dirty, is refused too: {lines}")


def test_shards_of_different_build_flags_are_refused():
    s0, s1 = shards()
    build = load(s0)["metadata"]["provenance"]["build"]
    for field, value in (("flags", "-O0 -g -std=c++20"), ("compiler", "clang 14.0.6"), ("build_type", "debug")):
        # Faked: the copy claims another compiler, flags or build type.
        other = edited(s1, f"other-{field}.json", lambda md, f=field, v=value: md["provenance"]["build"].update({f: v}))
        out = path("refused.json")
        r = run("merge", out, s0, other)
        ok, lines = one_line_error(r, field, f"'{value}'", f"'{build[field]}'", other, s0)
        check(ok and not os.path.exists(out), f"different {field}: one line naming both values and both files, exit 2: {lines}")


def test_a_shard_resumed_by_another_build_is_refused():
    s0, s1 = shards()
    # A real resume first (of a copy of shard 1, nothing left to run): same build, so it merges.
    part = path("resumed.json")
    shutil.copy(s1, part)
    r1 = run("run", *GRID, "--shard", "1/2", "--out", part, "--resume")
    resumed = load(part)["metadata"].get("resumed", [])
    check(r1.returncode == 0 and resumed and resumed[-1].get("build") == load(s0)["metadata"]["provenance"]["build"],
          "a resume records its provenance, build included")
    out = path("merged-resumed.json")
    r = run("merge", out, s0, part)
    check(r.returncode == 0 and load(out)["metadata"]["merged_from"][1]["resumed"] == resumed,
          f"a shard resumed by the same build merges; its resumes are kept ({r.stderr.strip()})")
    # Faked: its last resume claims another commit.
    other = edited(part, "resumed-other.json", lambda md: md["resumed"][-1].update(commit="0123abc"))
    out = path("refused.json")
    r = run("merge", out, s0, other)
    ok, lines = one_line_error(r, "resumed #", "'0123abc", other)
    check(ok and not os.path.exists(out), f"a shard resumed by another commit is refused, naming the resume: {lines}")


def test_force_merges_different_builds_and_records_it():
    s0, s1 = shards()
    # Faked: another commit and other flags.
    other = edited(s1, "forced.json", lambda md: (md["provenance"].update(commit="0123abc"), md["provenance"]["build"].update(flags="-O1")))
    out = path("forced-out.json")
    r = run("merge", out, s0, other, "--force")
    if not check(r.returncode == 0, f"--force merges different builds ({r.stderr.strip()})"):
        return
    merge = load(out)["metadata"]["merge"]
    fields = sorted(d["field"] for d in merge["differences"])
    check(merge["forced"] is True and fields == ["commit", "flags"], f"metadata.merge records --force and each difference {merge}")
    d = next(x for x in merge["differences"] if x["field"] == "flags")
    check(d["file"] == other and d["value"] == "-O1" and d["reference_file"] == s0 and d["reference_value"] == load(s0)["metadata"]["flags"],
          f"a difference names both files and both values {d}")
    check(load(out)["metadata"]["merged_from"][1]["commit"].startswith("0123abc"), "merged_from keeps the forced shard's own commit")


def test_shards_from_different_hosts_merge_and_say_which_points_came_from_where():
    s0, s1 = shards()
    # Faked: the copy was run on another host (a cluster node).
    other = edited(s1, "node-b.json", lambda md: md["provenance"].update(host="node-b"))
    out = path("hosts.json")
    r = run("merge", out, s0, other)
    if not check(r.returncode == 0, f"shards from different hosts merge ({r.stderr.strip()})"):
        return
    md = load(out)["metadata"]
    host0 = load(s0)["metadata"]["provenance"]["host"]
    by_host = {m["host"]: m["points"] for m in md["merged_from"]}
    check(by_host == {host0: ids(load(s0)), "node-b": ids(load(s1))}, "merged_from says which points came from which host")
    check(md["merge"]["points_by_host"] == {host0: len(ids(load(s0))), "node-b": len(ids(load(s1)))}, "points_by_host counts them")
    check(md["merge"]["differences"] == [] and md["merge"]["forced"] is False, "a host is not a build difference")


def main():
    run_tests(globals(), TMP)


if __name__ == "__main__":
    main()
