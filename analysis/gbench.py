"""Google Benchmark JSON, both ways.

* `read_gbench(doc, source)` turns the JSON of a Google Benchmark run (such
  as `spill-micro --benchmark_out=F --benchmark_out_format=json`) into a
  spill-bench result document (harness/SCHEMA.md, schema 1), so report.py,
  compare.py and gate.py read a micro-benchmark run as they read a sweep.
  `load_results(path)` reads either kind of file.
* `to_gbench(doc)` turns a spill-bench result document into Google
  Benchmark's JSON, so Google Benchmark's own `tools/compare.py` and
  continuous-benchmarking tools read a sweep as they read a micro-benchmark
  run.  The command line is `to_gbench.py`.

Reading Google Benchmark names.  A name is `/`-separated parts; parts
Google Benchmark adds for its options (`min_time:0.250`, `real_time`,
`iterations:1`, `repeats:3`, `threads:2`, ...) are dropped from the point id
and kept in `params.gbench_options`.  Parts `key=value` are parameters
(values that parse as numbers are numbers); the other parts name the point:
the first is the scenario, the second (if any) the contender.  spill-micro's
keys are renamed to the names the report keys on:

    P -> producers, cap -> ring_size, N -> ring_size, batch -> batch,
    nb -> busy_neighbours, B -> item_bytes, workers -> producers,
    mergers -> mergers

so `fanin/spill/P=1/cap=65536/batch=16384/nb=0` is scenario `fanin`,
contender `spill`, 1 producer, capacity 65536, batch 16384, no busy
neighbour, job `1->1`.

Each repetition (`run_type: iteration`) becomes one repetition: `seconds`
is the measured time (`real_time` x `iterations`), `items_per_second` the
benchmark's own field, and `items = items_per_second x seconds`.  A
benchmark that counts no items (a round trip) counts one item per
iteration, and its point says so in `facts.item`.  `cpu_time` becomes the
counter `cpu_seconds`; user counters keep their names.  Aggregate entries
are not read: the statistics are recomputed from the repetitions.  A
benchmark that reported an error keeps no repetition for it (there is no
measurement) and fails its checks with that message.

Writing: one `run_type: iteration` entry per point and repetition, named
by the point id (read back, the id is the same), with `iterations` = items, so
`real_time` and `cpu_time` are the time per item in ns (`time_unit: ns`),
and `items_per_second`, `ns_per_item` and the repetition's non-null
counters as fields; then `mean`, `median`, `stddev` and `cv` aggregate
entries per point with 2 or more repetitions (as Google Benchmark writes
them; with one repetition a spread is undefined, so none is written).
"""

from __future__ import annotations

import math
import re
from typing import Any

import spill_results as sr
import stats

GBENCH_TOOL = "google-benchmark"
TIME_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
# Google Benchmark's option parts of a benchmark name.
OPTION_PART = re.compile(r"^(min_time|min_warmup_time|iterations|repeats|threads|"
                         r"real_time|process_time|manual_time)(:.*)?$")
KEY_NAMES = {"P": "producers", "cap": "ring_size", "N": "ring_size", "batch": "batch",
             "nb": "busy_neighbours", "B": "item_bytes", "workers": "producers", "mergers": "mergers"}
# Fields of an entry that are not user counters.
ENTRY_FIELDS = {"name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
                "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit",
                "aggregate_name", "aggregate_unit", "error_occurred", "error_message", "skipped",
                "skip_message", "label", "items_per_second", "bytes_per_second", "big_o", "rms"}


def is_gbench(doc: Any) -> bool:
    """True for the JSON of a Google Benchmark run (not a spill-bench file)."""
    return (isinstance(doc, dict) and "schema_version" not in doc
            and isinstance(doc.get("benchmarks"), list) and isinstance(doc.get("context"), dict))


def _number(text: str):
    try:
        value = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            return text
    return value


def parse_name(name: str) -> dict:
    """{"id", "scenario", "contender", "params", "options"} of a benchmark name."""
    parts = [p for p in name.split("/") if p]
    options = [p for p in parts if OPTION_PART.match(p)]
    kept = [p for p in parts if not OPTION_PART.match(p)]
    path, params = [], {}
    # A converted spill-bench point is named by its id, whose parts are `|`-separated.
    for part in (piece for p in kept for piece in p.split("|") if piece):
        if "=" in part:
            key, _, value = part.partition("=")
            params[KEY_NAMES.get(key, key)] = _number(value)
        else:
            path.append(part)
    ident = "/".join(kept)
    return {"id": ident, "scenario": path[0] if path else ident,
            "contender": path[1] if len(path) > 1 else None, "params": params, "options": options}


def _job(params: dict) -> str | None:
    producers = params.get("producers")
    if not isinstance(producers, int):
        return None
    mergers = params.get("mergers", 1)
    if isinstance(mergers, int) and mergers > 1:
        return "P->M"
    return "1->1" if producers == 1 else "P->1"


def _where(source: str, index: int, entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"{source}: benchmarks[{index}]" + (f" ({name!r})" if isinstance(name, str) else "")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_gbench(doc: dict, source: str) -> dict:
    """A spill-bench result document (schema 1) from a Google Benchmark run.

    Raises sr.ResultError (one line naming the file and entry) on an entry
    it cannot read, and when the run kept no repetition (aggregates only).
    """
    context = doc["context"]
    points: dict[str, dict] = {}
    order: list[str] = []
    aggregates = 0
    for index, entry in enumerate(doc["benchmarks"]):
        where = _where(source, index, entry)
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise sr.ResultError(f"{where}: not an object with a string 'name'")
        run_type = entry.get("run_type", "iteration")
        if run_type == "aggregate":
            aggregates += 1
            continue
        if run_type != "iteration":
            raise sr.ResultError(f"{where}: run_type {run_type!r} is not iteration or aggregate")
        parsed = parse_name(entry.get("run_name") or entry["name"])
        failed = bool(entry.get("error_occurred")) or entry.get("skipped") in (True, "error_occurred")
        message = entry.get("error_message") or entry.get("skip_message") or ""
        rep: dict[str, Any] | None = None
        counts_items = True
        if not failed:
            rep = {"counters": {}, "checks": {"passed": True}}
            for key in ("iterations", "real_time"):
                if not _finite(entry.get(key)) or entry[key] < 0:
                    raise sr.ResultError(f"{where}: '{key}' {entry.get(key)!r} is not a non-negative number")
            unit = entry.get("time_unit", "ns")
            if unit not in TIME_UNIT_SECONDS:
                raise sr.ResultError(f"{where}: time_unit {unit!r} is not one of {', '.join(TIME_UNIT_SECONDS)}")
            scale = TIME_UNIT_SECONDS[unit]
            seconds = entry["real_time"] * scale * entry["iterations"]
            rate = entry.get("items_per_second")
            if rate is not None and not (_finite(rate) and rate >= 0):
                raise sr.ResultError(f"{where}: 'items_per_second' {rate!r} is not a non-negative number")
            counts_items = rate is not None
            if not counts_items:
                if not seconds > 0:
                    raise sr.ResultError(f"{where}: real_time x iterations is 0: no rate can be computed")
                rate = entry["iterations"] / seconds
            rep.update(seconds=seconds, items=rate * seconds, items_per_second=float(rate))
            if _finite(entry.get("cpu_time")):
                rep["counters"]["cpu_seconds"] = entry["cpu_time"] * scale * entry["iterations"]
            for key, value in entry.items():
                if key not in ENTRY_FIELDS:
                    rep["counters"][key] = float(value) if _finite(value) else None
        if rep is not None and "repetition_index" in entry:
            rep["repetition_index"] = entry["repetition_index"]
        point = points.get(parsed["id"])
        if point is None:
            params = dict(parsed["params"])
            if parsed["options"]:
                params["gbench_options"] = "/".join(parsed["options"])
            # Only what the name says: a point named without a contender part
            # (a converted spill-bench point) gets the usual derivation
            # (facts.point_facts) from its scenario and parameters.
            facts = {"item": "item" if (failed or counts_items) else "iteration", "source": GBENCH_TOOL}
            if parsed["contender"]:
                facts["contender"] = parsed["contender"]
                facts["job"] = _job(params)
            config = {k: params[k] for k in ("ring_size", "batch") if k in params}
            point = {"id": parsed["id"], "scenario": parsed["scenario"], "params": params, "facts": facts,
                     "config": {("capacity_items" if k == "ring_size" else "batch_items"): v for k, v in config.items()},
                     "threads_per_benchmark": entry.get("threads", 1), "repetitions": [],
                     "checks": {"passed": True, "message": ""}, "benchmark_name": entry.get("run_name") or entry["name"]}
            points[parsed["id"]] = point
            order.append(parsed["id"])
        elif point["benchmark_name"] != (entry.get("run_name") or entry["name"]):
            raise sr.ResultError(f"{where}: id {parsed['id']!r} is also the id of {point['benchmark_name']!r} "
                                 "(names differ only in Google Benchmark options)")
        if rep is not None:
            point["repetitions"].append(rep)
        else:
            point["checks"] = {"passed": False, "message": message or "the benchmark reported an error"}
    if not points:
        if aggregates:
            raise sr.ResultError(f"{source}: only aggregate entries ({aggregates}): run without "
                                 "--benchmark_report_aggregates_only so every repetition is kept")
        raise sr.ResultError(f"{source}: 'benchmarks' is empty")
    meta = {"tool": GBENCH_TOOL, "source_format": "google-benchmark-json",
            "hostname": context.get("host_name"), "logical_cpus": context.get("num_cpus"),
            "date_utc": context.get("date"), "command_line": context.get("executable"),
            "build_type": context.get("library_build_type"), "mhz_per_cpu": context.get("mhz_per_cpu"),
            "load_avg": context.get("load_avg"), "caches": context.get("caches"),
            "counters": {"requested": [], "unavailable": {}}}
    for key in ("commit", "dirty", "compiler", "cpu_model", "kernel", "topology"):
        if key in context:
            meta[key] = context[key]
    # Where the file comes from, as far as Google Benchmark's context says.
    meta["provenance"] = {"tool": GBENCH_TOOL, "commit": str(context.get("commit") or "unknown"),
                          "dirty": context["dirty"] if isinstance(context.get("dirty"), bool) else None,
                          "date_utc": str(context.get("date") or "unknown"),
                          "host": str(context.get("host_name") or "unknown"),
                          "command_line": str(context.get("executable") or "unknown"), "converted_from": source}
    return {"schema_version": sr.SUPPORTED_SCHEMA_VERSION, "metadata": meta, "points": [points[i] for i in order]}


def load_results(path: str, expect_schema_version: int | None = None, base_label: str = "base") -> dict:
    """Read a spill-bench result file (spill_results.load) or a Google
    Benchmark JSON file, converted (read_gbench) and validated
    (spill_results.validate).  Bad input raises sr.ResultError."""
    doc = _load_json(path)
    if not is_gbench(doc):
        return sr.load(path, expect_schema_version=expect_schema_version, base_label=base_label)
    doc = read_gbench(doc, path)
    sr.validate(doc, path, expect_schema_version=expect_schema_version, base_label=base_label)
    return doc


def _load_json(path: str) -> Any:
    import json
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise sr.ResultError(f"{path}: cannot read file: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise sr.ResultError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise sr.ResultError(f"{path}: not JSON: {err.msg} at line {err.lineno} column {err.colno}") from None


def load_pair(base_path: str, cand_path: str, base_label: str = "base") -> tuple[dict, dict]:
    """Load a base and a candidate of either format to be compared."""
    base = load_results(base_path)
    cand = load_results(cand_path, expect_schema_version=base["schema_version"], base_label=base_label)
    sr.check_comparable(base, cand, base_path, cand_path)
    return base, cand


# --------------------------------------------------------------------------
# writing


def _threads(point: dict) -> int:
    threads = point.get("threads")
    return len(threads) if isinstance(threads, list) and threads else 1


def _name(point: dict) -> str:
    return point["id"]


def to_gbench(doc: dict, source: str = "results") -> dict:
    """Google Benchmark JSON of a validated spill-bench result document.

    Raises sr.ResultError when a measured repetition lacks what an entry
    needs (a cpu_seconds counter for cpu_time, items > 0).
    """
    meta = doc["metadata"]
    context = {"date": meta.get("date_utc"), "host_name": meta.get("hostname"),
               "executable": meta.get("command_line") or meta.get("tool") or "spill-bench",
               "num_cpus": meta.get("logical_cpus"), "library_build_type": meta.get("build_type"),
               "caches": [], "load_avg": [], "spill_schema_version": doc["schema_version"],
               "commit": meta.get("commit"), "dirty": meta.get("dirty"), "cpu_model": meta.get("cpu_model"),
               "converted_by": "analysis/to_gbench.py"}
    context = {k: v for k, v in context.items() if v is not None}
    entries: list[dict] = []
    for family, point in enumerate(doc["points"]):
        name = _name(point)
        reps = point["repetitions"]
        failed = point["checks"].get("passed") is False
        per_rep: list[dict] = []
        for index, rep in enumerate(reps):
            where = f"{source}: points[{family}] (id {point['id']!r}): repetitions[{index}]"
            entry = {"name": name, "family_index": family, "per_family_instance_index": 0, "run_name": name,
                     "run_type": "iteration", "repetitions": len(reps), "repetition_index": index,
                     "threads": _threads(point)}
            rep_failed = isinstance(rep.get("checks"), dict) and rep["checks"].get("passed") is False
            if failed or rep_failed:
                entry.update(error_occurred=True, error_message=point["checks"].get("message")
                             or "correctness checks failed", iterations=0, real_time=0.0, cpu_time=0.0, time_unit="ns")
                entries.append(entry)
                continue
            items = rep["items"]
            if not items > 0:
                raise sr.ResultError(f"{where}: items {items!r}: a time per item needs items > 0")
            cpu = (rep.get("counters") or {}).get("cpu_seconds")
            if not _finite(cpu):
                raise sr.ResultError(f"{where}: no cpu_seconds counter; a Google Benchmark entry needs a cpu_time")
            entry.update(iterations=int(round(items)), real_time=rep["seconds"] / items * 1e9,
                         cpu_time=cpu / items * 1e9, time_unit="ns", items_per_second=rep["items_per_second"],
                         ns_per_item=rep["seconds"] / items * 1e9)
            for key, value in (rep.get("counters") or {}).items():
                if _finite(value) and key not in entry:
                    entry[key] = float(value)
            entries.append(entry)
            per_rep.append(entry)
        if len(per_rep) >= 2:
            entries.extend(_aggregates(name, family, per_rep))
    return {"context": context, "benchmarks": entries}


AGGREGATED_FIELDS = ("real_time", "cpu_time", "items_per_second", "ns_per_item")


def _aggregates(name: str, family: int, reps: list[dict]) -> list[dict]:
    import numpy as np
    out = []
    for aggregate in ("mean", "median", "stddev", "cv"):
        entry = {"name": f"{name}_{aggregate}", "family_index": family, "per_family_instance_index": 0,
                 "run_name": name, "run_type": "aggregate", "repetitions": len(reps), "threads": reps[0]["threads"],
                 "aggregate_name": aggregate, "aggregate_unit": "percentage" if aggregate == "cv" else "time",
                 "iterations": len(reps), "time_unit": "ns"}
        for field in AGGREGATED_FIELDS:
            values = np.array([r[field] for r in reps], dtype=float)
            if aggregate == "mean":
                entry[field] = float(values.mean())
            elif aggregate == "median":
                entry[field] = stats.median(values)
            elif aggregate == "stddev":
                entry[field] = float(values.std(ddof=1))
            else:
                cv = stats.cv(values)
                if cv is not None:
                    entry[field] = cv
        out.append(entry)
    return out
