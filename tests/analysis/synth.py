"""Build synthetic spill-bench result documents (schema version 1) for tests.

Only the shape matters here: the values are invented.  `make_fixtures.py`
uses these helpers to write the golden fixtures; tests use them to build
documents on the fly (e.g. seeded lognormal repetitions for the gate's
statistical proof).
"""

from __future__ import annotations

import json
import math

import numpy as np

import spill_results

BASE_PARAMS = {"producers": 1, "mergers": 1, "ring_size": 1024, "consumer_delay_ns": 0,
               "delay_mode": "busy_item", "items": 100000, "rounds": 100}


def point_id(scenario: str, params: dict) -> str:
    return spill_results.point_id(scenario, params)  # the one Python definition of the id


def lognormal(rng: np.random.Generator, median: float, cv: float, n: int) -> np.ndarray:
    """n draws from a lognormal with the given median and coefficient of variation."""
    sigma = math.sqrt(math.log(1.0 + cv * cv))
    return median * np.exp(rng.normal(0.0, sigma, n))


def repetition(items: int, items_per_second: float, counters: dict | None = None,
               checks: dict | None = None) -> dict:
    seconds = items / items_per_second
    rep = {"seconds": seconds, "items": items, "items_per_second": items_per_second,
           "counters": dict(counters or {}),
           "checks": dict(checks or {"produced": items, "delivered": items, "overflowed": 0,
                                     "merged_back": 0, "dropped": 0, "passed": True})}
    return rep


def _summary_block(values: list[float]) -> dict:
    data = np.asarray(values, dtype=float)
    cv = float(np.std(data, ddof=1) / np.mean(data)) if data.size > 1 else None  # undefined, not 0
    return {"median": float(np.median(data)), "min": float(data.min()),
            "max": float(data.max()), "cv": cv}


def make_point(scenario: str, params: dict, reps: list[dict], logical_cpus: int = 2,
               checks: dict | None = None) -> dict:
    """A point with summary and check totals derived from its repetitions."""
    full = dict(params)
    producers = int(full.get("producers", 1))
    mergers = int(full.get("mergers", 0)) if scenario == "mpsm" else 0
    threads = [{"role": "producer", "index": i, "core": i % logical_cpus} for i in range(producers)]
    threads += [{"role": "merger", "index": i, "core": (producers + i) % logical_cpus} for i in range(mergers)]
    threads.append({"role": "consumer", "index": 0, "core": (producers + mergers) % logical_cpus})
    totals = {key: sum(int(rep["checks"][key]) for rep in reps)
              for key in ("produced", "delivered", "overflowed", "merged_back", "dropped")}
    rep_ok = all(rep["checks"]["passed"] for rep in reps)
    point_checks = {**totals, "fifo": True, "order": None, "passed": rep_ok, "message": ""}
    if checks:
        point_checks.update(checks)
    point = {"id": point_id(scenario, full), "scenario": scenario, "params": full,
             "threads": threads, "oversubscribed": len(threads) > logical_cpus,
             "repetitions": reps}
    if reps:
        point["summary"] = {
            "items_per_second": _summary_block([rep["items_per_second"] for rep in reps]),
            "seconds": _summary_block([rep["seconds"] for rep in reps]),
        }
    point["checks"] = point_checks
    return point


def make_metadata(**overrides) -> dict:
    metadata = {
        "tool": "spill-bench", "commit": "0123abc", "dirty": False, "compiler": "g++ 12.2.0",
        "flags": "-O2 -g -std=c++20", "build_type": "release",
        "cpu_model": "Synthetic CPU @ 2.0GHz", "logical_cpus": 2,
        "topology": "1 package, 1 NUMA node, 2 cores, 2 PUs, L3 32 MiB",
        "kernel": "Linux 6.1.0-synthetic", "hostname": "fixture-host",
        "date_utc": "2026-11-24T12:00:00Z",
        "command_line": "spill-bench run all --repetitions 5 --out fixture.json",
        "seed": 1, "pin_policy": "compact", "pinning_available": True, "pinning_reason": "",
        "counters": {"requested": [], "available": [], "unavailable": {}},
        "shard": {"index": 0, "count": 1},
    }
    metadata.update(overrides)
    return metadata


def make_doc(points: list[dict], metadata: dict | None = None) -> dict:
    return {"schema_version": 1, "metadata": metadata or make_metadata(), "points": points}


def simple_doc(samples: dict[str, list[float]], counter: str | None = None,
               counter_values: dict[str, list[float | None]] | None = None) -> dict:
    """A fan_in document with one point per key of `samples`.

    Keys are used as the `producers` parameter label ("p1", "p2" ...) to make
    distinct ids; values are the items_per_second of each repetition.  If
    `counter` is given, `counter_values[key]` supplies that counter per
    repetition (None = unavailable).
    """
    points = []
    for index, (key, values) in enumerate(samples.items()):
        params = dict(BASE_PARAMS, producers=index + 1, label=key)
        reps = []
        for rep_index, ips in enumerate(values):
            counters = {"cpu_seconds": 0.01}
            if counter is not None:
                counters[counter] = (counter_values or {}).get(key, [None] * len(values))[rep_index]
            reps.append(repetition(BASE_PARAMS["items"], float(ips), counters))
        points.append(make_point("fan_in", params, reps))
    return make_doc(points)


def write(path, doc: dict) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(doc, handle, indent=1, sort_keys=False)
        handle.write("\n")
    return str(path)


# --------------------------------------------------------------------------
# latency histograms, bucketed like spill::measure::LogHistogram<5>
# (harness/measure/histogram.hpp), written independently of analysis/.

SUB_BITS = 5


def bucket_bounds(value: int, sub_bits: int = SUB_BITS) -> tuple[int, int]:
    """[lower, upper] of the log bucket holding `value`."""
    sub = 1 << sub_bits
    if value < sub:
        return value, value
    shift = value.bit_length() - 1 - sub_bits
    lower = (value >> shift) << shift
    return lower, lower + (1 << shift) - 1


def log_histogram(samples: list[int]) -> dict:
    """A histogram as spill-bench writes it, from raw integer samples.

    Percentiles follow the C++ definition through the sorted samples: the
    bucket of the ceil(q/100 * n)-th smallest sample, its midpoint, clamped
    to [min, max] (the analysis walks the bucket counts instead)."""
    data = sorted(int(v) for v in samples)
    buckets: dict[tuple[int, int], int] = {}
    for v in data:
        key = bucket_bounds(v)
        buckets[key] = buckets.get(key, 0) + 1
    n = len(data)

    def percentile(q: float) -> int:
        if n == 0:
            return 0
        if q >= 100.0:
            return data[-1]
        rank = min(max(math.ceil(q / 100.0 * n), 1), n)
        lower, upper = bucket_bounds(data[rank - 1])
        return min(max(lower + (upper - lower) // 2, data[0]), data[-1])

    return {"sub_bucket_bits": SUB_BITS, "relative_error_bound": 2.0 ** -(SUB_BITS + 1), "count": n,
            "min": data[0] if n else 0, "mean": (sum(data) / n) if n else 0.0,
            "p50": percentile(50.0), "p99": percentile(99.0), "p99_9": percentile(99.9),
            "max": data[-1] if n else 0,
            "buckets": [[lo, hi, c] for (lo, hi), c in sorted(buckets.items())]}


def latency_block(loop: str, item: list[int], handoff: list[int], send_lag: list[int] | None = None,
                  target: int | None = None, achieved: float | None = None) -> dict:
    """A repetition's `latency` object (harness/SCHEMA.md, "Latency distributions")."""
    return {"loop": loop, "clock": "CLOCK_MONOTONIC",
            "target_items_per_second": target if loop == "open" else None,
            "achieved_items_per_second": achieved,
            "item_ns": log_histogram(item), "handoff_ns": log_histogram(handoff),
            "send_lag_ns": log_histogram(send_lag) if loop == "open" and send_lag is not None else None}
