#!/usr/bin/python3
"""End-to-end specification of spill-bench, run through the built binary.

usage: e2e.py PATH/TO/spill-bench     (SPILL_SOURCE_ROOT names the source tree)

Each check prints one line; any failure exits non-zero with the reason.
"""
import csv
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time

from e2e_common import BENCH, check, dry_run_points, run, run_tests  # noqa: E402

ROOT = os.environ.get("SPILL_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
SMOKE = os.path.join(ROOT, "scenarios", "smoke")
TMP = tempfile.mkdtemp(prefix="spill-e2e-")

# Every contender of harness/baselines/contenders.hpp is a scenario baseline_<contender>.
BASELINES = ["baseline_" + c for c in ("mutex_deque", "boost_spsc", "boost_queue", "moodycamel_cq", "moodycamel_cq_blocking",
                                       "moodycamel_rwq", "moodycamel_rwq_blocking", "atomic_queue", "atomic_queue_spsc",
                                       "tbb_bounded", "tbb_bounded_blocking", "xenium_vyukov")]
SCENARIOS = ["ring", "pool", "stream", "fan_in", "sequenced", "backpressure", "pipeline", "mpsm", "latency", "latency_open", *BASELINES]
TINY = ["--items", "2000", "--rounds", "4", "--repetitions", "1", "--warmup", "0", "--counters", "none", "--quiet", "--no-calibrate"]
SCHEMA_VERSION = 2
PROVENANCE = ["tool", "commit", "dirty", "date_utc", "host", "command_line"]
PLACEMENTS = ["same_core", "same_l2", "same_l3", "other_l3", "other_numa", "other_package"]


def positive_finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 and math.isfinite(x)


def load(path):
    with open(path) as f:
        return json.load(f)


def ids(doc):
    return sorted(p["id"] for p in doc["points"])


def path(name):
    return os.path.join(TMP, name)


def built_scenarios():
    """The scenarios of this build: baselines whose library was missing are listed as not built."""
    return [s["name"] for s in listed() if s["available"]]


def listed():
    """`spill-bench list --json`: every scenario with its facts."""
    r = run("list", "--json")
    return json.loads(r.stdout)["scenarios"] if r.returncode == 0 else []


def test_list_json_declares_every_scenarios_facts():
    r = run("list", "--json")
    if not check(r.returncode == 0, f"list --json exits 0 ({r.stderr.strip()})"):
        return
    doc = json.loads(r.stdout)
    check(doc["schema_version"] == SCHEMA_VERSION, "list --json names the schema version")
    names = [s["name"] for s in doc["scenarios"]]
    check([n for n in names if n in SCENARIOS] == SCENARIOS and len(set(names)) == len(names),
          f"list --json has every scenario once, in listing order ({names})")
    keys = {"contender", "job", "hands_rings", "handoff_stats", "roles", "sweeps", "ordered", "handoff_rule", "floor", "config"}
    for s in doc["scenarios"]:
        f = s["facts"]
        ok = keys <= set(f) and f["contender"] and f["roles"] and "items" in f["sweeps"]
        ok = ok and (f["floor"] != "none" or f.get("floor_note"))  # no floor: says why
        ok = ok and (not f["handoff_stats"] or f["hands_rings"])  # handoff statistics only where rings are handed over
        check(ok, f"{s['name']}: facts complete {f}")
    by = {s["name"]: s["facts"] for s in doc["scenarios"]}
    check(by["ring"]["handoff_rule"] == "none" and by["ring"]["floor"] == "masked_store", "ring: no handoffs, the masked-store floor")
    check(by["pipeline"]["handoff_rule"] == "producers+mergers", "pipeline: both stages hand over rings")
    check(all(by[s]["contender"] != "spill" and by[s]["handoff_rule"] == "items" for s in SCENARIOS if s.startswith("baseline_")),
          "baselines name their queue and hand over every item")
    check(by["sequenced"]["ordered"] and not by["fan_in"]["ordered"], "ordered: only sequenced checks exact order")
    # The analysis fixtures are made from a snapshot of this output: the facts
    # of every scenario in it must still be what the binary declares.
    with open(os.path.join(ROOT, "tests", "analysis", "fixtures", "scenarios.json")) as f:
        snapshot = {x["name"]: x["facts"] for x in json.load(f)["scenarios"]}
    stale = sorted(n for n, f in snapshot.items() if by.get(n) != f)
    check(not stale, f"tests/analysis/fixtures/scenarios.json matches `list --json` for {stale or 'every scenario'} (regenerate it, "
                     "then the fixtures, with tests/analysis/fixtures/make_fixtures.py)")
    params = [p["key"] for p in doc["parameters"]]
    check({"producers", "ring_size", "items", "rounds", "delay_mode", "placement", "batch", "contend"} <= set(params),
          f"list --json lists the parameters {params}")
    check(all("contend" in by[s]["sweeps"] for s in SCENARIOS) and all(("batch" in by[s]["sweeps"]) == s.startswith("baseline_") for s in SCENARIOS),
          "every scenario sweeps --contend; the baselines, and only they, --batch")


def test_list_names_every_scenario():
    r = run("list")
    check(r.returncode == 0, "list exits 0")
    for s in SCENARIOS:
        check(("  " + s + " ") in r.stdout, f"list names {s}")
    for s in set(SCENARIOS) - set(built_scenarios()):
        r = run("run", s, *TINY, "--out", path("unbuilt.json"))
        check(r.returncode == 2 and "not available in this build" in r.stderr and not os.path.exists(path("unbuilt.json")),
              f"running {s}, which is not built, is an input error")


def dry_run_ids(sweep):
    """The point ids a committed sweep file plans (--dry-run), in order."""
    r = run("sweep", os.path.join(ROOT, "scenarios", sweep), "--dry-run")
    check(r.returncode == 0, f"sweep scenarios/{sweep} --dry-run exits 0 ({r.stderr.strip()[-300:]})")
    return [p[0] for p in dry_run_points(r.stdout)]


def test_demo_and_perf_sweeps_plan_the_same_headline_comparison():
    demo, perf = dry_run_ids("default"), dry_run_ids("perf")
    check(len(perf) > 0 and len(set(perf)) == len(perf), f"scenarios/perf plans {len(perf)} distinct points")
    missing = sorted(set(perf) - set(demo))
    check(not missing, f"every point of scenarios/perf (target H) is in the demo's sweep too (missing: {missing[:3]})")
    built = set(built_scenarios())
    demo_scenarios = {i.split("|")[0] for i in demo}
    check(demo_scenarios == built, f"the demo's sweep runs every scenario of this build (missing: {sorted(built - demo_scenarios)})")
    headline = {i.split("|")[0] for i in perf}
    check(headline == {"fan_in"} | (built & set(BASELINES)), f"the headline compares fan_in with every queue of this build ({sorted(headline)})")


def test_topology_says_why_counters_are_missing():
    r = run("topology")
    check(r.returncode == 0, "topology exits 0")
    check("pinning" in r.stdout and "plan compact" in r.stdout, "topology prints the pinning plan")
    check("PAPI" in r.stdout and ("readable" in r.stdout), "topology reports which PAPI counters are readable")
    lines = [l for l in r.stdout.splitlines() if l.startswith("placement classes")]
    check(len(lines) == 1, "topology lists the placement classes")
    listed = [l.split()[0] for l in r.stdout.splitlines() if l.startswith("  ") and l.split()[:1] and l.split()[0] in PLACEMENTS]
    check(len(listed) >= 1, f"topology names at least one placement class ({listed})")
    if len(listed) == 1:
        check(lines and f"one placement class on this machine: {listed[0]}" in lines[0], "a single-class machine says so")


def test_smoke_sweep_covers_every_scenario_and_follows_the_schema():
    out = path("smoke.json")
    r = run("sweep", SMOKE, "--out", out)
    check(r.returncode == 0, f"smoke sweep exits 0 (exit {r.returncode}, last stderr line: {r.stderr.strip().splitlines()[-1:]})")
    d = load(out)
    check(d["schema_version"] == SCHEMA_VERSION, f"schema_version is {SCHEMA_VERSION}")
    md = d["metadata"]
    for k in ["tool", "provenance", "commit", "dirty", "compiler", "flags", "build_type", "cpu_model", "logical_cpus", "topology", "kernel",
              "hostname", "date_utc", "command_line", "seed", "pin_policy", "pinning_available", "pinning_reason", "counters", "shard",
              "wait_calibration"]:
        check(k in md, f"metadata has {k}")
    prov = md.get("provenance", {})
    check(all(k in prov for k in PROVENANCE) and out in prov["command_line"] and isinstance(prov["dirty"], bool),
          f"metadata.provenance names the commit, dirty flag, date, host and command line {prov}")
    check(md["wait_calibration"]["park_ns"] > 0, "metadata.wait_calibration records what parking costs here")
    facts = {s["name"]: s["facts"] for s in listed()}
    try:
        analysis_module().load(out)
        loaded = ""
    except Exception as err:  # noqa: BLE001 - the reason is the check's message
        loaded = str(err)
    check(not loaded, f"analysis/spill_results.py reads and validates spill-bench's file {loaded}")
    check({"requested", "available", "unavailable"} <= set(md["counters"]), "metadata.counters has requested/available/unavailable")
    # Manifest: every key either has a value or says why not; the topology XML is beside the results.
    man = md.get("manifest", {})
    check(all(("value" in f) != ("unavailable" in f) for k, f in man.items() if k != "cpufreq_governor_per_cpu") and len(man) > 5,
          "metadata.manifest: each field has a value or a reason")
    check(man.get("hwloc_topology_xml", {}).get("value") == out + ".topology.xml" and os.path.getsize(out + ".topology.xml") > 0
          or "unavailable" in man.get("hwloc_topology_xml", {}), "the hwloc topology XML is written beside the results")
    check(man.get("git_commit", {}).get("value", md["commit"]) == md["commit"], "manifest git_commit is the build's commit")
    # Floors, self-calibrated on the pinned CPUs (this run does not pass --no-calibrate).
    fl = md.get("floors", {})
    check(positive_finite(fl.get("masked_store", {}).get("ns_per_store", {}).get("median")), "floors: masked store ns is positive and finite")
    if md["logical_cpus"] >= 2:
        # A floor that could not be measured (meson runs other suites beside
        # this one, and a starved responder completes no trial) is null with
        # its reason, never 0.
        def measured_or_said_why(part, value):
            st = part.get("status", {})
            if st.get("ok"):
                return positive_finite(value)
            return (value is None or positive_finite(value)) and bool(st.get("reason"))
        pp, lt = fl.get("ping_pong", {}), fl.get("line_transfer", {})
        check(measured_or_said_why(pp, pp.get("round_trip_ns", {}).get("median")),
              f"floors: ping-pong round trip is positive and finite, or null with the reason ({pp.get('status')})")
        check(measured_or_said_why(lt, lt.get("one_way_ns")),
              f"floors: one-way line transfer is positive and finite, or null with the reason ({lt.get('status')})")
    check(md.get("placement", {}).get("summary", "") != "", "metadata.placement has a summary")
    for p in d["points"]:
        # A point records its scenario's facts (as `list --json` declares them) and its configuration.
        f = dict(p.get("facts", {}))
        handoffs = f.pop("handoffs_per_round", None)
        job = f.pop("job", None)
        neighbours = f.pop("busy_neighbours", None)
        crowded = f.pop("producers_exceed_cpus", None)
        ok = neighbours == p["params"].get("contend", 0)
        ok = ok and crowded == ("producers" in f["sweeps"] and p["params"]["producers"] > md["logical_cpus"])
        listed_facts = dict(facts.get(p["scenario"], {}))
        listed_job = listed_facts.pop("job", None)
        ok = ok and f == listed_facts and isinstance(handoffs, int)
        ok = ok and (job == listed_job or (p["params"]["producers"] == 1 and job == "1" + listed_job[1:]))
        ok = ok and set(p.get("config", {})) == set(listed_facts.get("config", [])) and all(isinstance(v, int) for v in p["config"].values())
        if not check(ok, f"point {p['id']}: facts {p.get('facts')} and config {p.get('config')} follow the scenario"):
            break
    for p in d["points"]:
        fm = p["summary"].get("floor_multiples", "missing")
        floor = p["facts"]["floor"]
        if floor == "masked_store":
            ok = positive_finite(fm.get("push_over_masked_store")) and positive_finite(fm.get("ns_per_item"))
        elif floor == "handoff":
            ok = all(positive_finite(fm.get(k)) for k in ["ns_per_item", "items_per_handoff"])
            # The line-transfer floor needs two CPUs; with one it is null, and so is the multiple.
            ok = ok and (md["logical_cpus"] < 2 or positive_finite(fm.get("handoff_floor_per_item_ns")) and positive_finite(fm.get("item_over_handoff_floor")))
            ok = ok and (fm["item_over_handoff_floor"] is None or abs(fm["ns_per_item"] / fm["handoff_floor_per_item_ns"] -
                                                                  fm["item_over_handoff_floor"]) <= 1e-9 * fm["item_over_handoff_floor"])
        else:
            ok = fm is None and p["summary"]["undefined"]["floor_multiples"] == p["facts"]["floor_note"]
        if not check(ok, f"point {p['id']}: summary.floor_multiples {fm}"):
            break
    for p in d["points"]:
        c = p.get("cost", {})
        roles = c.get("roles", {})
        ok = "consumer" in roles or "producer" in roles
        ok = ok and all(r["cpu_seconds_per_million_items"] >= 0 and (r["switches_per_handoff"] is None or r["switches_per_handoff"] >= 0)
                        for r in roles.values())
        ok = ok and (c.get("allocations_per_round") is None or c["allocations_per_round"] >= 0)
        # The producer role's CPU time is the sum of the producer threads' records.
        prod = sum(t.get("cpu_seconds", 0.0) for t in p["threads"] if t["role"] in ("producer", "worker"))
        ok = ok and ("producer" not in roles or abs(roles["producer"]["total"]["cpu_seconds"] - prod) <= 1e-9 + 1e-9 * prod)
        if not check(ok and c.get("items", 0) > 0, f"point {p['id']}: cost per role {sorted(roles)}"):
            break
    mp = [p for p in d["points"] if p["scenario"] == "mpsm"]
    check(all({"producer", "merger"} <= set(p["cost"]["roles"]) for p in mp),
          "mpsm points cost producers and mergers")
    check(set(built_scenarios()) == {p["scenario"] for p in d["points"]}, "smoke covers every scenario and baseline of this build")
    for p in d["points"]:
        ok = p["checks"]["passed"] and p["id"].startswith(p["scenario"] + "|")
        ok = ok and p["checks"]["produced"] == p["checks"]["delivered"] + p["checks"]["overflowed"] + p["checks"]["dropped"]
        ok = ok and all(k in p["repetitions"][0]["counters"] for k in
                        ["cpu_seconds", "voluntary_context_switches", "involuntary_context_switches", "page_faults", "allocations"])
        s = p["summary"]["items_per_second"]
        ok = ok and {"median", "min", "max", "cv", "n"} <= set(s)
        # Throughput counts delivered items; the produced rate is beside it.
        ok = ok and all(abs(r["items_per_second"] - r["checks"]["delivered"] / r["seconds"]) <= 1e-6 * r["items_per_second"]
                        and abs(r["produced_items_per_second"] - r["checks"]["produced"] / r["seconds"]) <= 1e-6 * r["produced_items_per_second"]
                        for r in p["repetitions"])
        ok = ok and {"median", "n"} <= set(p["summary"]["produced_items_per_second"])
        # One repetition per point here: no spread, and the file says why instead of writing 0.
        ok = ok and (s["n"] > 1 or (s["cv"] is None and "one repetition" in s["undefined"]["cv"]))
        ok = ok and all("core" in t and "role" in t for t in p["threads"]) and isinstance(p["oversubscribed"], bool)
        if not check(ok, f"point {p['id']} passed and is complete"):
            break
    seq = [p for p in d["points"] if p["scenario"] == "sequenced"]
    check(all(p["checks"]["order"] is True for p in seq), "sequenced points check exact order")
    check(all(p["checks"]["order"] is None for p in d["points"] if p["scenario"] != "sequenced"), "other points have order null")
    bp = [p for p in d["points"] if p["scenario"] == "backpressure"]
    check(all("merged_items" in p["checks"] and "merged_back" not in p["checks"] for p in bp), "backpressure reports merged_items")
    check(not os.path.exists(out[:-5] + ".csv"), "no CSV without --csv")
    r = run("sweep", SMOKE, "--out", out, "--csv", "--resume")
    check(r.returncode == 0 and "already done" in r.stderr, "a finished run resumed with --csv runs nothing")
    with open(out[:-5] + ".csv") as f:
        rows = list(csv.DictReader(f))
    check(len(rows) == sum(len(p["repetitions"]) for p in d["points"]), "CSV has one row per repetition")
    check(rows and "items_per_second" in rows[0] and "passed" in rows[0] and "merged_items" in rows[0] and rows[0]["contender"],
          "CSV has contender, throughput and check columns")
    check(len(load(out)["metadata"]["resumed"]) == 1 and all(k in load(out)["metadata"]["resumed"][0] for k in PROVENANCE),
          "a resume records its own provenance")


def test_no_calibrate_skips_the_floors_and_placement_selects_the_pair():
    out = path("nocal.json")
    r = run("run", "ring", *TINY, "--out", out)
    if check(r.returncode == 0, "run --no-calibrate succeeds"):
        d = load(out)
        check(d["metadata"]["floors"] == {"skipped": "--no-calibrate"}, "--no-calibrate records that the floors were skipped")
        check(d["points"][0]["summary"]["floor_multiples"]["push_over_masked_store"] is None, "without floors the multiples are null")
    classes = [c["class"] for c in d["metadata"]["placement"]["classes"]] if r.returncode == 0 else []
    absent = [c for c in PLACEMENTS if c not in classes]
    if absent:
        out2 = path("absent.json")
        r = run("run", "ring", *[a for a in TINY if a != "--no-calibrate"], "--placement", absent[-1], "--out", out2)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        check(r.returncode == 2 and len(lines) == 1 and absent[-1] in lines[0] and not os.path.exists(out2)
              and not os.path.exists(out2 + ".topology.xml"), f"--placement {absent[-1]} (not on this machine) is an input error: {lines}")
    out3 = path("all.json")
    r = run("run", "ring", *[a for a in TINY if a != "--no-calibrate"], "--placement", "all", "--out", out3)
    if check(r.returncode == 0, "run --placement all succeeds"):
        md = load(out3)["metadata"]
        check(sorted(md["floors_by_placement"]) == sorted(c for c in classes if c != "unknown"), "--placement all calibrates every class present")
        check(md["placement"]["selected"] == "all" and positive_finite(md["floors"]["masked_store"]["ns_per_store"]["median"]),
              "--placement all records the selection and the closest class's floors")


def test_every_compiled_ring_size_runs():
    out = path("sizes.json")
    r = run("run", "pool", *TINY, "--ring-size", "64-65536:x2", "--out", out)
    sizes = sorted(p["params"]["ring_size"] for p in load(out)["points"]) if os.path.exists(out) else []
    check(r.returncode == 0 and sizes == [64 << k for k in range(11)], f"pool runs at every ring size 64..65536 ({sizes})")


def test_pinned_threads_run_where_they_were_pinned():
    out = path("pin.json")
    r = run("run", "mpsm", *TINY, "--producers", "1-3", "--mergers", "1", "--pin", "compact", "--out", out)
    d = load(out)
    if d["metadata"]["pinning_available"]:
        ok = all(t["core"] == t["planned_cpu"] for p in d["points"] for t in p["threads"])
        check(r.returncode == 0 and ok, "with --pin compact every thread ran on its planned CPU")
        roles = [t["role"] for t in d["points"][0]["threads"]]
        check(roles == ["producer", "owner", "merger"] or roles == ["producer", "merger", "owner"], f"threads lists every role ({roles})")
        n = d["metadata"]["logical_cpus"]
        check(all(p["oversubscribed"] == (len(p["threads"]) > n) for p in d["points"]), "oversubscribed is true exactly when threads > CPUs")
    else:
        check(d["metadata"]["pinning_reason"] != "", "without pinning the metadata says why")
    out = path("nopin.json")
    r = run("run", "pool", *TINY, "--pin", "none", "--out", out)
    d = load(out)
    check(r.returncode == 0 and d["metadata"]["pinning_reason"] != "" and all(t["planned_cpu"] == -1 for t in d["points"][0]["threads"]),
          "--pin none binds nothing and says so")


def test_baselines_run_every_job_shape_through_their_adapters():
    """One baseline per job shape (1 -> 1, P -> 1, more producers than CPUs, a
    slow consumer, a busy neighbour), each through its adapter: every item
    delivered once, in order, and the configuration recorded as run."""
    built = set(built_scenarios())
    cpus = os.cpu_count() or 1
    pick = lambda *names: next(n for n in (*names, "baseline_mutex_deque") if n in built)
    shapes = [  # (scenario, producers, ring, batch, extra options, expected job, more producers than CPUs, neighbours)
        (pick("baseline_boost_spsc"), 1, 1024, 64, [], "1->1", False, 0),
        ("baseline_mutex_deque", 2, 256, 32, [], "P->1", 2 > cpus, 0),
        (pick("baseline_xenium_vyukov", "baseline_boost_queue"), cpus + 1, 512, 1, [], "P->1", True, 0),
        (pick("baseline_moodycamel_cq"), 2, 1024, 128, ["--consumer-delay-ns", "200", "--delay-mode", "busy_batch"], "P->1", 2 > cpus, 0),
        (pick("baseline_tbb_bounded_blocking", "baseline_moodycamel_rwq"), 1, 1024, 1, ["--contend", "1"], "1->1", False, 1),
    ]
    for k, (scenario, producers, ring, batch, extra, job, crowded, neighbours) in enumerate(shapes):
        out = path(f"shape-{k}.json")
        r = run("run", scenario, "--items", "20000", "--producers", str(producers), "--ring-size", str(ring), "--batch", str(batch),
                *extra, "--repetitions", "1", "--warmup", "0", "--counters", "none", "--quiet", "--no-calibrate", "--out", out)
        if not check(r.returncode == 0, f"{scenario} ({job}, {producers} producers{', ' + ' '.join(extra) if extra else ''}) runs "
                                        f"(exit {r.returncode}: {r.stderr.strip()[-300:]})"):
            continue
        p = load(out)["points"][0]
        c, rep = p["checks"], p["repetitions"][0]
        per = 20000 // producers
        ok = c["passed"] and c["fifo"] and c["produced"] == c["delivered"] == per * producers and c["overflowed"] == 0
        ok = ok and p["facts"]["job"] == job and p["facts"]["producers_exceed_cpus"] == crowded and p["facts"]["busy_neighbours"] == neighbours
        ok = ok and p["config"] == {"capacity_items": ring, "batch_items": batch} and p["params"]["batch"] == batch
        ok = ok and f"|batch={batch}|" in p["id"] and p["params"]["rounds"] == 1 and p["facts"]["contender"] == scenario[len("baseline_"):]
        ok = ok and abs(rep["items_per_second"] - c["delivered"] / rep["seconds"]) <= 1e-6 * rep["items_per_second"]
        ok = ok and sum(t["role"] == "producer" for t in p["threads"]) == producers
        check(ok, f"{scenario} ({job}, {producers} producers{', ' + ' '.join(extra) if extra else ''}): every item delivered once and "
                  f"in order, facts {p['facts']['job']}/{p['facts']['producers_exceed_cpus']}/{p['facts']['busy_neighbours']}, "
                  f"config {p['config']}")


def test_busy_neighbours_run_pinned_after_the_points_threads_and_are_recorded():
    out = path("contend.json")
    r = run("run", "fan_in", *TINY, "--producers", "1", "--contend", "0,1", "--pin", "compact", "--out", out)
    if not check(r.returncode == 0, f"fan_in --contend 0,1 runs (exit {r.returncode}: {r.stderr.strip()[-300:]})"):
        return
    d = load(out)
    alone, contended = sorted(d["points"], key=lambda p: p["params"].get("contend", 0))
    check("contend" not in alone["params"] and "contend=" not in alone["id"] and alone["facts"]["busy_neighbours"] == 0
          and [t["role"] for t in alone["threads"]] == ["producer", "consumer"],
          "--contend 0: no neighbour, and the id and params are those of a point without --contend")
    roles = [t["role"] for t in contended["threads"]]
    check(contended["params"]["contend"] == 1 and "|contend=1|" in contended["id"] and contended["facts"]["busy_neighbours"] == 1,
          f"--contend 1 is in params, the id and facts.busy_neighbours ({contended['id']})")
    check(roles == ["producer", "consumer", "neighbour"], f"the neighbour takes the slot after the point's own threads ({roles})")
    n = d["metadata"]["logical_cpus"]
    check(contended["oversubscribed"] == (3 > n), "oversubscribed counts the neighbour")
    nb = contended["threads"][-1]
    check(nb.get("cpu_seconds", 0) > 0 and "neighbour" not in contended["cost"]["roles"],
          f"the neighbour ran ({nb.get('cpu_seconds')} s of CPU) and is costed in no role")
    if d["metadata"]["pinning_available"]:
        own = [t["planned_cpu"] for t in contended["threads"][:2]]
        # Slot k runs on plan[k % PUs]: the neighbour's slot 2 is a third PU, or wraps onto slot 0's.
        expected_ok = nb["planned_cpu"] not in own if n >= 3 else nb["planned_cpu"] == own[0]
        check(nb["planned_cpu"] >= 0 and nb["core"] == nb["planned_cpu"] and expected_ok,
              f"the neighbour is pinned like slot 2 of the compact plan and ran there (planned {nb['planned_cpu']}, ran on {nb['core']}, "
              f"own threads on {own}, {n} CPUs)")
    else:
        check(nb["planned_cpu"] == -1, "without pinning the neighbour is unbound too")


def test_one_cpu_pins_the_points_threads_together_and_the_neighbour_after_them():
    out = path("one-cpu.json")
    r = run("run", "fan_in", *TINY, "--producers", "1", "--contend", "1", "--one-cpu", "1", "--pin", "compact", "--out", out)
    if not check(r.returncode == 0, f"fan_in --one-cpu 1 runs (exit {r.returncode}: {r.stderr.strip()[-300:]})"):
        return
    d = load(out)
    (p,) = d["points"]
    check(p["params"].get("one_cpu") == 1 and "|one_cpu=1|" in p["id"], f"--one-cpu 1 is in params and the id ({p['id']})")
    by_role = {t["role"]: t for t in p["threads"]}
    check(set(by_role) == {"producer", "consumer", "neighbour"}, f"the point's two threads and the neighbour ran ({sorted(by_role)})")
    if d["metadata"]["pinning_available"]:
        own = {by_role["producer"]["planned_cpu"], by_role["consumer"]["planned_cpu"]}
        nb = by_role["neighbour"]["planned_cpu"]
        n = d["metadata"]["logical_cpus"]
        check(len(own) == 1 and min(own) >= 0 and (nb not in own if n >= 2 else nb in own),
              f"producer and consumer share one CPU ({own}), the neighbour has the next one ({nb}, {n} CPUs)")
        check(p["placement"]["cpus"] == sorted(own) and p["placement"].get("reason") == "every thread ran on one CPU",
              f"the placement names the point's one CPU, not the neighbour's ({p['placement']})")
    else:
        check(all(t["planned_cpu"] == -1 for t in p["threads"]), "without pinning nothing is bound")


def test_consumer_alone_gives_the_consumer_a_cpu_of_its_own():
    out = path("consumer-alone.json")
    # A queue where one is built (the option is the harness's, not the pool's), else the pool's fan-in.
    queue = "baseline_boost_spsc" in built_scenarios()
    scenario = ["baseline_boost_spsc", "--batch", "64"] if queue else ["fan_in"]
    r = run("run", *scenario, *TINY, "--producers", "3", "--consumer-alone", "1", "--pin", "compact", "--out", out)
    cpus = os.cpu_count() or 1
    if cpus < 2:
        check(r.returncode != 0 and "--consumer-alone: 1" in r.stderr and not os.path.exists(out),
              f"on one CPU --consumer-alone 1 is refused with a one-line error ({r.stderr.strip()[-200:]})")
        return
    if not check(r.returncode == 0, f"--consumer-alone 1 runs (exit {r.returncode}: {r.stderr.strip()[-300:]})"):
        return
    d = load(out)
    (p,) = d["points"]
    check(p["params"].get("consumer_alone") == 1 and "|consumer_alone=1|" in p["id"],
          f"--consumer-alone 1 is in params and the id ({p['id']})")
    check("consumer_alone" in p["facts"]["sweeps"], "the scenario says it sweeps consumer_alone")
    if d["metadata"]["pinning_available"]:
        consumer = [t["planned_cpu"] for t in p["threads"] if t["role"] == "consumer"]
        others = {t["planned_cpu"] for t in p["threads"] if t["role"] != "consumer"}
        check(len(consumer) == 1 and consumer[0] >= 0 and consumer[0] not in others and min(others) >= 0,
              f"the consumer has a CPU no other thread of the point was pinned to (consumer {consumer}, others {sorted(others)})")
    else:
        check(all(t["planned_cpu"] == -1 for t in p["threads"]), "without pinning nothing is bound")


def test_seed_shuffles_the_order_not_the_points():
    a, b = path("seed0.json"), path("seed7.json")
    run("run", "pool", *TINY, "--producers", "1-4", "--ring-size", "64,128,256", "--out", a)
    run("run", "pool", *TINY, "--producers", "1-4", "--ring-size", "64,128,256", "--seed", "7", "--out", b)
    da, db = load(a), load(b)
    check(ids(da) == ids(db), "--seed runs the same points")
    check([p["id"] for p in da["points"]] != [p["id"] for p in db["points"]] and db["metadata"]["seed"] == 7,
          "--seed changes the run order and is recorded")


def test_every_delay_mode_runs_and_is_recorded():
    for mode in ["busy_item", "busy_batch", "block_item", "block_batch"]:
        out = path(f"delay-{mode}.json")
        r = run("run", "fan_in", *TINY[2:], "--items", "400", "--consumer-delay-ns", "1000", "--delay-mode", mode, "--out", out)
        ok = r.returncode == 0 and load(out)["points"][0]["params"]["delay_mode"] == mode
        check(ok, f"fan_in with --delay-mode {mode} runs and records the mode")


def test_injected_faults_fail_every_scenario_loudly():
    for s in built_scenarios():
        for fault in ["drop", "reorder"]:
            out = path(f"fault-{s}-{fault}.json")
            # A queue that runs one producer only skips the 2-producer point (a note), and runs the other.
            producers = ["--producers", "1,2"] if s.startswith("baseline_") else []
            r = run("run", s, *TINY, *producers, "--inject-fault", fault, "--out", out)
            d = load(out) if os.path.exists(out) else None
            ok = r.returncode == 3 and "CHECK FAILED" in r.stderr and d is not None and d["points"][0]["checks"]["passed"] is False
            if ok and fault == "reorder":
                c = d["points"][0]["checks"]
                ok = c["fifo"] is False or c["order"] is False
            if ok and fault == "drop":
                c = d["points"][0]["checks"]
                ok = c["produced"] != c["delivered"] + c["overflowed"] + c["dropped"]
            check(ok, f"--inject-fault {fault} makes {s} fail its checks (exit {r.returncode})")


def test_injected_slowdown_is_recorded_and_slows_the_run():
    base, slow = path("slow0.json"), path("slow1.json")
    args = ["run", "ring", "--items", "2000000", "--rounds", "100", "--repetitions", "5", "--warmup", "1", "--counters", "none", "--quiet",
            "--no-calibrate"]
    r0 = run(*args, "--out", base)
    r1 = run(*args, "--inject-slowdown", "300", "--out", slow)
    if check(r0.returncode == 0 and r1.returncode == 0, "runs with and without --inject-slowdown succeed"):
        d0, d1 = load(base), load(slow)
        check(d1["metadata"]["injected"]["slowdown_pct"] == 300 and "injected" not in d0["metadata"], "the injected slowdown is in the metadata")
        # The fastest repetition of each run: meson runs other suites beside
        # this one, and a repetition they slowed says nothing about the
        # injection (medians of 3 failed here once: 0.034 s -> 0.046 s).
        s0 = d0["points"][0]["summary"]["seconds"]["min"]
        s1 = d1["points"][0]["summary"]["seconds"]["min"]
        check(s1 > 1.5 * s0, f"--inject-slowdown 300 makes the point slower (fastest repetitions {s0:.4f}s -> {s1:.4f}s)")


RESUME_SWEEP = """
repetitions = 1
warmup = 0
counters = none
[ring]
items = 100000
rounds = 10
ring-size = 64-65536:x2
consumer-delay-ns = 1000
"""


def test_resume_after_kill_9_gives_the_same_points():
    sweep = path("resume.sweep")
    with open(sweep, "w") as f:
        f.write(RESUME_SWEEP)
    full = path("resume-full.json")
    r = run("sweep", sweep, "--out", full, "--quiet")
    check(r.returncode == 0, "uninterrupted sweep for the resume test succeeds")
    out = path("resume.json")
    p = subprocess.Popen([BENCH, "sweep", sweep, "--out", out, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    done = 0
    while time.time() < deadline and p.poll() is None:
        try:
            done = len(load(out)["points"])
        except (OSError, ValueError):
            done = 0
        if done >= 2:
            break
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    p.wait()
    partial = load(out)
    killed_early = 0 < len(partial["points"]) < len(load(full)["points"])
    check(killed_early, f"kill -9 left a valid file with some but not all points ({len(partial['points'])})")
    r = run("sweep", sweep, "--out", out, "--resume", "--quiet")
    check(r.returncode == 0 and "already done" in r.stderr, "--resume finishes the sweep")
    check(ids(load(out)) == ids(load(full)), "resumed run has exactly the uninterrupted run's points")
    ran = [p["id"] for p in load(out)["points"]]
    check(len(ran) == len(set(ran)), "no point ran twice")


def test_sigint_stops_after_the_current_point_and_says_how_to_resume():
    sweep = path("resume.sweep")
    out = path("sigint.json")
    p = subprocess.Popen([BENCH, "sweep", sweep, "--out", out], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline and not os.path.exists(out):
        time.sleep(0.005)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    check(p.returncode == 130 and "--resume" in err, f"SIGINT exits 130 and prints how to resume (exit {p.returncode})")
    check(len(load(out)["points"]) >= 1, "points finished before SIGINT are kept")


def test_a_hung_point_is_aborted_by_the_watchdog_and_the_rest_is_kept():
    out = path("hung.json")
    t0 = time.time()
    r = run("run", "ring", *TINY[2:], "--items", "4000", "--consumer-delay-ns", "0,1000000", "--delay-mode", "block_item",
            "--point-timeout", "1", "--out", out)
    took = time.time() - t0
    ok = r.returncode == 4 and "--point-timeout" in r.stderr and took < 3.5
    check(ok, f"a point slower than --point-timeout aborts the run with exit 4 (exit {r.returncode}, {took:.1f}s)")
    check(os.path.exists(out) and len(load(out)["points"]) == 1, "the point finished before the hang is saved")


def test_shards_merge_into_the_full_run():
    full = path("shard-full.json")
    r = run("sweep", SMOKE, "--out", full, "--quiet")
    check(r.returncode == 0, "full smoke run for the shard test")
    parts = []
    for i in range(3):
        part = path(f"shard{i}.json")
        r = run("sweep", SMOKE, "--shard", f"{i}/3", "--out", part, "--quiet")
        check(r.returncode == 0 and load(part)["metadata"]["shard"] == {"index": i, "count": 3}, f"shard {i}/3 runs and records itself")
        parts.append(part)
    check(not (set(ids(load(parts[0]))) & set(ids(load(parts[1])))), "shards are disjoint")
    merged = path("merged.json")
    r = run("merge", merged, *parts, "--csv")
    check(r.returncode == 0, f"merge exits 0 ({r.stderr.strip()})")
    check(ids(load(merged)) == ids(load(full)), "merged shards have exactly the full run's points")
    md = load(merged)["metadata"]
    check("merge" in md["provenance"]["command_line"] and [m["file"] for m in md["merged_from"]] == parts
          and all(m["provenance"]["command_line"] for m in md["merged_from"]), "a merged file's provenance is the merge, and each input keeps its own")
    with open(merged[:-5] + ".csv") as f:
        check(len(list(csv.DictReader(f))) == len(load(merged)["points"]), "merge writes the CSV too")
    dup = path("dup.json")
    r = run("merge", dup, parts[0], parts[0])
    check(r.returncode != 0 and not os.path.exists(dup) and "is in both" in r.stderr, "merging a shard twice is refused")


def test_bad_inputs_get_one_line_naming_the_value_and_no_output():
    notjson = path("not-a-result.json")
    with open(notjson, "w") as f:
        f.write('{"schema_version": 99, "metadata": {"tool": "spill-bench"}, "points": []}')
    badsweep = path("bad.sweep")
    with open(badsweep, "w") as f:
        f.write("repetitions = 1\n[pool]\nproducers = 1,,2\n")
    unknown_sweep = path("unknown.sweep")
    with open(unknown_sweep, "w") as f:
        f.write("[pool]\n[warp_drive]\n")
    cases = [
        (["run", "nosuch"], "'nosuch'"),
        (["run", "pool", "--producers", "1,,2"], "'1,,2'"),
        (["run", "pool", "--producers", "8-1"], "'8-1'"),
        (["run", "pool", "--producers", "x"], "'x'"),
        (["run", "pool", "--producers", "0"], "0 producers"),
        (["run", "pool", "--ring-size", "100"], "100"),
        (["run", "pool", "--ring-size", "131072"], "131072"),
        (["run", "pool", "--ring-size", "32"], "32"),
        (["run", "mpsm", "--producers", "2", "--mergers", "3"], "3 mergers for 2 producers"),
        (["sweep", "/nonexistent/sweep"], "'/nonexistent/sweep'"),
        (["sweep", badsweep], "bad.sweep:3"),
        (["sweep", unknown_sweep], "'warp_drive'"),
        (["run", "pool", "--shard", "3/3"], "'3/3'"),
        (["run", "pool", "--shard", "a/b"], "'a/b'"),
        (["run", "pool", "--pin", "diagonal"], "'diagonal'"),
        (["run", "pool", "--counters", "PAPI_TOT_CYC,NOPE_COUNTER"], "'NOPE_COUNTER'"),
        (["run", "pool", "--delay-mode", "sleepy"], "'sleepy'"),
        (["run", "pool", "--repetitions", "0"], "--repetitions"),
        (["run", "pool", "--items", "2", "--producers", "4"], "--items: 2"),
        (["run", "pool", "--inject-fault", "explode"], "'explode'"),
        (["run", "pool", "--placement", "diagonal"], "'diagonal'"),
        (["run", "latency_open", "--rate-items-per-s", "0"], "--rate-items-per-s: 0"),
        (["run", "latency_open", "--rate-items-per-s", "2000000000"], "2000000000"),
        (["run", "latency_open", "--rate-items-per-s", "1", "--items", "100000"], "--rate-items-per-s: 1 items/s"),
        (["run", "latency_open", "--rate-items-per-s", "fast"], "'fast'"),
        (["run", "latency", "--inject-stall-ns", "20000000000"], "--inject-stall-ns: 20000000000"),
        (["run", "pool", "--bogus-option", "1"], "bogus-option"),
        (["run", "baseline_mutex_deque", "--batch", "0"], "--batch: 0"),
        (["run", "baseline_mutex_deque", "--batch", "2048", "--ring-size", "1024"], "batch=2048"),
        (["run", "baseline_mutex_deque", "--batch", "many"], "'many'"),
        (["run", "fan_in", "--items", "100000", "--rounds", "10", "--ring-size", "1024"], "exceeds ring-size=1024"),
        (["run", "pool", "--contend", "-1"], "'-1'"),
        (["run", "pool", "--contend", "x"], "'x'"),
        (["run", "pool", "--contend", "65"], "--contend: 65"),
        (["run", "pool", "--one-cpu", "2"], "--one-cpu: 2"),
        (["run", "pool", "--one-cpu", "1", "--pin", "none"], "--pin none"),
        (["run", "pool", "--one-cpu", "1", "--placement", "all"], "--placement"),
        (["run", "fan_in", "--consumer-alone", "2"], "--consumer-alone: 2"),
        (["run", "fan_in", "--consumer-alone", "1", "--pin", "none"], "--pin none"),
        (["run", "fan_in", "--consumer-alone", "1", "--one-cpu", "1"], "--one-cpu 1"),
        (["list", "extra"], "'extra'"),
        (["frobnicate"], "'frobnicate'"),
    ]
    built = set(built_scenarios())
    # Points an adapter refuses (harness/baselines: Q::refusal), where that contender is built.
    for scenario, args, needle in [("baseline_boost_queue", ["--batch", "64"], "batch=64 on a per-item queue"),
                                   ("baseline_xenium_vyukov", ["--batch", "4"], "batch=4 on a per-item queue"),
                                   ("baseline_atomic_queue", ["--producers", "2"], "producers=2"),
                                   ("baseline_moodycamel_rwq_blocking", ["--producers", "3"], "producers=3")]:
        if scenario in built:
            cases.append((["run", scenario, *args], needle))
    for args, needle in cases:
        out = path("bad-out.json")
        for f in (out, out[:-5] + ".csv"):
            if os.path.exists(f):
                os.remove(f)
        r = run(*args, "--out", out)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        ok = r.returncode == 2 and len(lines) == 1 and needle in lines[0] and not os.path.exists(out)
        ok = ok and not os.path.exists(out[:-5] + ".csv") and not os.path.exists(out + ".topology.xml")
        check(ok, f"bad input {' '.join(args)!r}: exit {r.returncode}, stderr {lines!r}")
    # --csv needs the file it is written beside.
    r = run("run", "pool", *TINY, "--csv")
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 2 and len(lines) == 1 and "--csv" in lines[0], f"--csv without --out is bad input: {lines!r}")
    # Output directory missing.
    r = run("run", "pool", *TINY, "--out", "/nonexistent-dir/x.json")
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 2 and len(lines) == 1 and "/nonexistent-dir" in lines[0], f"missing output directory: {lines!r}")
    # --resume of a file with another schema: refused, file untouched.
    before = open(notjson).read()
    r = run("run", "pool", *TINY, "--out", notjson, "--resume")
    lines = r.stderr.strip().splitlines()
    check(r.returncode == 2 and len(lines) == 1 and "schema_version 99" in lines[0] and open(notjson).read() == before,
          f"--resume of another schema is refused: {lines!r}")
    # --resume of a file run with another pin policy: refused.
    other = path("other-pin.json")
    run("run", "pool", *TINY, "--pin", "none", "--out", other)
    r = run("run", "pool", *TINY, "--out", other, "--resume")
    check(r.returncode == 2 and "--pin none" in r.stderr, "--resume of a file with another --pin is refused")


# ------------------------------------------------------------ latency ----
# harness/SCHEMA.md, "Latency distributions".

LATENCY_KINDS = ("item_ns", "handoff_ns", "send_lag_ns")


def analysis_module():
    """analysis/spill_results.py: recomputes percentiles from the buckets."""
    sys.path.insert(0, os.path.join(ROOT, "analysis"))
    import spill_results  # noqa: E402
    return spill_results


def at_least(hist, ns):
    """Samples of a histogram in buckets whose lower bound is >= ns."""
    return sum(c for lower, _, c in hist["buckets"] if lower >= ns)


def histogram_ok(h, name):
    """A histogram's shape and internal consistency; returns a reason or ''."""
    for k in ("count", "min", "mean", "p50", "p99", "p99_9", "max", "buckets", "sub_bucket_bits", "relative_error_bound"):
        if k not in h:
            return f"{name} lacks {k}"
    if not h["min"] <= h["p50"] <= h["p99"] <= h["p99_9"] <= h["max"]:
        return f"{name}: percentiles not ordered min<=p50<=p99<=p99_9<=max: {[h[k] for k in ('min', 'p50', 'p99', 'p99_9', 'max')]}"
    if sum(b[2] for b in h["buckets"]) != h["count"]:
        return f"{name}: buckets do not sum to count"
    if any(not (b[0] <= b[1] and b[2] > 0) for b in h["buckets"]) or \
            any(a[1] >= b[0] for a, b in zip(h["buckets"], h["buckets"][1:])):
        return f"{name}: buckets are not increasing [lower, upper, count] with count > 0"
    if h["count"] and not (h["buckets"][0][0] <= h["min"] and h["max"] <= h["buckets"][-1][1]):
        return f"{name}: min/max outside the buckets"
    return ""


def test_latency_fields_follow_the_schema():
    sr = analysis_module()
    closed, opened = path("lat-closed.json"), path("lat-open.json")
    common = ["--items", "8000", "--rounds", "40", "--producers", "2", "--repetitions", "2", "--warmup", "0",
              "--counters", "none", "--quiet", "--no-calibrate"]
    r0 = run("run", "latency", *common, "--out", closed, "--csv")
    r1 = run("run", "latency_open", *common, "--rate-items-per-s", "100000", "--out", opened, "--csv")
    if not check(r0.returncode == 0 and r1.returncode == 0, f"latency and latency_open run (exit {r0.returncode}, {r1.returncode})"):
        return
    for out, loop in ((closed, "closed"), (opened, "open")):
        p = load(out)["points"][0]
        for k, rep in enumerate(p["repetitions"]):
            lat = rep.get("latency")
            if not check(isinstance(lat, dict), f"{loop} loop: repetition {k} has a latency block"):
                continue
            check(lat["loop"] == loop and lat["clock"] == "CLOCK_MONOTONIC", f"{loop} loop: loop and clock recorded")
            for kind in LATENCY_KINDS:
                if kind == "send_lag_ns" and loop == "closed":
                    check(lat[kind] is None, "closed loop: send_lag_ns is null (nothing is paced)")
                    continue
                why = histogram_ok(lat[kind], kind)
                check(not why, f"{loop} loop rep {k}: {kind} is a consistent histogram {why}")
                recomputed = [sr.histogram_percentile(lat[kind], q) for _, q in sr.LATENCY_PERCENTILES]
                check(recomputed == [lat[kind][n] for n, _ in sr.LATENCY_PERCENTILES],
                      f"{loop} loop rep {k}: {kind} percentiles recomputed from the buckets (analysis/spill_results.py) agree")
            c = rep["checks"]
            check(lat["item_ns"]["count"] == c["delivered"] and c["delivered"] + c["overflowed"] == c["produced"],
                  f"{loop} loop rep {k}: one item latency per delivered item ({lat['item_ns']['count']} == {c['delivered']})")
            if c["overflowed"] == 0:
                check(lat["handoff_ns"]["count"] == 2 * 40, f"{loop} loop rep {k}: one handoff latency per (worker, round) batch")
            if loop == "open":
                check(lat["send_lag_ns"]["count"] == c["produced"], f"open loop rep {k}: one send lag per produced item")
                check(lat["target_items_per_second"] == 100000 and positive_finite(lat["achieved_items_per_second"]),
                      f"open loop rep {k}: target and achieved rate recorded ({lat['achieved_items_per_second']})")
            else:
                check(lat["target_items_per_second"] is None and positive_finite(lat["achieved_items_per_second"]),
                      f"closed loop rep {k}: no target rate, an achieved rate")
        s = p["summary"].get("latency", {})
        merged = sr.merge_histograms(rep["latency"]["item_ns"] for rep in p["repetitions"])
        check(s.get("loop") == loop and s["item_ns"]["count"] == sum(rep["latency"]["item_ns"]["count"] for rep in p["repetitions"])
              and all(s["item_ns"][n] == merged[n] for n in ("p50", "p99", "p99_9", "max")),
              f"{loop} loop: summary.latency merges the repetitions")
        check(p["params"].get("rate_items_per_s") == (100000 if loop == "open" else None)
              and ("rate_items_per_s=100000" in p["id"]) == (loop == "open"), f"{loop} loop: the rate is in params and id only when paced")
        with open(out[:-5] + ".csv") as f:
            rows = list(csv.DictReader(f))
        check(len(rows) == 2 and rows[0].get("latency_item_p99_ns") == str(p["repetitions"][0]["latency"]["item_ns"]["p99"]),
              f"{loop} loop: the CSV has the latency percentiles")
    # Other scenarios have no latency block and no latency or rate columns.
    out = path("lat-none.json")
    run("run", "fan_in", *TINY, "--out", out, "--csv")
    d = load(out)
    check("latency" not in d["points"][0]["repetitions"][0] and "latency" not in d["points"][0]["summary"], "fan_in has no latency block")
    with open(out[:-5] + ".csv") as f:
        header = f.readline()
    check("latency" not in header and "rate_items_per_s" not in header, "fan_in's CSV has no latency columns")


def test_open_loop_charges_a_consumer_stall_to_every_item_due_during_it():
    """Coordinated omission: a 40 ms consumer stall in the middle of a run paced
    at 20000 items/s. The open loop measures from the intended send time, so
    the ~800 items due during the stall are late, about 400 of them by more
    than half the stall, and p99 shows it. The closed loop measures from the
    actual push, which waited for the consumer: only the items already in
    flight see the stall (max does, p99 does not). A latency measured from the
    actual send time in the open loop would fail the first checks."""
    stall_ns, rate = 40_000_000, 20000
    args = ["--producers", "2", "--items", "4000", "--rounds", "200", "--ring-size", "4096", "--repetitions", "1", "--warmup", "0",
            "--counters", "none", "--quiet", "--no-calibrate", "--inject-stall-ns", str(stall_ns)]
    o, c = path("stall-open.json"), path("stall-closed.json")
    ro = run("run", "latency_open", *args, "--rate-items-per-s", str(rate), "--out", o)
    rc = run("run", "latency", *args, "--out", c)
    if not check(ro.returncode == 0 and rc.returncode == 0, f"stalled latency runs succeed (exit {ro.returncode}, {rc.returncode})"):
        return
    do, dc = load(o), load(c)
    check(do["metadata"]["injected"]["stall_ns"] == stall_ns, "the injected stall is in the metadata")
    ho = do["points"][0]["repetitions"][0]["latency"]["item_ns"]
    hc = dc["points"][0]["repetitions"][0]["latency"]["item_ns"]
    due_in_half_stall = rate * stall_ns / 2 / 1e9  # 400 items
    late_open, late_closed = at_least(ho, stall_ns // 2), at_least(hc, stall_ns // 2)
    check(ho["max"] >= stall_ns, f"open loop: max {ho['max']} ns shows the {stall_ns} ns stall")
    check(ho["p99"] >= stall_ns // 2, f"open loop: p99 {ho['p99']} ns shows the stall (>= half of it)")
    check(late_open >= 0.5 * due_in_half_stall,
          f"open loop: {late_open} items late by >= half the stall (about {due_in_half_stall:.0f} were due in its first half)")
    check(hc["max"] >= stall_ns, f"closed loop: max {hc['max']} ns shows the stall too")
    check(late_closed * 2 < late_open and hc["p99"] < stall_ns // 2,
          f"closed loop hides it (coordinated omission): {late_closed} items late by >= half the stall, p99 {hc['p99']} ns")


def main():
    run_tests(globals(), TMP)


if __name__ == "__main__":
    main()
