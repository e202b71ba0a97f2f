#!/usr/bin/python3
"""End-to-end specification of planning for other machines: `spill-bench
topology --topology`, `run`/`sweep --dry-run [--topology]`, and the refusal
to run for real on a topology that is not this machine's.

usage: e2e_topology.py PATH/TO/spill-bench   (SPILL_SOURCE_ROOT names the source tree)

Every expected CPU below is worked out by hand from the topology's
description (the layout is in the comment beside it), not from spill-bench's
output. Each check prints one line; any failure exits non-zero with the
reason. Without hwloc in the build nothing here can run: a failure in CI
(CI=true), a skip (exit 77) elsewhere.
"""
import json
import os
import re
import sys
import tempfile

from e2e_common import check, dry_run_points, run, run_tests  # noqa: E402

ROOT = os.environ.get("SPILL_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
SMOKE = os.path.join(ROOT, "scenarios", "smoke")
FIXTURE = os.path.join(ROOT, "tests", "measure", "fixtures", "two-packages-smt.xml")  # README beside it: how lstopo made it
TMP = tempfile.mkdtemp(prefix="spill-e2e-topology-")
TINY = ["--items", "2000", "--rounds", "4", "--repetitions", "1", "--warmup", "0", "--counters", "none", "--quiet", "--no-calibrate"]

# Two packages, one L3 each, two cores of two threads per package (tree numbering):
#   package0: core0 {0,1} core1 {2,3}      package1: core2 {4,5} core3 {6,7}
TWO_PACKAGES = "synthetic:pack:2 l3:1 core:2 pu:2"
# Two NUMA nodes in one package, two L3s each, single-thread cores:
#   NUMA0: L3#0 {0,1} L3#1 {2,3}      NUMA1: L3#2 {4,5} L3#3 {6,7}
TWO_NUMA = "synthetic:pack:1 numa:2 l3:2 core:2 pu:1"
# SMT with Linux-style numbering (sibling of c is c + 4), two L2s of two cores:
#   L2#0: core0 {0,4} core1 {1,5}      L2#1: core2 {2,6} core3 {3,7}
SMT = "synthetic:pack:1 l3:1 l2:2 core:2 pu:2(indexes=0,4,1,5,2,6,3,7)"

EXPECTED = {  # topology -> compact plan, scatter plan, [(class, cpu_a, cpu_b, pairs)]
    TWO_PACKAGES: ([0, 1, 2, 3, 4, 5, 6, 7], [0, 4, 2, 6, 1, 5, 3, 7],
                   [("same_core", 0, 1, 4), ("same_l3", 0, 2, 8), ("other_package", 0, 4, 16)]),
    TWO_NUMA: ([0, 1, 2, 3, 4, 5, 6, 7], [0, 4, 2, 6, 1, 5, 3, 7],
               [("same_l3", 0, 1, 4), ("other_l3", 0, 2, 8), ("other_numa", 0, 4, 16)]),
    SMT: ([0, 4, 1, 5, 2, 6, 3, 7], [0, 2, 1, 3, 4, 6, 5, 7],
          [("same_core", 0, 4, 4), ("same_l2", 0, 1, 8), ("same_l3", 0, 2, 16)]),
    # package0 (NUMA0): core0 {0,4} core1 {1,5}; package1 (NUMA1): core2 {2,6} core3 {3,7}; an L2 per core
    FIXTURE: ([0, 4, 1, 5, 2, 6, 3, 7], [0, 2, 1, 3, 4, 6, 5, 7],
              [("same_core", 0, 4, 4), ("same_l3", 0, 1, 8), ("other_package", 0, 2, 16)]),
}
PLACEMENTS = ["same_core", "same_l2", "same_l3", "other_l3", "other_numa", "other_package"]


def path(name):
    return os.path.join(TMP, name)


def load(p):
    with open(p) as f:
        return json.load(f)


def plans(stdout):
    """`topology`'s plan lines: policy -> [OS cpu of slot 0, 1, ...]."""
    out = {}
    for m in re.finditer(r"^  plan (\w+)\s+thread slot -> OS cpu:((?: \d+->\d+)*)$", stdout, re.M):
        pairs = [tuple(map(int, x.split("->"))) for x in m.group(2).split()]
        out[m.group(1)] = [cpu for _, cpu in sorted(pairs)]
    return out


def classes(stdout):
    """The placement class lines: [(class, cpu_a, cpu_b, pairs)] in printed order."""
    return [(m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)))
            for m in re.finditer(r"^  (\w+)\s+e\.g\. cpus (-?\d+),(-?\d+) \((\d+) pairs\)$", stdout, re.M)]


def one_line_error(r, needle):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    return r.returncode == 2 and len(lines) == 1 and needle in lines[0], lines


def nothing_written(out):
    return not any(os.path.exists(p) for p in (out, out[:-5] + ".csv", out + ".topology.xml"))


def hwloc_missing():
    """Why topologies cannot be loaded by this build, or None when they can."""
    r = run("topology", "--topology", TWO_PACKAGES)
    if r.returncode == 0:
        return None
    return r.stderr.strip() or f"exit {r.returncode}"


def test_topology_prints_the_plans_and_classes_of_another_machine():
    for topo, (compact, scatter, want) in EXPECTED.items():
        r = run("topology", "--topology", topo)
        if not check(r.returncode == 0, f"topology --topology {topo} exits 0 ({r.stderr.strip()})"):
            continue
        p = plans(r.stdout)
        check(p.get("compact") == compact, f"{topo}: compact plan {p.get('compact')} == {compact}")
        check(p.get("scatter") == scatter, f"{topo}: scatter plan {p.get('scatter')} == {scatter}")
        check(classes(r.stdout) == want, f"{topo}: placement classes {classes(r.stdout)} == {want}")
        check("PU L#0" in r.stdout and "Package L#" in r.stdout, f"{topo}: the tree is printed")
        check("not applied" in r.stdout and "not this machine" in r.stdout, f"{topo}: says nothing is bound there")
        check("PAPI" not in r.stdout, f"{topo}: no counters (they are this machine's)")


def test_dry_run_gives_each_thread_of_every_point_its_cpu():
    out = path("dry.json")
    # mpsm: producers 0..P-1, then the mergers, then the owner (slot order).
    # scatter on TWO_PACKAGES is 0 4 2 6 1 5 3 7.
    r = run("run", "mpsm", "--producers", "2", "--mergers", "1,2", "--pin", "scatter", "--topology", TWO_PACKAGES, "--dry-run", "--out", out)
    check(r.returncode == 0, f"run --dry-run --topology exits 0 ({r.stderr.strip()})")
    check(nothing_written(out), "--dry-run writes no --out (nor its CSV or topology XML)")
    pts = dry_run_points(r.stdout)
    want = [
        [(0, "producer", 0, 0), (1, "producer", 1, 4), (2, "merger", 0, 2), (3, "owner", 0, 6)],
        [(0, "producer", 0, 0), (1, "producer", 1, 4), (2, "merger", 0, 2), (3, "merger", 1, 6), (4, "owner", 0, 1)],
    ]
    check([p[2] for p in pts] == want, f"mpsm --pin scatter: threads and cpus {[p[2] for p in pts]} == {want}")
    check([("mergers=1" in p[0], "mergers=2" in p[0]) for p in pts] == [(True, False), (False, True)], "the points are named by their ids")
    check(classes(r.stdout) == EXPECTED[TWO_PACKAGES][2], "--dry-run lists the placement classes of the topology")
    # pipeline: producers, stage-2 workers, the consumer; compact on SMT is 0 4 1 5 2 6 3 7.
    r = run("run", "pipeline", "--producers", "3", "--mergers", "2", "--topology", SMT, "--dry-run")
    want = [(0, "producer", 0, 0), (1, "producer", 1, 4), (2, "producer", 2, 1), (3, "stage2", 0, 5), (4, "stage2", 1, 2),
            (5, "consumer", 0, 6)]
    got = dry_run_points(r.stdout)
    check(r.returncode == 0 and len(got) == 1 and got[0][2] == want, f"pipeline compact on SMT: {got[0][2] if got else r.stderr} == {want}")
    # backpressure: producers, the consumer thread, the owner.
    r = run("run", "backpressure", "--producers", "2", "--topology", FIXTURE, "--pin", "scatter", "--dry-run")
    want = [(0, "producer", 0, 0), (1, "producer", 1, 2), (2, "consumer", 0, 1), (3, "owner", 0, 3)]
    got = dry_run_points(r.stdout)
    check(r.returncode == 0 and len(got) == 1 and got[0][2] == want, f"backpressure scatter on the XML fixture: {got[0][2] if got else r.stderr} == {want}")
    # More threads than PUs: slot k on plan[k % 8], flagged.
    r = run("run", "pool", "--producers", "8", "--topology", TWO_PACKAGES, "--dry-run")
    got = dry_run_points(r.stdout)
    want = [(k, "producer", k, k) for k in range(8)] + [(8, "consumer", 0, 0)]
    check(r.returncode == 0 and got and got[0][2] == want and "  oversubscribed: 9 threads on 8 logical CPUs" in r.stdout.splitlines(),
          f"9 threads on 8 PUs wrap around and are flagged ({got[0][2] if got else r.stderr})")
    # --pin none: nothing is bound.
    r = run("run", "pool", "--producers", "1", "--topology", TWO_NUMA, "--pin", "none", "--dry-run")
    got = dry_run_points(r.stdout)
    check(r.returncode == 0 and got and all(t[3] is None for t in got[0][2]), "--pin none: every thread unbound")


def test_dry_run_places_each_point_on_its_class_pair():
    # --placement all on TWO_NUMA: same_l3 (0,1), other_l3 (0,2), other_numa (0,4); slot k on pair[k % 2].
    r = run("run", "fan_in", "--producers", "1,2", "--placement", "all", "--topology", TWO_NUMA, "--dry-run")
    check(r.returncode == 0, f"--placement all --dry-run exits 0 ({r.stderr.strip()})")
    got = {(p[1][0], len(p[2])): (p[1][1:], [t[3] for t in p[2]]) for p in dry_run_points(r.stdout) if p[1]}
    want = {}
    for cls, a, b in [("same_l3", 0, 1), ("other_l3", 0, 2), ("other_numa", 0, 4)]:
        want[(cls, 2)] = ((a, b), [a, b])         # producer 0, consumer
        want[(cls, 3)] = ((a, b), [a, b, a])      # producers 0 and 1, consumer
    check(got == want, f"each class's points run on its pair: {got} == {want}")
    r = run("run", "fan_in", "--placement", "same_core", "--topology", TWO_NUMA, "--dry-run")
    ok, lines = one_line_error(r, "'same_core'")
    check(ok and "synthetic topology" in lines[0], f"a class the topology lacks is named against that topology: {lines}")
    r = run("run", "fan_in", "--placement", "other_package,other_numa", "--topology", TWO_NUMA, "--dry-run")
    got = dry_run_points(r.stdout)
    check(r.returncode == 0 and [p[1][0] for p in got] == ["other_numa"] and "skipping class 'other_package'" in r.stderr,
          "in a list, an absent class is skipped with a note")


def test_dry_run_of_a_sweep_file_on_a_big_topology():
    big = "synthetic:pack:2 numa:2 l3:2 l2:2 core:2 pu:2"
    r = run("sweep", SMOKE, "--topology", big, "--placement", "all", "--dry-run")
    check(r.returncode == 0, f"sweep --dry-run --topology exits 0 ({r.stderr.strip()[-300:]})")
    pts = dry_run_points(r.stdout)
    m = re.search(r"^points: (\d+) \(shard 0/1 of a grid of (\d+)\)$", r.stdout, re.M)
    check(m is not None and int(m.group(1)) == len(pts) == int(m.group(2)) and pts, f"every point of the grid is printed ({len(pts)})")
    seen = {p[1][0] for p in pts if p[1]}
    check(seen == set(PLACEMENTS), f"--placement all sweeps all six classes of a two-socket server ({sorted(seen)})")
    check(all(p[2] and all(t[3] is not None and 0 <= t[3] < 64 for t in p[2]) for p in pts), "every thread gets one of the 64 CPUs")
    # Shards split the same plan.
    r0 = run("sweep", SMOKE, "--topology", big, "--dry-run", "--shard", "0/2")
    r1 = run("sweep", SMOKE, "--topology", big, "--dry-run", "--shard", "1/2")
    r_all = run("sweep", SMOKE, "--topology", big, "--dry-run")
    ids = lambda r: [p[0] for p in dry_run_points(r.stdout)]  # noqa: E731
    check(sorted(ids(r0) + ids(r1)) == sorted(ids(r_all)) and not set(ids(r0)) & set(ids(r1)), "--dry-run --shard prints each shard's share")


def test_dry_run_on_this_machine_is_what_a_run_does():
    # Without --topology the dry run plans on this machine: the CPUs it prints
    # are the planned_cpu each thread of a real run records.
    cases = [["pool", "--producers", "1-2"], ["mpsm", "--producers", "2", "--mergers", "1-2"], ["pipeline", "--producers", "2", "--mergers", "1"],
             ["backpressure", "--producers", "1"], ["ring"], ["pool", "--producers", "1", "--placement", "all"],
             ["fan_in", "--producers", "3", "--pin", "scatter"], ["stream", "--producers", "1", "--pin", "none"]]
    for args in cases:
        out = path("real.json")
        for f in (out, out[:-5] + ".csv", out + ".topology.xml"):
            if os.path.exists(f):
                os.remove(f)
        dry = run("run", *args, *TINY, "--dry-run", "--out", out)
        check(dry.returncode == 0 and nothing_written(out), f"{args}: --dry-run exits 0 and writes nothing ({dry.stderr.strip()})")
        real = run("run", *args, *TINY, "--out", out)
        if not check(real.returncode == 0, f"{args}: the real run exits 0 ({real.stderr.strip()[-200:]})"):
            continue
        ran = {p["id"]: [(t["role"], t["index"], t["planned_cpu"] if t["planned_cpu"] >= 0 else None) for t in p["threads"]]
               for p in load(out)["points"]}
        planned = {p[0]: [(t[1], t[2], t[3]) for t in p[2]] for p in dry_run_points(dry.stdout)}
        check(planned == ran, f"{args}: the dry run's threads and cpus are the run's {planned} == {ran}")


def test_dry_run_with_resume_lists_what_the_file_lacks():
    out = path("partial.json")
    r = run("run", "ring", *TINY, "--ring-size", "64,128", "--out", out)
    check(r.returncode == 0, f"a partial run ({r.stderr.strip()})")
    before = os.path.getmtime(out)
    r = run("run", "ring", *TINY, "--ring-size", "64,128,256,512", "--out", out, "--resume", "--dry-run")
    got = [p[0] for p in dry_run_points(r.stdout)]
    check(r.returncode == 0 and len(got) == 2 and all("ring_size=256" in i or "ring_size=512" in i for i in got)
          and "points: 2 (shard 0/1 of a grid of 4), 2 already in" in r.stdout,
          f"--dry-run --resume lists only the points the file lacks ({got})")
    check(os.path.getmtime(out) == before and len(load(out)["points"]) == 2 and "resumed" not in load(out)["metadata"],
          "and leaves the file as it was")


def test_a_real_run_needs_this_machines_topology():
    out = path("refused.json")
    for topo in (TWO_PACKAGES, FIXTURE):
        r = run("run", "ring", *TINY, "--topology", topo, "--out", out)
        ok, lines = one_line_error(r, "is not this machine's topology")
        check(ok and nothing_written(out), f"a real run on {topo} is refused with one line and writes nothing: {lines}")
        r = run("sweep", SMOKE, *TINY, "--topology", topo, "--out", out)
        ok, lines = one_line_error(r, "--dry-run")
        check(ok and nothing_written(out), f"so is a sweep, pointing to --dry-run: {lines}")
    # This machine's own topology, as exported beside every result file, runs.
    first = path("here.json")
    r = run("run", "ring", *TINY, "--out", first)
    xml = first + ".topology.xml"
    if not check(r.returncode == 0 and os.path.exists(xml), f"a run exports this machine's topology ({r.stderr.strip()})"):
        return
    again = path("here-again.json")
    r = run("run", "ring", *TINY, "--topology", xml, "--out", again)
    check(r.returncode == 0 and load(again)["metadata"].get("topology_checked") == {"option": xml, "describes_this_machine": True},
          f"a run with this machine's own topology XML runs and records the check ({r.stderr.strip()})")
    check(load(again)["points"][0]["threads"][0]["planned_cpu"] >= 0, "and pins as usual")


def test_bad_topology_input_is_one_line_and_writes_nothing():
    malformed = path("malformed.xml")
    with open(malformed, "w") as f:
        f.write('<?xml version="1.0"?>\n<topology version="2.0">\n  <object type="Machine"\n')
    notxml = path("notxml.xml")
    with open(notxml, "w") as f:
        f.write("pack:2 core:2 pu:2\n")
    cases = [
        ("/nonexistent/target.xml", "cannot read XML file '/nonexistent/target.xml'"),
        (TMP, "is a directory"),
        (malformed, f"'{malformed}' is not a valid hwloc XML topology"),
        (notxml, f"'{notxml}' is not a valid hwloc XML topology"),
        ("synthetic:pack:2 bogus:3 pu:2", "'pack:2 bogus:3 pu:2'"),
        ("synthetic:pack:2 core:2", "'pack:2 core:2'"),
        ("synthetic:", "needs a description after the colon"),
        ("", "--topology: empty value"),
    ]
    out = path("bad.json")
    for value, needle in cases:
        for args in (["topology"], ["run", "ring", "--dry-run"], ["run", "ring", *TINY, "--out", out], ["sweep", SMOKE, "--dry-run"]):
            r = run(*args, "--topology", value)
            ok, lines = one_line_error(r, needle)
            check(ok and r.stdout == "" and nothing_written(out), f"{' '.join(args[:2])} --topology {value!r}: exit {r.returncode}, {lines}")


def main():
    why = hwloc_missing()
    if why is not None:
        print(f"cannot plan on other topologies in this build: {why}")
        if os.environ.get("CI") == "true":
            print("FAIL a required check cannot run in CI")
            sys.exit(1)
        sys.exit(77)
    run_tests(globals(), TMP)


if __name__ == "__main__":
    main()
