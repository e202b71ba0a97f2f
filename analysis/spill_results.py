"""Load, validate, query and write result files (harness/SCHEMA.md).

This module is the project's one Python reader and writer of result files:
spill-bench's, det_run.py's and ab_run.py's.  Everything here is a pure
function over plain dicts (except `load`, `write_results`, `write_atomic` and
`provenance`, which touch files and git): nothing prints, nothing plots.
Invalid input raises `ResultError` whose message names the offending file and
value, so a front end can print it as a one-line error.

Undefined is never zero: a statistic that cannot be computed is None, and
its reason is in the enclosing dict's "undefined" map under the same key (in
a file: null, and the reason beside it).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import math
import os
import shlex
import socket
import subprocess
import sys
import tempfile
from typing import Any, Iterable, Iterator

import stats

# The version this module writes; it reads every version in
# READABLE_SCHEMA_VERSIONS and upgrades older documents on load
# (`upgrade`; harness/SCHEMA.md, "Version history").
SUPPORTED_SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)

# Keys a reader relies on.  Anything else in the file is optional.
REQUIRED_TOP_KEYS = ("schema_version", "metadata", "points")
REQUIRED_POINT_KEYS = ("id", "scenario", "params", "repetitions", "checks")
REQUIRED_REPETITION_KEYS = ("seconds", "items", "items_per_second")
# Every results file says where it comes from (metadata.provenance).
PROVENANCE_KEYS = ("tool", "commit", "dirty", "date_utc", "host", "command_line")
# The item counts of a repetition's (and a point's) `checks`.
CHECK_COUNTS = ("produced", "delivered", "overflowed", "merged_items", "dropped")

# Derived per-item metrics and the total counters they may be computed from,
# in order of preference (after the metric itself and its `X` in `X_per_item`).
PER_ITEM_ALIASES = {"instructions_per_item": ("PAPI_TOT_INS",)}

# Metrics whose larger value is the better one.  Everything else (seconds,
# counters, counts per item) is "lower is better".
HIGHER_IS_BETTER_SUFFIXES = ("_per_second",)


class ResultError(Exception):
    """A result file (or a pair of them) cannot be used; message is one line."""


# --------------------------------------------------------------------------
# loading and validation


def load(path: str, expect_schema_version: int | None = None,
         base_label: str = "base") -> dict:
    """Read and validate one result file; return the parsed document in the
    current schema (an older readable version is upgraded: `upgrade`).

    `expect_schema_version` is the version of a file this one will be
    compared with; any two readable versions compare after the upgrade.
    """
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        reason = err.strerror or str(err)
        raise ResultError(f"{path}: cannot read file: {reason}") from None
    except UnicodeDecodeError as err:
        raise ResultError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise ResultError(f"{path}: not JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    validate(doc, path, expect_schema_version=expect_schema_version, base_label=base_label)
    return upgrade(doc)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _point_label(index: int, point: Any) -> str:
    if isinstance(point, dict) and isinstance(point.get("id"), str):
        return f"points[{index}] (id {point['id']!r})"
    return f"points[{index}]"


def validate(doc: Any, source: str, expect_schema_version: int | None = None,
             base_label: str = "base") -> None:
    """Raise ResultError unless `doc` is a usable schema-1 result document."""
    if not isinstance(doc, dict):
        raise ResultError(f"{source}: top level is a JSON {_json_type(doc)}, expected an object")
    if "schema_version" not in doc:
        raise ResultError(f"{source}: missing key 'schema_version'")
    version = doc["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise ResultError(f"{source}: schema_version {json.dumps(version)} is not an integer")
    if version not in READABLE_SCHEMA_VERSIONS:
        readable = ", ".join(str(v) for v in READABLE_SCHEMA_VERSIONS)
        raise ResultError(f"{source}: unsupported schema_version {version} (this tool reads {readable})")
    # Every readable version is upgraded to the current one on load, so files of
    # two readable versions compare (expect_schema_version only names the
    # other side in older callers).
    for key in REQUIRED_TOP_KEYS:
        if key not in doc:
            raise ResultError(f"{source}: missing key '{key}'")
    if not isinstance(doc["metadata"], dict):
        raise ResultError(f"{source}: 'metadata' is not an object")
    if version >= 2:
        validate_provenance(doc["metadata"].get("provenance"), f"{source}: metadata.provenance")
    if not isinstance(doc["points"], list):
        raise ResultError(f"{source}: 'points' is not a list")
    seen: dict[str, int] = {}
    for index, point in enumerate(doc["points"]):
        label = _point_label(index, point)
        if not isinstance(point, dict):
            raise ResultError(f"{source}: {label} is not an object")
        for key in REQUIRED_POINT_KEYS:
            if key not in point:
                raise ResultError(f"{source}: {label}: missing key '{key}'")
        if not isinstance(point["id"], str) or not point["id"]:
            raise ResultError(f"{source}: {label}: 'id' {json.dumps(point['id'])} is not a non-empty string")
        if point["id"] in seen:
            raise ResultError(f"{source}: {label}: duplicate id (also points[{seen[point['id']]}])")
        seen[point["id"]] = index
        if not isinstance(point["scenario"], str):
            raise ResultError(f"{source}: {label}: 'scenario' is not a string")
        if not isinstance(point["params"], dict):
            raise ResultError(f"{source}: {label}: 'params' is not an object")
        if not isinstance(point["checks"], dict):
            raise ResultError(f"{source}: {label}: 'checks' is not an object")
        if not isinstance(point["repetitions"], list):
            raise ResultError(f"{source}: {label}: 'repetitions' is not a list")
        if version >= 2:
            for key in ("facts", "config"):
                if key in point and not isinstance(point[key], dict):
                    raise ResultError(f"{source}: {label}: '{key}' is not an object")
            written_as_v2 = "upgraded_from_schema_version" not in doc["metadata"]
            if doc["metadata"].get("tool") == "spill-bench" and written_as_v2 and not isinstance(point.get("facts"), dict):
                raise ResultError(f"{source}: {label}: missing key 'facts' (spill-bench records its scenario's facts per point)")
        for rep_index, rep in enumerate(point["repetitions"]):
            where = f"{source}: {label}: repetitions[{rep_index}]"
            if not isinstance(rep, dict):
                raise ResultError(f"{where} is not an object")
            for key in REQUIRED_REPETITION_KEYS:
                if key not in rep:
                    raise ResultError(f"{where}: missing key '{key}'")
                if rep[key] is None and undefined_reason(rep, key):
                    continue  # undefined, with its reason
                if not _is_number(rep[key]):
                    raise ResultError(f"{where}: '{key}' {json.dumps(rep[key])} is not a number"
                                      + (" (null without a reason in 'undefined')" if rep[key] is None else ""))
                if not math.isfinite(rep[key]) or rep[key] < 0:
                    raise ResultError(f"{where}: '{key}' {rep[key]!r} is not a finite non-negative number")
            counters = rep.get("counters", {})
            if counters is not None and not isinstance(counters, dict):
                raise ResultError(f"{where}: 'counters' is not an object")
            if "latency" in rep:
                validate_latency(rep["latency"], f"{where}: latency")


def undefined_reason(block: Any, key: str) -> str | None:
    """Why `block[key]` is null (its "undefined" map), or None if no reason is recorded."""
    if not isinstance(block, dict):
        return None
    why = (block.get("undefined") or {}).get(key) if isinstance(block.get("undefined"), dict) else None
    return why if isinstance(why, str) and why else None


def validate_provenance(block: Any, where: str) -> None:
    """Raise ResultError unless `block` names tool, commit, dirty flag, date, host and command line."""
    if not isinstance(block, dict):
        raise ResultError(f"{where} is missing (every results file says which commit, when, where and how it was made)")
    for key in PROVENANCE_KEYS:
        if key not in block:
            raise ResultError(f"{where}: missing key '{key}'")
    if block["dirty"] is not None and not isinstance(block["dirty"], bool):
        raise ResultError(f"{where}: 'dirty' {json.dumps(block['dirty'])} is not true, false or null")
    for key in ("tool", "commit", "date_utc", "host", "command_line"):
        if not isinstance(block[key], str) or not block[key]:
            raise ResultError(f"{where}: '{key}' {json.dumps(block[key])} is not a non-empty string")


# --------------------------------------------------------------------------
# upgrading older documents


_V1_NOTE = "written by schema_version 1, which had no reason for an undefined value"


def upgrade(doc: dict) -> dict:
    """A validated document in the current schema (the document itself when
    it already is).  Version 1 -> 2: `checks.merged_back` (items moved by
    merge backs) is `merged_items`; a coefficient of variation of a single
    repetition, written as 0, is None with its reason; `metadata.provenance`
    is made from the version-1 metadata fields.  Version 1 points have no
    `facts` or `config` (point_facts() gives None).  The original version is
    kept in `metadata.upgraded_from_schema_version`."""
    version = doc["schema_version"]
    if version == SUPPORTED_SCHEMA_VERSION:
        return doc
    out = copy.deepcopy(doc)
    md = out["metadata"]
    md["upgraded_from_schema_version"] = version
    if not isinstance(md.get("provenance"), dict):
        md["provenance"] = {"tool": md.get("tool") or "unknown", "commit": md.get("commit") or "unknown",
                            "dirty": md.get("dirty") if isinstance(md.get("dirty"), bool) else None,
                            "date_utc": md.get("date_utc") or "unknown", "host": md.get("hostname") or "unknown",
                            "command_line": md.get("command_line") or "unknown"}
    for point in out["points"]:
        blocks = [point.get("checks")] + [rep.get("checks") for rep in point["repetitions"] if isinstance(rep, dict)]
        for checks in blocks:
            if isinstance(checks, dict) and "merged_back" in checks:
                checks["merged_items"] = checks.pop("merged_back")
        summary = point.get("summary")
        if isinstance(summary, dict):
            for metric, block in summary.items():
                if isinstance(block, dict) and "cv" in block and len(point["repetitions"]) < 2:
                    block["cv"] = None
                    block.setdefault("undefined", {})["cv"] = (
                        f"{len(point['repetitions'])} repetition(s): a spread needs 2 or more ({_V1_NOTE})")
    out["schema_version"] = SUPPORTED_SCHEMA_VERSION
    return out


# --------------------------------------------------------------------------
# provenance and writing


def _git(*args: str) -> str | None:
    root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    try:
        proc = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def provenance(tool: str, argv: list[str]) -> dict:
    """metadata.provenance of a file this process writes: the commit of the
    source tree (and whether it had uncommitted changes; None when git cannot
    tell), the UTC date, the host and the command line (`tool` plus argv)."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"tool": tool,
            "commit": _git("rev-parse", "--short=7", "HEAD") or "unknown",
            "dirty": (status != "") if status is not None else None,
            "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "host": socket.gethostname() or "unknown",
            "command_line": shlex.join([tool, *argv])}


def make_document(points: list[dict], metadata: dict) -> dict:
    """A current-schema document; `metadata` must hold `provenance`."""
    return {"schema_version": SUPPORTED_SCHEMA_VERSION, "metadata": metadata, "points": points}


def write_results(path: str, doc: dict, indent: int | None = 2) -> None:
    """Validate `doc` (current schema, with provenance) and write it
    atomically.  Raises ResultError (nothing written) if it is not valid."""
    if doc.get("schema_version") != SUPPORTED_SCHEMA_VERSION:
        raise ResultError(f"{path}: refusing to write schema_version {doc.get('schema_version')!r} "
                          f"(this tool writes {SUPPORTED_SCHEMA_VERSION})")
    validate(doc, path)
    try:
        text = json.dumps(doc, indent=indent, allow_nan=False) + "\n"
    except ValueError:
        raise ResultError(f"{path}: the document holds a NaN or infinity (undefined values are null with a reason)") from None
    write_atomic(path, text)


# --------------------------------------------------------------------------
# point ids, facts and configuration


def point_id(scenario: str, params: dict) -> str:
    """The id of a point: the scenario, then `|key=value` for every parameter
    of `params`, keys in alphabetical order (as spill-bench makes it)."""
    return "|".join([scenario] + [f"{key}={params[key]}" for key in sorted(params)])


def parse_point_id(point_id_text: str) -> tuple[str, dict[str, str]]:
    """(scenario, {key: value as text}) of a point id; ResultError if malformed."""
    scenario, *parts = point_id_text.split("|")
    params = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise ResultError(f"point id {point_id_text!r}: {part!r} is not key=value")
        params[key] = value
    if not scenario:
        raise ResultError(f"point id {point_id_text!r}: no scenario")
    return scenario, params


def point_facts(point: dict) -> dict | None:
    """The scenario's facts a point recorded (contender, job, hands_rings,
    handoff_stats, roles, sweeps, ordered, handoff_rule, handoffs_per_round,
    floor, config); None for points of files that predate them."""
    facts = point.get("facts")
    return facts if isinstance(facts, dict) else None


def point_config(point: dict) -> dict | None:
    """The contender's configuration of a point (capacity_items,
    batch_items, ... as the scenario declares it); None when not recorded."""
    config = point.get("config")
    return config if isinstance(config, dict) else None


def plural(count: int, noun: str) -> str:
    """`1 point`, `2 points`."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def check_comparable(base: dict, cand: dict, base_path: str, cand_path: str) -> None:
    """Raise ResultError unless the two documents may be compared."""
    if base["schema_version"] != cand["schema_version"]:
        raise ResultError(f"{cand_path}: schema_version {cand['schema_version']} does not match base schema_version {base['schema_version']}")


def load_pair(base_path: str, cand_path: str, base_label: str = "base") -> tuple[dict, dict]:
    """Load a base and a candidate file that are to be compared."""
    base = load(base_path)
    cand = load(cand_path, expect_schema_version=base["schema_version"], base_label=base_label)
    check_comparable(base, cand, base_path, cand_path)
    return base, cand


# --------------------------------------------------------------------------
# iteration and metric extraction


def iter_points(doc: dict, scenario: str | None = None) -> Iterator[dict]:
    """Yield the points of a document, optionally only one scenario's."""
    for point in doc["points"]:
        if scenario is None or point["scenario"] == scenario:
            yield point


def points_by_id(doc: dict) -> dict[str, dict]:
    return {point["id"]: point for point in doc["points"]}


def higher_is_better(metric: str) -> bool:
    return metric.endswith(HIGHER_IS_BETTER_SUFFIXES)


def repetition_value(rep: dict, metric: str) -> float | None:
    """One repetition's value of `metric`, or None when it is unavailable.

    Looked up as a repetition field (`items_per_second`, `seconds`), then as
    a counter, then -- for `X_per_item` -- as a total counter divided by
    `items` (see `metric_sources`).  A null counter is unavailable, never zero.
    """
    if metric in rep and metric != "counters":
        value = rep[metric]
        return float(value) if _is_number(value) else None
    counters = rep.get("counters") or {}
    if metric in counters:
        value = counters[metric]
        return float(value) if _is_number(value) else None
    items = rep.get("items")
    for source in metric_sources(metric)[1:]:
        total = counters.get(source)
        if _is_number(total) and _is_number(items) and items > 0:
            return float(total) / float(items)
    return None


def metric_sources(metric: str) -> list[str]:
    """Names `metric` may be read from: itself, then totals to divide by items.

    `X_per_item` comes from counter `X`; `instructions_per_item` also from
    `instructions` or the PAPI preset `PAPI_TOT_INS` that spill-bench records.
    """
    sources = [metric]
    if metric.endswith("_per_item"):
        sources.append(metric[: -len("_per_item")])
        sources.extend(s for s in PER_ITEM_ALIASES.get(metric, ()) if s not in sources)
    return sources


def metric_values(point: dict, metric: str) -> list[float]:
    """Available values of `metric` over the point's repetitions."""
    values = (repetition_value(rep, metric) for rep in point["repetitions"])
    return [value for value in values if value is not None]


def summarize(values: Iterable[float]) -> dict:
    """median/min/max/cv/n of a sample, as in a point's `summary` block: a
    statistic that cannot be computed is None, and "undefined" (present only
    then) says why."""
    data = [float(v) for v in values]
    if not data:
        why = "no measured repetition"
        return {"median": None, "min": None, "max": None, "cv": None, "n": 0,
                "undefined": {"median": why, "min": why, "max": why, "cv": why}}
    cv = stats.cv_outcome(data)
    out = {"median": stats.median(data), "min": min(data), "max": max(data), "cv": cv.value, "n": len(data)}
    if cv.value is None:
        out["undefined"] = {"cv": cv.reason or "not computable"}
    return out


def recompute_summary(point: dict) -> dict:
    """The point's `summary` blocks of items_per_second and seconds,
    recomputed from its repetitions."""
    return {metric: summarize(metric_values(point, metric))
            for metric in ("items_per_second", "seconds")}


def summary_disagreements(point: dict, rel_tol: float = 1e-6) -> list[str]:
    """Fields of the stored summary that differ from the recomputed one.

    Only median/min/max are checked: the harness and this package may define
    the coefficient of variation with different degrees of freedom.
    """
    stored = point.get("summary")
    if not isinstance(stored, dict):
        return []
    fresh = recompute_summary(point)
    problems = []
    for metric, block in fresh.items():
        stored_block = stored.get(metric)
        if not isinstance(stored_block, dict) or block["n"] == 0:
            continue
        for field in ("median", "min", "max"):
            value = stored_block.get(field)
            if _is_number(value) and not math.isclose(value, block[field], rel_tol=rel_tol, abs_tol=1e-12):
                problems.append(f"{metric}.{field} {value!r} != {block[field]!r}")
        if block["cv"] is None and _is_number(stored_block.get("cv")):
            problems.append(f"{metric}.cv {stored_block['cv']!r} is stored, but it is undefined ({block['undefined']['cv']})")
    return problems


def counter_names(doc: dict) -> list[str]:
    """Every counter key appearing in any repetition, sorted."""
    names: set[str] = set()
    for point in doc["points"]:
        for rep in point["repetitions"]:
            names.update((rep.get("counters") or {}).keys())
    return sorted(names)


def unavailable_counters(docs: Iterable[tuple[str, dict]]) -> dict[str, str]:
    """Counter name -> reason, for counters a run could not read.

    Reasons come from `metadata.counters.unavailable`; a counter that is null
    in every repetition without a recorded reason is reported as such.
    """
    reasons: dict[str, str] = {}
    for _, doc in docs:
        declared = ((doc["metadata"].get("counters") or {}).get("unavailable") or {})
        if isinstance(declared, dict):
            for name, reason in declared.items():
                reasons.setdefault(str(name), str(reason) if reason else "no reason given")
        for name in counter_names(doc):
            values = [(rep.get("counters") or {}).get(name) for p in doc["points"] for rep in p["repetitions"]]
            if all(not _is_number(v) for v in values):
                reasons.setdefault(name, "null in every repetition; no reason recorded in metadata.counters.unavailable")
    return dict(sorted(reasons.items()))


def failed_points(doc: dict) -> list[dict]:
    """Points whose checks failed (point totals or any single repetition)."""
    failed = []
    for point in doc["points"]:
        point_failed = point["checks"].get("passed") is False
        reps_failed = [i for i, rep in enumerate(point["repetitions"])
                       if isinstance(rep.get("checks"), dict) and rep["checks"].get("passed") is False]
        if point_failed or reps_failed:
            failed.append({"id": point["id"], "scenario": point["scenario"],
                           "message": point["checks"].get("message") or "",
                           "checks": point["checks"], "failed_repetitions": reps_failed})
    return failed


# --------------------------------------------------------------------------
# matching two files


def match_points(base: dict, cand: dict) -> tuple[list[tuple[dict, dict]], list[str], list[str]]:
    """Pair points by id.

    Returns (pairs in base order, ids only in base, ids only in candidate).
    """
    cand_by_id = points_by_id(cand)
    base_ids = {point["id"] for point in base["points"]}
    pairs = [(point, cand_by_id[point["id"]]) for point in base["points"] if point["id"] in cand_by_id]
    only_base = [point["id"] for point in base["points"] if point["id"] not in cand_by_id]
    only_cand = [point["id"] for point in cand["points"] if point["id"] not in base_ids]
    return pairs, only_base, only_cand


# --------------------------------------------------------------------------
# latency distributions (harness/SCHEMA.md, "Latency distributions")

# The histograms of a latency block, and the percentiles each one reports.
LATENCY_KINDS = ("item_ns", "handoff_ns", "send_lag_ns")
LATENCY_PERCENTILES = (("p50", 50.0), ("p99", 99.0), ("p99_9", 99.9))
LATENCY_LOOPS = ("closed", "open")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def validate_histogram(hist: Any, where: str) -> None:
    """Raise ResultError unless `hist` is a latency histogram as spill-bench writes it."""
    if not isinstance(hist, dict):
        raise ResultError(f"{where} is a JSON {_json_type(hist)}, expected an object")
    if not _is_count(hist.get("count")):
        raise ResultError(f"{where}: 'count' {json.dumps(hist.get('count'))} is not a non-negative integer")
    # An empty histogram has no min, max or percentiles: null with a reason
    # (version 1 files wrote 0 for them).
    empty = hist["count"] == 0
    for key in ("min", "max"):
        if not (_is_count(hist.get(key)) or (empty and hist.get(key) is None and undefined_reason(hist, key))):
            raise ResultError(f"{where}: '{key}' {json.dumps(hist.get(key))} is not a non-negative integer")
    for key, _ in LATENCY_PERCENTILES:
        if not (_is_number(hist.get(key)) or (empty and hist.get(key) is None and undefined_reason(hist, key))):
            raise ResultError(f"{where}: '{key}' {json.dumps(hist.get(key))} is not a number")
    buckets = hist.get("buckets")
    if not isinstance(buckets, list):
        raise ResultError(f"{where}: 'buckets' is not a list")
    total, previous = 0, -1
    for index, bucket in enumerate(buckets):
        if (not isinstance(bucket, list) or len(bucket) != 3 or not all(_is_count(v) for v in bucket)
                or bucket[0] > bucket[1] or bucket[2] == 0 or bucket[0] <= previous):
            raise ResultError(f"{where}: buckets[{index}] {json.dumps(bucket)} is not [lower, upper, count] "
                              "with lower <= upper, count > 0, in increasing order")
        previous = bucket[1]
        total += bucket[2]
    if total != hist["count"]:
        raise ResultError(f"{where}: the buckets hold {total} samples but 'count' is {hist['count']}")


def validate_latency(block: Any, where: str) -> None:
    """Raise ResultError unless `block` is a repetition's `latency` object."""
    if not isinstance(block, dict):
        raise ResultError(f"{where} is a JSON {_json_type(block)}, expected an object")
    if block.get("loop") not in LATENCY_LOOPS:
        raise ResultError(f"{where}: 'loop' {json.dumps(block.get('loop'))} is not \"closed\" or \"open\"")
    if "item_ns" not in block:
        raise ResultError(f"{where}: missing key 'item_ns'")
    for kind in LATENCY_KINDS:
        if block.get(kind) is not None:
            validate_histogram(block[kind], f"{where}: {kind}")


def histogram_percentile(hist: dict, q: float) -> int | None:
    """Nearest-rank percentile of a histogram, computed from its buckets as
    spill::measure::LogHistogram::percentile does: the midpoint of the bucket
    holding the ceil(q/100 * count)-th smallest sample, clamped to
    [min, max]; q >= 100 is the exact max; None when empty (no samples)."""
    count = hist["count"]
    if count == 0:
        return None
    if not q < 100.0:
        return hist["max"]
    rank = min(max(math.ceil(max(q, 0.0) / 100.0 * float(count)), 1), count)
    seen = 0
    for lower, upper, n in hist["buckets"]:
        seen += n
        if seen >= rank:
            return min(max(lower + (upper - lower) // 2, hist["min"]), hist["max"])
    return hist["max"]


def merge_histograms(hists: Iterable[dict | None]) -> dict | None:
    """Pool the samples of several histograms (same bucketing): bucket counts
    add up; count, min, max, mean and the percentiles are recomputed."""
    present = [h for h in hists if isinstance(h, dict)]
    if not present:
        return None
    buckets: dict[tuple[int, int], int] = {}
    for hist in present:
        for lower, upper, n in hist["buckets"]:
            buckets[(lower, upper)] = buckets.get((lower, upper), 0) + n
    count = sum(h["count"] for h in present)
    nonempty = [h for h in present if h["count"]]
    merged = {"count": count,
              "min": min((h["min"] for h in nonempty), default=None),
              "max": max((h["max"] for h in nonempty), default=None),
              "mean": (sum(float(h.get("mean", 0.0)) * h["count"] for h in nonempty) / count) if count else None,
              "buckets": [[lower, upper, n] for (lower, upper), n in sorted(buckets.items())]}
    for key, q in LATENCY_PERCENTILES:
        merged[key] = histogram_percentile(merged, q)
    if not count:
        merged["undefined"] = {key: "no samples" for key in ("min", "max", "mean", *(k for k, _ in LATENCY_PERCENTILES))}
    return merged


def histogram_ccdf(hist: dict) -> tuple[list[float], list[float]]:
    """(x, y) of the complementary CDF: y[i] is the fraction of samples >= x[i],
    at each bucket's lower bound, plus the maximum (the last sample)."""
    count = hist["count"]
    xs: list[float] = []
    ys: list[float] = []
    if not count:
        return xs, ys
    remaining = count
    for lower, _, n in hist["buckets"]:
        xs.append(float(max(lower, hist["min"])))
        ys.append(remaining / count)
        remaining -= n
    xs.append(float(hist["max"]))
    ys.append(1.0 / count)
    return xs, ys


def point_latency(point: dict) -> dict | None:
    """A point's latency, pooled over its repetitions (from the repetitions,
    not the stored summary): loop, target rate, achieved rates, and one merged
    histogram per kind (None for a kind no repetition has).  None if the
    point has no latency blocks (every scenario but latency, latency_open)."""
    blocks = [rep["latency"] for rep in point["repetitions"] if isinstance(rep.get("latency"), dict)]
    if not blocks:
        return None
    out = {"loop": blocks[0]["loop"], "target_items_per_second": blocks[0].get("target_items_per_second"),
           "achieved_items_per_second": [b["achieved_items_per_second"] for b in blocks
                                         if _is_number(b.get("achieved_items_per_second"))],
           "repetitions": len(blocks)}
    for kind in LATENCY_KINDS:
        out[kind] = merge_histograms(b.get(kind) for b in blocks)
    return out


# --------------------------------------------------------------------------
# handoff statistics, per-role counters, placement (harness/SCHEMA.md
# "Handoff statistics, per-role counters, placement"); all optional fields


HANDOFF_ROLES = ("producer", "merger", "consumer")


def _number_or_none(value: Any) -> float | None:
    return float(value) if _is_number(value) and math.isfinite(float(value)) else None


def repetition_handoff(rep: dict) -> dict | None:
    """The repetition's `handoff` block, or None (ring, baselines, older files).

    A block missing one of the keys a reader relies on is treated as absent.
    """
    block = rep.get("handoff") if isinstance(rep, dict) else None
    if not isinstance(block, dict):
        return None
    for key in ("handoffs", "items", "items_per_handoff", "publishes", "recycle_hits", "merge_backs", "occupancy", "wait_by_role"):
        if key not in block:
            return None
    return block


def point_handoffs(point: dict) -> list[dict]:
    """The handoff blocks of the point's repetitions (possibly empty)."""
    blocks = (repetition_handoff(rep) for rep in point.get("repetitions", []))
    return [b for b in blocks if b is not None]


def handoff_summary(point: dict) -> dict | None:
    """Medians over the repetitions of a point's handoff statistics, and the
    merged items-per-handoff buckets; None when the point has none."""
    blocks = point_handoffs(point)
    if not blocks:
        return None

    def med(values):
        values = [v for v in values if v is not None]
        return stats.median(values) if values else None

    buckets: dict[tuple[int, int], int] = {}
    for b in blocks:
        for lower, upper, count in b["items_per_handoff"].get("buckets", []):
            buckets[(lower, upper)] = buckets.get((lower, upper), 0) + count
    roles = {}
    for role in HANDOFF_ROLES:
        waits = [b["wait_by_role"][role] for b in blocks if role in b["wait_by_role"]]
        if waits:
            roles[role] = {"spin_fraction": med(_number_or_none(w.get("spin_fraction")) for w in waits),
                           "blocked_fraction": med(_number_or_none(w.get("blocked_fraction")) for w in waits),
                           "threads": waits[-1].get("threads")}
    iph = [b["items_per_handoff"] for b in blocks]
    occ = [b["occupancy"] for b in blocks]
    return {
        "repetitions": len(blocks),
        "items_per_handoff_mean": med(_number_or_none(x.get("mean")) for x in iph),
        "items_per_handoff_p50_upper": med(_number_or_none(x.get("p50_upper")) for x in iph),
        "items_per_handoff_p99_upper": med(_number_or_none(x.get("p99_upper")) for x in iph),
        "items_per_handoff_max": max((x.get("max", 0) for x in iph), default=None),
        "buckets": [[lo, hi, n] for (lo, hi), n in sorted(buckets.items())],
        "recycle_hit_rate": med(_number_or_none(b.get("recycle_hit_rate")) for b in blocks),
        "merge_backs": sum(b["merge_backs"] for b in blocks),
        "publishes": sum(b["publishes"] for b in blocks),
        "occupancy_mean_items": med(_number_or_none(o.get("mean_items")) for o in occ),
        "occupancy_max_items": max((o.get("max_items", 0) for o in occ), default=None),
        "capacity_items": occ[-1].get("capacity_items"),
        "series": occ[-1].get("series", {}),  # the last repetition's (as for the thread records)
        "wait_by_role": roles,
    }


def point_placement(point: dict) -> str | None:
    """The placement class a point ran on: its swept class, else the class its
    pinned CPUs were found in, else None."""
    swept = (point.get("params") or {}).get("placement")
    if isinstance(swept, str) and swept:
        return swept
    block = point.get("placement")
    if isinstance(block, dict) and isinstance(block.get("class"), str):
        return block["class"]
    return None


def point_role_counters(point: dict) -> dict[str, dict[str, dict]]:
    """role -> counter -> {"per_item", "per_handoff", "total", "unavailable"}.

    A counter that could not be read has None figures and its reason; it is
    never read as zero.  Points without `cost.counters_by_role` give {}.
    """
    roles = (point.get("cost") or {}).get("counters_by_role")
    if not isinstance(roles, dict):
        return {}
    out: dict[str, dict[str, dict]] = {}
    for role, block in roles.items():
        counters = block.get("counters") if isinstance(block, dict) else None
        if not isinstance(counters, dict):
            continue
        out[role] = {}
        for name, fig in counters.items():
            if not isinstance(fig, dict):
                continue
            total = _number_or_none(fig.get("total"))
            reason = fig.get("unavailable") if total is None else None
            out[role][name] = {"total": total,
                               "per_item": _number_or_none(fig.get("per_item")) if total is not None else None,
                               "per_handoff": _number_or_none(fig.get("per_handoff")) if total is not None else None,
                               "unavailable": (reason or "no value recorded") if total is None else None}
    return out


# --------------------------------------------------------------------------
# command-line plumbing shared by the front ends


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors as a single `prog: error: ...` line."""

    def error(self, message: str):  # type: ignore[override]
        fail(self.prog, message)


def fail(prog: str, message: str, code: int = 2):
    """Print one error line to stderr and exit with `code`."""
    message = " ".join(str(message).split())
    sys.stderr.write(f"{prog}: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def write_atomic(path: str, data: bytes | str) -> None:
    """Write a file via a temporary sibling and rename, never half-written."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
