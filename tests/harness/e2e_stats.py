#!/usr/bin/python3
"""End-to-end specification of the handoff statistics, per-role counters and
placement sweep of spill-bench (harness/SCHEMA.md "Handoff statistics,
per-role counters, placement"), run through the built binary with small runs.

usage: e2e_stats.py PATH/TO/spill-bench

Each check prints one line; any failure exits non-zero with the reason.
"""
import json
import os
import tempfile

from e2e_common import check, run, run_tests  # noqa: E402

TMP = tempfile.mkdtemp(prefix="spill-e2e-stats-")
PLACEMENTS = ["same_core", "same_l2", "same_l3", "other_l3", "other_numa", "other_package"]
TINY = ["--items", "4000", "--rounds", "20", "--repetitions", "2", "--warmup", "0", "--quiet", "--no-calibrate"]


def path(name):
    return os.path.join(TMP, name)


def load(p):
    with open(p) as f:
        return json.load(f)


def scenario_facts():
    """Scenario name -> its facts, as `spill-bench list --json` declares them."""
    r = run("list", "--json")
    return {s["name"]: s["facts"] for s in json.loads(r.stdout)["scenarios"] if s["available"]} if r.returncode == 0 else {}


def with_handoff_stats():
    """The scenarios that declare a `handoff` block per repetition."""
    return [name for name, f in scenario_facts().items() if f["handoff_stats"]]


def fraction(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and 0.0 <= x <= 1.0 + 1e-9


def handoff_problems(point, rep):
    """Every inconsistency of one repetition's handoff block (empty: consistent)."""
    h = rep.get("handoff")
    if not isinstance(h, dict):
        return ["no handoff block"]
    bad = []
    ck = rep["checks"]
    if h["items"] != ck["delivered"]:
        bad.append(f"items over handoffs {h['items']} != delivered {ck['delivered']}")
    if h["publishes"] != h["recycle_hits"] + h["merge_backs"]:
        bad.append(f"publishes {h['publishes']} != recycle_hits {h['recycle_hits']} + merge_backs {h['merge_backs']}")
    if not fraction(h["recycle_hit_rate"]):
        bad.append(f"recycle_hit_rate {h['recycle_hit_rate']}")
    iph = h["items_per_handoff"]
    if h["handoffs"] <= 0 or abs(iph["mean"] - h["items"] / h["handoffs"]) > 1e-9 * iph["mean"]:
        bad.append(f"items_per_handoff.mean {iph['mean']} with {h['items']} items over {h['handoffs']} handoffs")
    if sum(b[2] for b in iph["buckets"]) != h["handoffs"] or any(b[0] > b[1] for b in iph["buckets"]):
        bad.append("items_per_handoff buckets do not count every handoff")
    if not (iph["p50_upper"] <= iph["p99_upper"] <= iph["max"]) or iph["max"] < iph["mean"]:
        bad.append(f"items_per_handoff percentiles {iph}")
    occ = h["occupancy"]
    cap = occ["capacity_items"]
    if cap != point["params"]["ring_size"] or occ["max_items"] > cap:
        bad.append(f"occupancy max {occ['max_items']} above capacity {cap}")
    s = occ["series"]
    if not (len(s["t_seconds"]) == len(s["worker"]) == len(s["items"]) == occ["samples"] <= 256):
        bad.append("occupancy series lengths disagree or exceed 256")
    if any(n > cap for n in s["items"]) or s["t_seconds"] != sorted(s["t_seconds"]):
        bad.append("occupancy series out of range or out of time order")
    if occ["samples"] == 0 and point["params"]["rounds"] > 1:
        bad.append("no occupancy sample over several rounds")
    roles = h["wait_by_role"]
    if "producer" not in roles or "consumer" not in roles:
        bad.append(f"wait_by_role roles {sorted(roles)}")
    for name, r in roles.items():
        if not (fraction(r["spin_fraction"]) and fraction(r["blocked_fraction"]) and r["spin_fraction"] + r["blocked_fraction"] <= 1 + 1e-6):
            bad.append(f"{name}: spin {r['spin_fraction']} blocked {r['blocked_fraction']}")
        if r["blocks"] > r["waits"] or r["threads"] < 1:
            bad.append(f"{name}: blocks {r['blocks']} > waits {r['waits']}")
    return bad


def test_handoff_statistics_are_consistent_in_every_ring_handing_scenario():
    declared = with_handoff_stats()
    check(len(declared) >= 7, f"the ring-handing spill scenarios declare handoff statistics {declared}")
    for sc in declared:
        out = path(sc + ".json")
        extra = ["--mergers", "2"] if sc in ("mpsm", "pipeline") else []
        r = run("run", sc, *TINY, "--ring-size", "64,1024", *extra, "--out", out)
        if not check(r.returncode == 0, f"{sc}: small run exits 0 ({r.stderr.strip()[-200:]})"):
            continue
        d = load(out)
        problems = [f"{p['id']}: {b}" for p in d["points"] for rep in p["repetitions"] for b in handoff_problems(p, rep)]
        check(not problems, f"{sc}: handoff statistics consistent {problems[:3]}")
        if sc == "mpsm":
            check(all("merger" in rep["handoff"]["wait_by_role"] for p in d["points"] for rep in p["repetitions"]),
                  "mpsm: the merger threads' waits are recorded")


def test_uncollected_batches_lower_the_recycle_hit_rate():
    out = path("bp.json")
    r = run("run", "backpressure", "--items", "20000", "--rounds", "50", "--ring-size", "64", "--consumer-delay-ns", "20000",
            "--delay-mode", "block_batch", "--repetitions", "1", "--warmup", "0", "--quiet", "--no-calibrate", "--out", out)
    if check(r.returncode == 0, "backpressure with a slow consumer runs"):
        h = load(out)["points"][0]["repetitions"][0]["handoff"]
        check(h["merge_backs"] > 0 and h["recycle_hit_rate"] < 1.0, f"a slow consumer causes merge backs (hit rate {h['recycle_hit_rate']})")
        check(h["occupancy"]["max_items"] == 64, "merged batches fill the ring to its capacity")


def test_scenarios_without_handoff_statistics_have_no_handoff_block():
    undeclared = [name for name, f in scenario_facts().items() if not f["handoff_stats"]]
    check("ring" in undeclared and "baseline_mutex_deque" in undeclared, f"ring and the baselines declare no handoff statistics {undeclared}")
    out = path("ring.json")
    r = run("run", "ring", *TINY, "--out", out)
    if check(r.returncode == 0, "ring runs"):
        check(all("handoff" not in rep for rep in load(out)["points"][0]["repetitions"]), "ring repetitions have no handoff block")
    out = path("mutex.json")
    r = run("run", "baseline_mutex_deque", *TINY, "--out", out)
    if check(r.returncode == 0, "baseline_mutex_deque runs"):
        check(all("handoff" not in rep for rep in load(out)["points"][0]["repetitions"]), "baseline repetitions have no handoff block")


def test_per_role_counters_are_numbers_or_null_with_a_reason():
    out = path("papi.json")
    r = run("run", "mpsm", "--producers", "2", "--mergers", "2", *TINY, "--counters", "default", "--out", out)
    if not check(r.returncode == 0, "mpsm with the default counters runs"):
        return
    d = load(out)
    un = d["metadata"]["counters"]["unavailable"]
    for p in d["points"]:
        roles = p["cost"]["counters_by_role"]
        check(set(roles) == {"producer", "merger", "consumer"}, f"counters_by_role has every role {sorted(roles)}")
        for name, role in roles.items():
            ok = set(role["counters"]) == set(d["metadata"]["counters"]["requested"]) and role["threads"] >= 1
            for ev, f in role["counters"].items():
                if f["total"] is None:
                    ok = ok and f["per_item"] is None and f["per_handoff"] is None and f.get("unavailable", "") != ""
                    ok = ok and (ev not in un or f["unavailable"] == un[ev])
                else:
                    ok = ok and "unavailable" not in f and ev not in un
                    ok = ok and abs(f["per_item"] * p["cost"]["items"] - f["total"]) <= 1e-6 * max(1.0, f["total"])
            check(ok, f"{name}: every counter is a number or null with its reason")
    out = path("nopapi.json")
    r = run("run", "pool", *TINY, "--counters", "none", "--out", out)
    if check(r.returncode == 0, "--counters none runs"):
        roles = load(out)["points"][0]["cost"]["counters_by_role"]
        check(all(role["counters"] == {} for role in roles.values()), "--counters none: per-role counters are empty")


def classes_here():
    r = run("topology")
    line = [l for l in r.stdout.splitlines() if l.startswith("placement classes")]
    listed = [l.split()[0] for l in r.stdout.splitlines() if l.startswith("  ") and l.split() and l.split()[0] in PLACEMENTS]
    return listed, line


def test_placement_moves_the_threads_and_is_recorded_per_point():
    present, _ = classes_here()
    if not check(present, f"the machine has at least one placement class {present}"):
        return
    out = path("placed.json")
    r = run("run", "pool", *TINY, "--producers", "1", "--placement", "all", "--out", out)
    if not check(r.returncode == 0, f"--placement all runs ({r.stderr.strip()[-200:]})"):
        return
    d = load(out)
    md = d["metadata"]["placement"]
    check(md["swept"] == present, f"metadata.placement.swept lists the classes present {md['swept']}")
    check(sorted(p["params"]["placement"] for p in d["points"]) == sorted(present), "one point per class present")
    by_class = {c["class"]: c for c in md["classes"]}
    for p in d["points"]:
        cls = p["params"]["placement"]
        pair = by_class[cls]["cpus"] if len(by_class[cls]["cpus"]) == 2 else None
        planned = sorted({t["planned_cpu"] for t in p["threads"]})
        check(p["placement"]["class"] == cls and p["placement"]["swept"] is True and f"|placement={cls}|" in p["id"],
              f"{cls}: the point records its class")
        if d["metadata"]["pinning_available"] or planned != [-1]:
            check(pair is None or planned == sorted(pair), f"{cls}: threads were pinned to the class's pair {planned} vs {pair}")
    if len(present) == 1:
        check("one placement class" in md.get("note", "") and md["single_class"] is True, "a single-class machine says so in the JSON")
        check("one placement class on this machine" in r.stderr, "a single-class machine says so on stderr")
    out = path("unplaced.json")
    r = run("run", "pool", *TINY, "--out", out)
    if check(r.returncode == 0, "a run without --placement"):
        p = load(out)["points"][0]
        check("placement=" not in p["id"] and "placement" not in p["params"], "without --placement the id and params are unchanged")
        check(p["placement"]["swept"] is False and (p["placement"]["class"] in PLACEMENTS + ["unknown"] or p["placement"]["class"] is None),
              f"without --placement the point still records where it ran {p['placement']}")


def test_absent_placement_classes_are_errors_or_skipped():
    present, _ = classes_here()
    absent = [c for c in PLACEMENTS if c not in present]
    if not absent or not present:
        print("skip absent-class checks: every class is present")
        return
    out = path("absent.json")
    r = run("run", "pool", *TINY, "--placement", absent[-1], "--out", out)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode == 2 and len(lines) == 1 and absent[-1] in lines[0] and present[0] in lines[0] and not os.path.exists(out),
          f"--placement {absent[-1]} (absent) is one line naming it and the classes present: {lines}")
    out = path("mixed.json")
    r = run("run", "pool", *TINY, "--placement", f"{present[0]},{absent[-1]}", "--out", out)
    if check(r.returncode == 0, "a list with an absent class runs the present ones"):
        d = load(out)
        check([p["params"]["placement"] for p in d["points"]] == [present[0]], "only the present class ran")
        sk = d["metadata"]["placement"].get("skipped", [])
        check([s["class"] for s in sk] == [absent[-1]] and "not present" in sk[0]["reason"], f"the skipped class is recorded {sk}")
        check(absent[-1] in r.stderr, "the skip is noted on stderr")
    sweep = path("placed.sweep")
    with open(sweep, "w") as f:
        f.write(f"repetitions = 1\nwarmup = 0\nitems = 2000\nrounds = 4\n[pool]\nplacement = {present[0]},{absent[-1]}\n[fan_in]\n")
    out = path("sweep.json")
    r = run("sweep", sweep, "--quiet", "--no-calibrate", "--out", out)
    if check(r.returncode == 0, f"a sweep file with placement = ... runs ({r.stderr.strip()[-200:]})"):
        d = load(out)
        check(sorted(p["params"].get("placement", "") for p in d["points"]) == sorted(["", present[0]]),
              "the sweep file's placement applies to its section only")
    for bad, needle in [("diagonal", "'diagonal'"), ("same_l3,,other_l3", "empty element")]:
        r = run("run", "pool", *TINY, "--placement", bad)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check(r.returncode == 2 and len(lines) == 1 and needle in lines[0], f"--placement {bad!r} is bad input: {lines}")


def main():
    run_tests(globals(), TMP)


if __name__ == "__main__":
    main()
