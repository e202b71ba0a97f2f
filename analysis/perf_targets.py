#!/usr/bin/python3
"""The performance targets, from spill-micro runs (and one spill-bench sweep).

    ./bench perf      # runs the three steps below and keeps their files in results/perf-runs/
    perf_targets.py select TUNE.json                       # best configuration of every contender -> a --benchmark_filter
    perf_targets.py check MICRO.json --tune TUNE.json [--sweep PERF.json] [--json OUT] [--markdown]
    perf_targets.py history results/perf-runs [--last 5] [--markdown]

Every target is a ratio of medians measured in the same run (absolute times
on a shared machine move; neighbours in one run with interleaved repetitions
are comparable), or, for T6 and T7, a counter against an absolute bound.
Fan-in contenders are compared best with best: a tuning run (`TUNE.json`,
one short repetition of every configuration) picks each contender's
candidate configurations per job shape (see TOP_CONFIGS), the measured run
repeats those, and each contender is then represented by its best
candidate on the measured medians.

A target that is missed stays missed: `check` prints MISS with the measured
reason and exits 1. There are no replacement targets.

Exit status: 0 every target met (`history`: every target met in at least
`--need` of the last `--last` runs); 1 a target missed, or a benchmark
failed its self-check, or a benchmark a target needs is missing; 2 bad input
(one line on stderr naming the file and what is wrong).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
from dataclasses import asdict, dataclass, field

# Suffixes Google Benchmark appends to a run name for its options.
_OPTION_SUFFIX = re.compile(
    r"^(real_time|process_time|manual_time|iterations:\d+|repeats:\d+|threads:\d+|"
    r"min_time:[0-9.]+s?|min_warmup_time:[0-9.]+s?)$")
_TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
_FANIN = re.compile(r"^fanin/(?P<contender>[^/]+)/P=(?P<p>\d+)/cap=(?P<cap>\d+)/batch=(?P<batch>\d+)/nb=(?P<nb>\d+)"
                    r"(?:/consumer=(?P<consumer>[^/]*))?(/|$)")
METRICS = {"items_per_second": True, "real_time": False, "cpu_time": False, "allocs_per_round": False, "cpu_fraction": False}

# The benchmarks that are not fan-in contenders: every one runs in the measured pass.
FIXED = ("push_", "ref_", "fill_drain", "round_trip", "idle_pool", "handoff_", "seq_submit", "mpsm_io")
PINGPONGS = ("ref_pingpong", "ref_pingpong_pause")


class InputError(Exception):
    """Bad input: reported as one line, exit status 2."""


# ---------------------------------------------------------------- parsing ----

@dataclass
class Series:
    """The repetitions of one benchmark: metric -> {repetition index: value}."""

    values: dict[str, dict[int, float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def median(self, metric: str) -> float | None:
        v = self.values.get(metric)
        return statistics.median(v.values()) if v else None


def base_name(run_name: str) -> str:
    """Strips Google Benchmark's option suffixes: "a/b/min_time:0.1/real_time" -> "a/b"."""
    parts = run_name.split("/")
    while len(parts) > 1 and _OPTION_SUFFIX.match(parts[-1]):
        parts.pop()
    return "/".join(parts)


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def parse(doc) -> dict[str, Series]:
    """Google Benchmark JSON -> {benchmark: Series}. Aggregates are ignored (recomputed from repetitions)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise InputError('not a Google Benchmark JSON document (no "benchmarks" list)')
    out: dict[str, Series] = {}
    for i, entry in enumerate(doc["benchmarks"]):
        where = f"benchmarks[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise InputError(f'{where}: entry without a "name" string')
        if entry.get("run_type", "iteration") != "iteration":
            continue
        name = base_name(entry.get("run_name", entry["name"]))
        series = out.setdefault(name, Series())
        rep = entry.get("repetition_index", 0)
        if isinstance(rep, bool) or not isinstance(rep, int):
            raise InputError(f"{where} ({name}): repetition_index {rep!r} is not an integer")
        if entry.get("error_occurred"):
            series.errors.append(str(entry.get("error_message", "error")))
            continue
        unit = entry.get("time_unit", "ns")
        if unit not in _TIME_UNIT_NS:
            raise InputError(f"{where} ({name}): unknown time_unit {unit!r}")
        for key, value in entry.items():
            if key in ("real_time", "cpu_time"):
                series.values.setdefault(key, {})[rep] = _number(value, f"{where}.{key}") * _TIME_UNIT_NS[unit]
            elif key in METRICS:
                series.values.setdefault(key, {})[rep] = _number(value, f"{where}.{key}")
    return out


def read_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON: {e}") from None


def load(path: str) -> tuple[dict, dict[str, Series]]:
    doc = read_json(path)
    try:
        runs = parse(doc)
    except InputError as e:
        raise InputError(f"{path}: {e}") from None
    if not runs:
        raise InputError(f"{path}: no benchmark repetitions in the file")
    return doc, runs


# ---------------------------------------------------------- fan-in shapes ----

# spill-micro's placements (a trailing /consumer=<name>) and how a note says them.
PLACEMENTS = {
    "alone": "consumer alone",                  # the consumer pinned to a CPU of its own, the producers to the others
    "with_producer": "consumer with producer",  # the consumer and its producer pinned to one CPU
}


@dataclass(frozen=True)
class Config:
    name: str
    contender: str
    producers: int
    capacity: int
    batch: int
    neighbours: int
    consumer: str | None = None  # a key of PLACEMENTS, None: unpinned

    def describe(self) -> str:
        """The configuration's knobs: "cap=65536 batch=4096", plus the placement when pinned ("... consumer alone")."""
        return f"cap={self.capacity} batch={self.batch}" + (f" {PLACEMENTS[self.consumer]}" if self.consumer else "")


def fanin_config(name: str) -> Config | None:
    m = _FANIN.match(name)
    if not m:
        return None
    if m["consumer"] is not None and m["consumer"] not in PLACEMENTS:
        expected = " or ".join(f"consumer={k}" for k in PLACEMENTS)
        raise InputError(f"{name}: unknown placement consumer={m['consumer']} (expected {expected} or none)")
    return Config(name, m["contender"], int(m["p"]), int(m["cap"]), int(m["batch"]), int(m["nb"]), m["consumer"])


@dataclass(frozen=True)
class Shape:
    """A fan-in job: which configurations belong to it."""

    id: str
    what: str
    producers: int
    neighbours: int = 0
    max_capacity: int | None = None
    max_batch: int | None = None

    def admits(self, c: Config) -> bool:
        return (c.producers == self.producers and c.neighbours == self.neighbours
                and (self.max_capacity is None or c.capacity <= self.max_capacity)
                and (self.max_batch is None or c.batch <= self.max_batch))


SHAPES = (
    Shape("1->1", "1 producer -> 1 consumer", 1),
    Shape("1->1 small", "1 -> 1, ring/queue of 1024, rounds/batches of at most 512", 1, max_capacity=1024, max_batch=512),
    Shape("2->1", "2 producers -> 1 consumer", 2),
    Shape("4->1", "4 producers -> 1 consumer", 4),
    Shape("1->1 contended", "1 -> 1 with one busy neighbour thread", 1, neighbours=1),
)
SPILL = "spill"


def best_configs(runs: dict[str, Series], shape: Shape) -> dict[str, tuple[Config, float]]:
    """contender -> (its best configuration in `shape`, median items/s), from runs that passed their checks."""
    return {k: v[0] for k, v in ranked_configs(runs, shape).items()}


def ranked_configs(runs: dict[str, Series], shape: Shape) -> dict[str, list[tuple[Config, float]]]:
    """contender -> its configurations in `shape`, fastest first (median items/s; failed checks left out)."""
    out: dict[str, list[tuple[Config, float]]] = {}
    for name, s in runs.items():
        c = fanin_config(name)
        if c is None or not shape.admits(c) or s.errors or c.contender == "spill_sequenced":
            continue
        rate = s.median("items_per_second")
        if rate is not None:
            out.setdefault(c.contender, []).append((c, rate))
    for v in out.values():
        v.sort(key=lambda cr: -cr[1])
    return out


# A tuning repetition is short, so its ranking is noisy: the measured pass
# repeats each contender's TOP_CONFIGS best configurations, for every
# contender within PEER_MARGIN of the best queue (and at least MIN_PEERS
# queues), and the targets pick the best of those on the measured medians.
TOP_CONFIGS = 2
PEER_MARGIN = 0.5
MIN_PEERS = 3


def select(tune_runs: dict[str, Series]) -> list[str]:
    """The configurations the measured pass repeats (see TOP_CONFIGS), plus the
    sequenced fan-in at spill's 1->1 candidates."""
    names: set[str] = set()
    for shape in SHAPES:
        ranked = ranked_configs(tune_runs, shape)
        peers = sorted(((k, v[0][1]) for k, v in ranked.items() if k != SPILL), key=lambda kr: -kr[1])
        keep = {k for i, (k, rate) in enumerate(peers) if i < MIN_PEERS or rate >= PEER_MARGIN * peers[0][1]}
        if SPILL in ranked:
            keep.add(SPILL)
        for contender in keep:
            for c, _ in ranked[contender][:TOP_CONFIGS]:
                names.add(c.name)
                if contender == SPILL and shape.id == "1->1":
                    seq = c.name.replace("fanin/spill/", "fanin/spill_sequenced/", 1)
                    if seq in tune_runs:
                        names.add(seq)
    return sorted(names)


def filter_regex(names: list[str]) -> str:
    """A --benchmark_filter (POSIX extended regex) matching the fixed benchmarks and exactly `names`."""
    exact = [re.escape(n) + "(/|$)" for n in names]
    return "^((" + "|".join(FIXED) + ")" + "".join("|" + e for e in exact) + ")"


# ------------------------------------------------------------- the targets ----

@dataclass
class Result:
    id: str
    what: str
    measured: float | None
    op: str
    bound: float
    passed: bool
    note: str = ""
    low: float | None = None   # per-repetition ratios (paired by repetition index)
    high: float | None = None


def _compare(value: float, op: str, bound: float) -> bool:
    return value >= bound if op == ">=" else value <= bound


def _series(runs: dict[str, Series], name: str, metric: str) -> tuple[dict[int, float] | None, str]:
    s = runs.get(name)
    if s is None:
        return None, f"{name} was not measured"
    if s.errors:
        return None, f"{name} failed its self-check: {s.errors[0]}"
    if not s.values.get(metric):
        return None, f"{name} has no {metric}"
    return s.values[metric], ""


def ratio_target(tid: str, what: str, runs: dict[str, Series], num: str, dens: tuple[str, ...], metric: str,
                 op: str, bound: float, note: str = "") -> Result:
    """median(num) / median(best of dens); best = highest rate or lowest time."""
    n, why = _series(runs, num, metric)
    if n is None:
        return Result(tid, what, None, op, bound, False, why)
    found, missing = [], []
    for d in dens:
        v, why = _series(runs, d, metric)
        (found.append((d, v)) if v is not None else missing.append(why))
    if not found:
        return Result(tid, what, None, op, bound, False, "; ".join(missing))
    higher = METRICS[metric]
    den_name, den = (max if higher else min)(found, key=lambda nv: statistics.median(nv[1].values()))
    r = statistics.median(n.values()) / statistics.median(den.values())
    paired = [n[k] / den[k] for k in sorted(n.keys() & den.keys()) if den[k]]
    parts = [note, f"vs {den_name}" if len(dens) > 1 else "", *missing]
    return Result(tid, what, r, op, bound, _compare(r, op, bound), "; ".join(p for p in parts if p),
                  min(paired, default=None), max(paired, default=None))


def _short(c: Config) -> str:
    return f"{c.contender} {c.describe()}"


def fanin_target(tid: str, shape_id: str, bound: float, runs: dict[str, Series], cpus: int | None = None) -> Result:
    """spill's best configuration in a shape / the best other contender's best configuration."""
    shape = next(s for s in SHAPES if s.id == shape_id)
    what = f"fan-in {shape.what}: spill at its best / the best queue at its best"
    best = best_configs(runs, shape)  # the measured pass holds each contender's candidates
    if SPILL not in best:
        return Result(tid, what, None, ">=", bound, False, f"no spill configuration of shape {shape_id} was measured")
    peers = {k: v for k, v in best.items() if k != SPILL}
    if not peers:
        return Result(tid, what, None, ">=", bound, False, f"no queue contender of shape {shape_id} was measured")
    spill_cfg = best[SPILL][0]
    # The measured run repeats each selected configuration; the best peer is chosen on the measured medians.
    peer_names = tuple(c.name for c, _ in peers.values())
    r = ratio_target(tid, what, runs, spill_cfg.name, peer_names, "items_per_second", ">=", bound,
                     note=f"spill {spill_cfg.describe()}")
    if r.note and "vs fanin/" in r.note:
        den = re.search(r"vs (fanin/\S+)", r.note)
        if den and (c := fanin_config(den.group(1))):
            r.note = r.note.replace(den.group(0), f"vs {_short(c)}")
    if not r.passed and r.measured is not None:
        peer = max((runs[n].median("items_per_second") or 0.0 for n in peer_names if n in runs and not runs[n].errors), default=0.0)
        r.note += "; " + fanin_reason(runs, spill_cfg, shape, cpus, peer)
    return r


def cpu_share(shape: Shape, cpus: int) -> float:
    """The CPUs' worth of time a fan-in of `shape` can get on `cpus` CPUs: one
    per thread (its producers and its consumer) up to the CPUs, and beside
    busy neighbour threads a fair scheduler's share of them."""
    threads = shape.producers + 1
    return min(float(threads), cpus * threads / (threads + shape.neighbours))


def fanin_reason(runs: dict[str, Series], spill_cfg: Config, shape: Shape | None = None, cpus: int | None = None,
                 peer: float = 0.0) -> str:
    """Why a fan-in target may be missed: where spill's rate sits between its
    bounds, and what the bounds leave of the target against the best queue."""
    rate = runs[spill_cfg.name].median("items_per_second") if spill_cfg.name in runs else None
    sink = _best_rate(runs, "ref_sink/")
    move_rate, move_name = handoff_rate(runs, spill_cfg.batch)
    one_core = _best_rate(runs, "ref_one_core/")
    parts = []
    if rate and sink:
        parts.append(f"spill delivers {rate / 1e6:.0f} M/s, {rate / sink:.2f} of the sink alone")
    # The references run without neighbours: beside one, only the CPU-time bound (a fair share of CPUs) compares.
    if rate and move_rate and (shape is None or shape.neighbours == 0):
        parts.append(f"{rate / move_rate:.2f} of {move_name} at the same round size"
                     + (f" (which is {move_rate / peer:.2f}x the best queue)" if peer else ""))
    if rate and one_core and shape is not None and cpus:
        share = cpu_share(shape, cpus)
        limit = share * one_core
        parts.append(f"{rate / limit:.2f} of the CPU-time bound ({share:.3g} CPUs x ref_one_core, {limit / 1e6:.0f} M/s"
                     + (f", {limit / peer:.2f}x the best queue)" if peer else ")"))
        if spill_cfg.consumer == "with_producer":  # its own placement gives it one CPU, whatever the neighbours do
            parts.append(f"{rate / one_core:.2f} of one CPU's worth, the bound of its placement (ref_one_core"
                         + (f", {one_core / peer:.2f}x the best queue)" if peer else ")"))
    return ", ".join(parts) if parts else "no reference measured"


# The bare round handoff, its keys written the cached way or streamed to
# memory: which is faster depends on the host (harness/micro/fanin.cpp), so
# the handoff floor is the faster of the two in the same run.
HANDOFFS = ("ref_round_handoff", "ref_round_handoff_stream")


def handoff_rate(runs: dict[str, Series], batch: int | None = None) -> tuple[float | None, str]:
    """The bare round handoff's best median items/s at round size `batch`
    (None: at its best round size), and the name of the benchmark that gave it."""
    best: tuple[float | None, str] = (None, HANDOFFS[0])
    for name in HANDOFFS:
        if batch is None:
            rate = _best_rate(runs, f"{name}/")
        else:
            s = runs.get(f"{name}/batch={batch}")
            rate = s.median("items_per_second") if s and not s.errors else None
        if rate and (best[0] is None or rate > best[0]):
            best = (rate, name)
    return best


def _best_rate(runs: dict[str, Series], prefix: str) -> float | None:
    rates = [s.median("items_per_second") for n, s in runs.items() if n.startswith(prefix) and not s.errors]
    rates = [r for r in rates if r]
    return max(rates) if rates else None


def floor_target(runs: dict[str, Series]) -> Result:
    """T4f: spill's best 1->1 fan-in / the consumer floor (the sink alone, its fastest batch size)."""
    what = "fan-in 1 -> 1: spill at its best / the consumer floor (the checking sink alone)"
    best = best_configs(runs, SHAPES[0])
    if SPILL not in best:
        return Result("T4f", what, None, ">=", 0.8, False, "no spill 1 -> 1 configuration was measured")
    cfg = best[SPILL][0]
    sinks = tuple(n for n in runs if n.startswith("ref_sink/"))
    if not sinks:
        return Result("T4f", what, None, ">=", 0.8, False, "ref_sink was not measured")
    r = ratio_target("T4f", what, runs, cfg.name, sinks, "items_per_second", ">=", 0.8, note=f"spill {cfg.describe()}")
    if not r.passed and r.measured is not None:
        move, move_name = handoff_rate(runs)
        sink = _best_rate(runs, "ref_sink/")
        if move and sink:
            r.note += (f"; a bare round handoff between the two cores into the same sink, one flag each way "
                       f"({move_name}, at its best round size), reaches {move / sink:.2f} of it")
    return r


def max_counter(runs: dict[str, Series], tid: str, what: str, metric: str, bound: float) -> Result:
    found = [(max(s.values[metric].values()), n) for n, s in runs.items() if s.values.get(metric) and not s.errors]
    if not found:
        return Result(tid, what, None, "<=", bound, False, f"no benchmark reports {metric}")
    worst, who = max(found)
    note = f"{len(found)} benchmarks" + (f"; worst {who}" if worst > 0 else "")
    return Result(tid, what, worst, "<=", bound, _compare(worst, "<=", bound), note)


def round_trip_reason(runs: dict[str, Series]) -> str:
    sw = runs.get("ref_switch_pingpong")
    pps = [runs[p].median("real_time") for p in PINGPONGS if p in runs and runs[p].median("real_time")]
    if sw and sw.median("real_time") and pps:
        return (f"a round trip through a thread switch (ref_switch_pingpong, {sw.median('real_time'):.0f} ns) "
                f"alone is {sw.median('real_time') / min(pps):.1f}x the ping-pong here")
    return ""


def push_reason(runs: dict[str, Series], n: int) -> str:
    """Why T1 may miss: what the same job written by hand (ref_evict_count) reaches."""
    by_hand = runs.get(f"ref_evict_count/N={n}/B=8")
    masked = runs.get(f"ref_masked_store/N={n}/B=8")
    if not by_hand or not masked or by_hand.errors or masked.errors:
        return ""
    h, m = by_hand.median("items_per_second"), masked.median("items_per_second")
    if not h or not m:
        return ""
    return (f"the same job written by hand, its eviction count in a register (ref_evict_count), "
            f"reaches {h / m:.2f} of the masked store here")


def evaluate(runs: dict[str, Series], sweep: dict | None, cpus: int | None = None) -> list[Result]:
    out = [
        ratio_target("T1", "ring push (evicting into a counting spout) / masked-store loop, 8 B, N=1024", runs,
                     "push_count/N=1024/B=8", ("ref_masked_store/N=1024/B=8",), "items_per_second", ">=", 0.85),
        ratio_target("T1b", "the same at N=65536", runs,
                     "push_count/N=65536/B=8", ("ref_masked_store/N=65536/B=8",), "items_per_second", ">=", 0.85),
        ratio_target("T2", "ring push evicting into a collecting spout / deque + manual eviction, N=1024", runs,
                     "push_collect/N=1024/B=8", ("ref_deque_evict/N=1024/B=8",), "items_per_second", ">=", 2.0),
        ratio_target("T3", "dispatch -> join round trip, 1 worker / ping-pong round trip", runs,
                     "round_trip/workers=1", PINGPONGS, "real_time", "<=", 1.5),
        fanin_target("T4", "1->1", 1.2, runs, cpus),
        floor_target(runs),
        fanin_target("T4s", "1->1 small", 1.2, runs, cpus),
        fanin_target("T4b2", "2->1", 1.5, runs, cpus),
        fanin_target("T4b4", "4->1", 1.5, runs, cpus),
        sequenced_target(runs),
        max_counter(runs, "T6", "heap allocations per round after warm-up, every pool benchmark", "allocs_per_round", 0.0),
        value_target(runs, "T7", "idle pool, 1 s: CPU time / wall time (one core = 1)", "idle_pool/1s", "cpu_fraction", "<=", 0.01),
        ratio_target("T8", "mpsm with blocking per-batch I/O: 2 mergers / 1 merger", runs,
                     "mpsm_io/mergers=2", ("mpsm_io/mergers=1",), "items_per_second", ">=", 1.8),
        ratio_target("T9", "oversubscribed round trip (2 workers + owner on 2 cores) / ping-pong", runs,
                     "round_trip_oversubscribed/workers=2", PINGPONGS, "real_time", "<=", 4.0),
        fanin_target("T11", "1->1 contended", 3.0, runs, cpus),
    ]
    for r in out:
        why = ""
        if r.id == "T9" and not r.passed:
            why = round_trip_reason(runs)
        elif r.id in ("T1", "T1b") and not r.passed:
            why = push_reason(runs, 1024 if r.id == "T1" else 65536)
        if why:
            r.note = "; ".join(p for p in (r.note, why) if p)
    out.append(headline_target(sweep))
    return out


def sequenced_target(runs: dict[str, Series]) -> Result:
    what = "sequenced fan-in / unordered fan-in, spill's best 1 -> 1 configuration"
    best = best_configs(runs, SHAPES[0])
    if SPILL not in best:
        return Result("T5", what, None, ">=", 0.9, False, "no spill 1 -> 1 configuration was measured")
    cfg = best[SPILL][0]
    seq = cfg.name.replace("fanin/spill/", "fanin/spill_sequenced/", 1)
    return ratio_target("T5", what, runs, seq, (cfg.name,), "items_per_second", ">=", 0.9,
                        note=cfg.describe())


def value_target(runs, tid, what, name, metric, op, bound) -> Result:
    v, why = _series(runs, name, metric)
    if v is None:
        return Result(tid, what, None, op, bound, False, why)
    med = statistics.median(v.values())
    return Result(tid, what, med, op, bound, _compare(med, op, bound), "", min(v.values()), max(v.values()))


def headline_contender(point: dict) -> str | None:
    """Who a sweep point measures in the headline comparison: the pool's fan_in, or a queue (baseline_*)."""
    scenario = str(point.get("scenario", ""))
    if scenario == "fan_in":
        return SPILL
    if scenario.startswith("baseline_"):
        return (point.get("facts") or {}).get("contender") or scenario[len("baseline_"):]
    return None


def headline_target(sweep: dict | None) -> Result:
    """H: in the spill-bench sweep, the TPC design's fan-in first at every producer count."""
    what = "spill-bench: the pool's fan_in ahead of every queue at every producer count (best configurations)"
    if sweep is None:
        return Result("H", what, None, ">=", 1.0, False, "no spill-bench sweep given (--sweep)")
    points = sweep.get("points") if isinstance(sweep, dict) else None
    if not isinstance(points, list):
        raise InputError('the sweep is not a spill-bench result file (no "points" list)')
    best: dict[tuple[int, str], float] = {}
    for p in points:
        contender = headline_contender(p)
        if contender is None or (p.get("checks") or {}).get("passed") is False:
            continue
        med = ((p.get("summary") or {}).get("items_per_second") or {}).get("median")
        producers = (p.get("params") or {}).get("producers")
        if not isinstance(med, (int, float)) or isinstance(producers, bool) or not isinstance(producers, int):
            continue
        key = (producers, contender)
        best[key] = max(best.get(key, 0.0), float(med))
    counts = sorted({p for p, _ in best})
    if not counts:
        return Result("H", what, None, ">=", 1.0, False, "the sweep has no fan_in/baseline points that passed their checks")
    ratios, notes = [], []
    for pc in counts:
        mine = best.get((pc, SPILL))
        peers = {c: v for (p, c), v in best.items() if p == pc and c != SPILL}
        if mine is None or not peers:
            notes.append(f"P={pc}: {'no spill point' if mine is None else 'no queue point'}")
            continue
        top = max(peers, key=peers.get)
        ratios.append(mine / peers[top])
        notes.append(f"P={pc}: {mine / peers[top]:.2f}x {top}")
    if not ratios or len(ratios) < len(counts):
        return Result("H", what, min(ratios) if ratios else None, ">=", 1.0, False, "; ".join(notes))
    worst = min(ratios)
    return Result("H", what, worst, ">=", 1.0, worst > 1.0, "; ".join(notes))


# ------------------------------------------------------------------ output ----

def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def format_table(results: list[Result], markdown: bool = False) -> str:
    header = ["target", "what", "measured", "spread (min..max)", "bound", "result", "note"]
    rows = [[r.id, r.what, _fmt(r.measured), "-" if r.low is None else f"{_fmt(r.low)}..{_fmt(r.high)}",
             f"{r.op} {_fmt(r.bound)}", "pass" if r.passed else "MISS", r.note] for r in results]
    if markdown:
        esc = lambda s: s.replace("|", "\\|")
        return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                         + ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    fmt = lambda row: "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)])


def context_of(doc: dict) -> dict:
    ctx = doc.get("context") if isinstance(doc, dict) else None
    ctx = ctx if isinstance(ctx, dict) else {}
    out = {k: ctx.get(k) for k in ("date", "host_name", "commit", "num_cpus", "mhz_per_cpu", "load_avg", "cpu_model")}
    out["load_before_run"] = load_before_run(ctx)
    return out


def _cpus(ctx: dict) -> int | None:
    n = ctx.get("num_cpus")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def load_before_run(ctx: dict) -> float | None:
    """The 1-minute load average `./bench perf` read before its tuning pass
    (context key load_before_run), or None when the run did not record it."""
    v = ctx.get("load_before_run")
    try:
        return float(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def load_warning(ctx: dict) -> str:
    """A warning when other processes loaded the machine before the run.

    Only the load read before the tuning pass tells that: Google Benchmark's
    load_avg is read when the measured pass starts, right after the tuning
    pass has kept every CPU busy, so it is high whatever else runs."""
    before, cpus = ctx.get("load_before_run"), ctx.get("num_cpus")
    if isinstance(before, (int, float)) and isinstance(cpus, int) and cpus > 0 and before > 0.5 * cpus:
        return (f"warning: load average {before:.2f} on {cpus} CPUs before the run started: other processes "
                "competed for the cores, so the threaded ratios may be off")
    return ""


def latency_states(runs: dict[str, Series]) -> dict | None:
    """How the host's cross-core latency moved during the run: the cache-line
    ping-pong (ref_pingpong_pause, measured in every repetition) per
    repetition, split at the geometric mean of its extremes when they are more
    than 2x apart (a VM whose two vCPUs the host moves between near and far
    cores; every threaded benchmark of a repetition ran in one state or the
    other, and the targets' ratios of medians then mix the two). None when the
    run has no ping-pong."""
    s = runs.get("ref_pingpong_pause")
    reps = s.values.get("real_time") if s else None
    if not reps:
        return None
    lo, hi = min(reps.values()), max(reps.values())
    changed = lo > 0 and hi > 2 * lo
    cut = math.sqrt(lo * hi)
    return {"metric": "ref_pingpong_pause real_time (ns)", "min_ns": lo, "max_ns": hi, "repetitions": len(reps),
            "changed": changed,
            "near_repetitions": sum(v < cut for v in reps.values()) if changed else len(reps),
            "far_repetitions": sum(v >= cut for v in reps.values()) if changed else 0}


def latency_note(states: dict | None) -> str:
    """One line for the report when the cross-core latency changed during the run."""
    if not states or not states["changed"]:
        return ""
    return (f"note: the cache-line ping-pong took {states['min_ns']:.0f}-{states['max_ns']:.0f} ns across the "
            f"{states['repetitions']} repetitions ({states['near_repetitions']} near, {states['far_repetitions']} "
            "at least twice as far): the host moved the cores apart during the run, so the ratios mix both states")


def failed_checks(runs: dict[str, Series]) -> list[tuple[str, str]]:
    return [(n, s.errors[0]) for n, s in sorted(runs.items()) if s.errors]


def check_document(results: list[Result], ctx: dict, failed: list[tuple[str, str]], latency: dict | None = None) -> dict:
    return {"format": "spill-perf-targets", "version": 1, "context": ctx,
            "targets": [asdict(r) for r in results],
            "failed_self_checks": [{"benchmark": n, "message": m} for n, m in failed],
            "cross_core_latency": latency}


# ----------------------------------------------------------------- history ----

def run_documents(dirpath: str, last: int) -> list[tuple[str, dict]]:
    """(run name, its targets.json) for the last `last` runs of `dirpath`, oldest first."""
    try:
        entries = sorted(d for d in os.listdir(dirpath) if os.path.isfile(os.path.join(dirpath, d, "targets.json")))
    except OSError as e:
        raise InputError(f"{dirpath}: cannot list: {e.strerror or e}") from None
    if not entries:
        raise InputError(f"{dirpath}: no run directory with a targets.json")
    out = []
    for d in entries[-last:]:
        doc = read_json(os.path.join(dirpath, d, "targets.json"))
        if not isinstance(doc, dict) or doc.get("format") != "spill-perf-targets":
            raise InputError(f"{os.path.join(dirpath, d, 'targets.json')}: not a perf_targets.py --json file")
        out.append((d, doc))
    return out


def history(runs: list[tuple[str, dict]]) -> tuple[list[str], dict[str, list[bool]], dict[str, str]]:
    """(run names oldest first, target id -> passed per run, target id -> what) over `runs` (run_documents)."""
    passed: dict[str, list[bool]] = {}
    what: dict[str, str] = {}
    for i, (_, doc) in enumerate(runs):
        for t in doc["targets"]:
            passed.setdefault(t["id"], [False] * i).append(bool(t["passed"]))
            what[t["id"]] = t["what"]
        for k in passed:
            if len(passed[k]) < i + 1:
                passed[k].append(False)
    return [d for d, _ in runs], passed, what


@dataclass
class TrendPoint:
    """One target in one run: what it measured, its spread, and whether it passed (None: not measured)."""
    measured: float | None
    low: float | None
    high: float | None
    passed: bool


def trend(runs: list[tuple[str, dict]]) -> tuple[list[dict], dict[str, list[TrendPoint | None]], dict[str, tuple[str, float]]]:
    """(each run's context, oldest first; target id -> its TrendPoint per run,
    None where the run has no such target; target id -> (op, bound)) over
    `runs` (run_documents)."""
    contexts: list[dict] = []
    points: dict[str, list[TrendPoint | None]] = {}
    bounds: dict[str, tuple[str, float]] = {}
    for i, (d, doc) in enumerate(runs):
        ctx = doc.get("context") if isinstance(doc.get("context"), dict) else {}
        contexts.append({"run": d, **ctx})
        for t in doc["targets"]:
            row = points.setdefault(t["id"], [None] * i)
            row.append(TrendPoint(_finite(t.get("measured")), _finite(t.get("low")), _finite(t.get("high")), bool(t.get("passed"))))
            if isinstance(t.get("bound"), (int, float)) and t.get("op") in (">=", "<="):
                bounds[t["id"]] = (t["op"], float(t["bound"]))
        for row in points.values():
            if len(row) < i + 1:
                row.append(None)
    return contexts, points, bounds


def _finite(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


def plot_trend(contexts: list[dict], points: dict[str, list[TrendPoint | None]], bounds: dict[str, tuple[str, float]]) -> bytes:
    """Small multiples, one panel per target: its measured value in each run
    (a bar from the lowest to the highest paired repetition), green where it
    passed and red where it missed, beside its bound (dashed). PNG bytes."""
    from plotting import png, pyplot
    plt = pyplot()
    ids = list(points)
    cols = 4
    rows = max(1, math.ceil(len(ids) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.6 * rows), squeeze=False)
    labels = [str(c.get("commit") or "?") for c in contexts]
    xs = list(range(len(contexts)))
    for ax, tid in zip(axes.flat, ids):
        values = [v for p in points[tid] if p for v in (p.measured, p.low, p.high) if v is not None]
        bound = bounds.get(tid)
        if bound:
            values.append(bound[1])
        log = bool(values) and min(values) > 0 and max(values) / min(values) > 8
        for x, p in zip(xs, points[tid]):
            if p is None or p.measured is None:
                ax.text(x, 0.5, "absent", transform=ax.get_xaxis_transform(), ha="center", fontsize=7, color="0.4")
                continue
            colour = "#2a7d2e" if p.passed else "#c62828"
            if p.low is not None and p.high is not None:
                ax.plot([x, x], [p.low, p.high], color=colour, alpha=0.35, linewidth=3)
            ax.plot([x], [p.measured], "o", color=colour, markersize=6)
        if bound:
            ax.axhline(bound[1], color="0.2", linestyle="--", linewidth=1)
            better = "higher" if bound[0] == ">=" else "lower"
            ax.set_title(f"{tid}: {bound[0]} {bound[1]:g} ({better} is better)", fontsize=9)
        else:
            ax.set_title(tid, fontsize=9)
        if log:
            from matplotlib.ticker import FuncFormatter, LogLocator
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_minor_locator(LogLocator(base=10, subs=()))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xticks(xs)
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_xlim(-0.5, len(xs) - 0.5)
    for ax in list(axes.flat)[len(ids):]:
        ax.axis("off")
    first, final = contexts[0], contexts[-1]
    fig.suptitle(f"./bench perf, the last {len(contexts)} runs ({first.get('date', '?')[:10]} .. {final.get('date', '?')[:10]}, "
                 f"host {final.get('host_name', '?')}): each target's measured value (dot, median ratio), the range of its "
                 "paired repetitions (bar), its bound (dashed); green passed, red missed", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return png(fig)


def write_file(path: str, data: bytes | str) -> None:
    """spill_results.write_atomic (never a half-written file), with a failure
    as an InputError naming the path. Imported here, not at the top: it
    brings scipy, which only the writing commands need."""
    from spill_results import write_atomic
    try:
        write_atomic(path, data)
    except OSError as e:
        raise InputError(f"{path}: cannot write: {e.strerror or e}") from None


# -------------------------------------------------------------------- main ----

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Performance targets of spill, from spill-micro runs.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("select", help="print a --benchmark_filter running each contender's best configuration")
    s.add_argument("tune", help="spill-micro JSON of the tuning run")
    c = sub.add_parser("check", help="evaluate the targets")
    c.add_argument("micro", help="spill-micro JSON of the measured run")
    c.add_argument("--tune", help="the tuning run that chose the candidates (its failed self-checks fail this check too)")
    c.add_argument("--sweep", help="spill-bench results of scenarios/perf (the headline comparison H)")
    c.add_argument("--json", help="also write the results here (what `history` reads)")
    c.add_argument("--markdown", action="store_true")
    h = sub.add_parser("history", help="how often each target passed in the last runs")
    h.add_argument("dir", help="a directory of runs (results/perf-runs)")
    h.add_argument("--last", type=int, default=5)
    h.add_argument("--need", type=int, default=4, help="passes needed in the last runs")
    h.add_argument("--markdown", action="store_true")
    h.add_argument("--plot", metavar="PNG", help="also draw each target's value per run against its bound, into this PNG")
    h.add_argument("--plot-runs", type=int, default=10, help="how many of the last runs the plot shows")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "select":
            _, tune = load(args.tune)
            names = select(tune)
            if not any(fanin_config(n) and fanin_config(n).contender == SPILL for n in names):
                raise InputError(f"{args.tune}: no spill fan-in configuration passed its checks")
            print(filter_regex(names))
            return 0
        if args.cmd == "check":
            doc, runs = load(args.micro)
            tune = load(args.tune)[1] if args.tune else None
            sweep = read_json(args.sweep) if args.sweep else None
            ctx = context_of(doc)
            results = evaluate(runs, sweep, _cpus(ctx))
            failed = failed_checks(runs) + (failed_checks(tune) if tune else [])
            print(format_table(results, markdown=args.markdown))
            missed = [r.id for r in results if not r.passed]
            print(f"\n{len(results) - len(missed)}/{len(results)} targets met" + (f"; missed: {', '.join(missed)}" if missed else ""))
            print(f"host {ctx.get('host_name')}, commit {ctx.get('commit')}, {ctx.get('date')}")
            if w := load_warning(ctx):
                print(w)
            latency = latency_states(runs)
            if n := latency_note(latency):
                print(n)
            for name, msg in failed:
                print(f"benchmark {name} failed its self-check: {msg}")
            if args.json:
                write_file(args.json, json.dumps(check_document(results, ctx, failed, latency), indent=1))
            return 1 if missed or failed else 0
        if args.last < 1 or not 1 <= args.need <= args.last:
            raise InputError(f"--need {args.need} must be between 1 and --last {args.last}")
        if args.plot_runs < 1:
            raise InputError(f"--plot-runs {args.plot_runs} must be at least 1")
        # One read of the runs for the table and the plot (the plot may reach further back).
        docs = run_documents(args.dir, max(args.last, args.plot_runs if args.plot else 0))
        runs, passed, what = history(docs[-args.last:])
        if args.plot:
            write_file(args.plot, plot_trend(*trend(docs[-args.plot_runs:])))
        header = ["target", "what", *[f"run {i + 1}" for i in range(len(runs))], "passed"]
        rows = [[tid, what[tid], *("pass" if p else "MISS" for p in ps), f"{sum(ps)}/{len(ps)}"] for tid, ps in passed.items()]
        if args.markdown:
            print("\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]))
        else:
            widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
            for r in [header, *rows]:
                print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        print("runs: " + ", ".join(runs))
        short = [tid for tid, ps in passed.items() if sum(ps) < args.need or len(runs) < args.last]
        if len(runs) < args.last:
            print(f"only {len(runs)} runs; {args.last} are needed")
        return 1 if short else 0
    except InputError as e:
        print(f"perf_targets: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
