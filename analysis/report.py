#!/usr/bin/python3
"""Write a Markdown and a self-contained HTML report of spill-bench results.

usage: report.py RESULTS.json [MORE.json ...] -o DIR [--title TEXT]

Writes DIR/report.md (plots referenced as DIR/plots/*.png) and
DIR/report.html (the same plots embedded as base64 data URIs).  Several
input files are read as parts of one run (e.g. shards): their points are
pooled, so a point id may appear only once.  Points whose checks failed are
listed first, in red; points whose repetitions fall into two groups
(measure_stats.bimodality) follow, as a warning.  A plot whose data is absent is replaced by a sentence
saying why.  Exit status 2 and one error line on bad input, and nothing is
written then.
"""

from __future__ import annotations

import base64
import html
import math
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import measure_stats as ms  # noqa: E402
import report_handoff  # noqa: E402
import plotting  # noqa: E402
import spill_results as sr  # noqa: E402
import stats  # noqa: E402

PROG = "report.py"
REFERENCE_SCENARIO = "fan_in"
BASELINE_PREFIX = "baseline_"
BACKPRESSURE_SCENARIO = "backpressure"
MERGERS_SCENARIO = "mpsm"
BACKPRESSURE_FIELDS = ("delivered", "overflowed", "merged_back")
METADATA_FIELDS = (
    ("machine", ("cpu_model", "logical_cpus", "hostname")),
    ("topology", ("topology",)),
    ("kernel", ("kernel",)),
    ("commit", ("commit", "dirty")),
    ("compiler", ("compiler",)),
    ("flags", ("flags",)),
    ("build type", ("build_type",)),
    ("date (UTC)", ("date_utc",)),
    ("command line", ("command_line",)),
    ("seed", ("seed",)),
    ("pinning", ("pin_policy", "pinning_available", "pinning_reason")),
    ("shard", ("shard",)),
    ("counters requested", ("counters",)),
)


# --------------------------------------------------------------------------
# loading


def load_inputs(paths: list[str]) -> list[tuple[str, dict]]:
    """Load every file; they must share a schema version and not repeat ids."""
    inputs: list[tuple[str, dict]] = []
    owner: dict[str, str] = {}
    for path in paths:
        if inputs:
            doc = sr.load(path, expect_schema_version=inputs[0][1]["schema_version"],
                          base_label=inputs[0][0])
        else:
            doc = sr.load(path)
        for point in doc["points"]:
            if point["id"] in owner:
                raise sr.ResultError(f"{path}: point id {point['id']!r} is also in {owner[point['id']]}")
            owner[point["id"]] = path
        inputs.append((path, doc))
    return inputs


# --------------------------------------------------------------------------
# pure data extraction


def _sort_key(value: Any):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def throughput(point: dict) -> dict:
    """median/min/max/n of items_per_second over the point's repetitions."""
    return sr.summarize(sr.metric_values(point, "items_per_second"))


def varying_params(points: list[dict], exclude: tuple[str, ...] = ()) -> list[str]:
    """Parameter names whose value differs between the given points."""
    keys: set[str] = set()
    for point in points:
        keys.update(point["params"])
    varying = []
    for key in sorted(keys):
        if key in exclude:
            continue
        values = {repr(point["params"].get(key)) for point in points}
        if len(values) > 1:
            varying.append(key)
    return varying


def _label(params: dict, keys: list[str]) -> str:
    return ", ".join(f"{key}={params.get(key)}" for key in keys) or "all points"


def line_series(points: list[dict], x_key: str, value) -> list[dict]:
    """Group points into lines along `x_key`.

    A line holds the points that agree on every other varying parameter; its
    label names those parameters.  `value(point)` returns a dict of fields to
    collect per x (e.g. median/min/max).
    """
    group_keys = varying_params(points, exclude=(x_key,))
    lines: dict[str, dict] = {}
    for point in points:
        if x_key not in point["params"]:
            continue
        label = _label(point["params"], group_keys)
        line = lines.setdefault(label, {"label": label, "params": {k: point["params"].get(k) for k in group_keys},
                                        "x": [], "ids": [], "values": []})
        line["x"].append(point["params"][x_key])
        line["ids"].append(point["id"])
        line["values"].append(value(point))
    result = []
    for line in lines.values():
        order = sorted(range(len(line["x"])), key=lambda i: _sort_key(line["x"][i]))
        for field in ("x", "ids", "values"):
            line[field] = [line[field][i] for i in order]
        result.append(line)
    result.sort(key=lambda line: [_sort_key(line["params"][k]) for k in sorted(line["params"])])
    return result


def _numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def throughput_section(points: list[dict]) -> dict:
    """Throughput vs producers and speedup vs 1 producer, per scenario."""
    scenarios = sorted({p["scenario"] for p in points})
    plots, skipped, speedups, speedup_skipped = [], [], [], []
    for scenario in scenarios:
        members = [p for p in points if p["scenario"] == scenario]
        with_producers = [p for p in members if "producers" in p["params"]]
        producer_values = {repr(p["params"]["producers"]) for p in with_producers}
        if not with_producers:
            skipped.append((scenario, "its points have no `producers` parameter"))
            speedup_skipped.append((scenario, "its points have no `producers` parameter"))
            continue
        if not _numeric([p["params"]["producers"] for p in with_producers]):
            skipped.append((scenario, "its `producers` parameter is not numeric"))
            speedup_skipped.append((scenario, "its `producers` parameter is not numeric"))
            continue
        if len(producer_values) < 2:
            only = with_producers[0]["params"]["producers"]
            skipped.append((scenario, f"only producers={only} was measured"))
            speedup_skipped.append((scenario, f"only producers={only} was measured"))
            continue
        lines = line_series(with_producers, "producers", throughput)
        plots.append({"scenario": scenario, "lines": lines})
        speed_lines = []
        for line in lines:
            if 1 not in line["x"]:
                continue
            one = line["values"][line["x"].index(1)]["median"]
            if not one or math.isnan(one):
                continue
            speed_lines.append({"label": line["label"], "x": line["x"],
                                "speedup": [v["median"] / one for v in line["values"]]})
        if speed_lines:
            speedups.append({"scenario": scenario, "lines": speed_lines})
        else:
            speedup_skipped.append((scenario, "no line has a producers=1 point to divide by"))
    return {"plots": plots, "skipped": skipped, "speedup": speedups, "speedup_skipped": speedup_skipped}


def backpressure_section(points: list[dict]) -> dict:
    members = [p for p in points if p["scenario"] == BACKPRESSURE_SCENARIO]
    if not members:
        return {"skip": f"no points of scenario `{BACKPRESSURE_SCENARIO}` in the input"}
    members = [p for p in members if "consumer_delay_ns" in p["params"]]
    if not members or not _numeric([p["params"]["consumer_delay_ns"] for p in members]):
        return {"skip": f"the `{BACKPRESSURE_SCENARIO}` points have no numeric `consumer_delay_ns` parameter"}

    def shares(point: dict) -> dict:
        checks = point["checks"]
        produced = checks.get("produced")
        out = {}
        for field in BACKPRESSURE_FIELDS:
            value = checks.get(field)
            ok = isinstance(value, (int, float)) and isinstance(produced, (int, float)) and produced > 0
            out[field] = 100.0 * value / produced if ok else math.nan
        return out

    lines = line_series(members, "consumer_delay_ns", shares)
    if all(math.isnan(v[f]) for line in lines for v in line["values"] for f in BACKPRESSURE_FIELDS):
        return {"skip": f"the `{BACKPRESSURE_SCENARIO}` points have no produced/delivered/overflowed/merged_back check totals"}
    return {"lines": lines}


def mergers_section(points: list[dict]) -> dict:
    members = [p for p in points if p["scenario"] == MERGERS_SCENARIO]
    if not members:
        return {"skip": f"no points of scenario `{MERGERS_SCENARIO}` in the input"}
    members = [p for p in members if "mergers" in p["params"]]
    if not members or not _numeric([p["params"]["mergers"] for p in members]):
        return {"skip": f"the `{MERGERS_SCENARIO}` points have no numeric `mergers` parameter"}
    return {"lines": line_series(members, "mergers", throughput)}


def _per_item(rep: dict, counter: str) -> float | None:
    value = (rep.get("counters") or {}).get(counter)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    if counter.endswith("_per_item"):
        return float(value)
    items = rep.get("items")
    if not items:
        return None
    return float(value) / float(items)


def counter_unit(counter: str, largest: float = 1.0) -> tuple[float, str]:
    """Scale and axis label for a counter-per-item value whose maximum is `largest`."""
    if counter.endswith("_per_item"):
        return 1.0, counter
    if counter.endswith("_seconds"):
        return 1e9, f"{counter[: -len('_seconds')]} time per item (ns)"
    if 0.0 < abs(largest) < 1e-2:
        return 1e6, f"{counter} per million items"
    return 1.0, f"{counter} per item"


def counters_section(inputs: list[tuple[str, dict]], points: list[dict]) -> dict:
    """Median over a scenario's points of each counter divided by items."""
    names = sorted({name for _, doc in inputs for name in sr.counter_names(doc)})
    values: dict[str, dict[str, float]] = {}
    for name in names:
        per_scenario: dict[str, list[float]] = {}
        for point in points:
            samples = [v for v in (_per_item(rep, name) for rep in point["repetitions"]) if v is not None]
            if samples:
                per_scenario.setdefault(point["scenario"], []).append(stats.median(samples))
        if per_scenario:
            values[name] = {scenario: stats.median(v) for scenario, v in sorted(per_scenario.items())}
    if not values:
        return {"skip": "no repetition has a non-null counter"}
    return {"values": values, "scenarios": sorted({s for v in values.values() for s in v})}


def _reference_for(point: dict, refs: list[dict]) -> tuple[dict | None, str]:
    """The fan_in point a baseline point is compared with, and how it matched."""
    params = point["params"]
    essential = [k for k in ("producers", "ring_size") if k in params]
    best, best_score = None, -1
    for ref in refs:
        if any(k in ref["params"] and ref["params"][k] != params[k] for k in essential):
            continue
        if "producers" in params and "producers" not in ref["params"]:
            continue
        shared = [k for k in params if k in ref["params"]]
        score = sum(1 for k in shared if ref["params"][k] == params[k])
        if score > best_score:
            best, best_score = ref, score
    if best is None:
        return None, ""
    shared = [k for k in params if k in best["params"]]
    differing = [k for k in shared if best["params"][k] != params[k]]
    how = "all shared parameters" if not differing else "producers/ring_size only (differs in " + ", ".join(differing) + ")"
    return best, how


def baselines_section(points: list[dict]) -> dict:
    baselines = [p for p in points if p["scenario"].startswith(BASELINE_PREFIX)]
    refs = [p for p in points if p["scenario"] == REFERENCE_SCENARIO]
    if not baselines:
        return {"skip": f"no `{BASELINE_PREFIX}*` scenarios in the input"}
    if not refs:
        return {"skip": f"no `{REFERENCE_SCENARIO}` points to compare the baselines with"}
    names = sorted({p["scenario"] for p in baselines})
    groups: dict[str, dict] = {}
    unmatched, rows = [], []
    for point in baselines:
        ref, how = _reference_for(point, refs)
        if ref is None:
            unmatched.append(point["id"])
            continue
        group = groups.setdefault(ref["id"], {"ref": ref, "bars": {}})
        if point["scenario"] in group["bars"]:
            unmatched.append(point["id"])
            continue
        group["bars"][point["scenario"]] = point
        tpc, base = throughput(ref)["median"], throughput(point)["median"]
        rows.append({"baseline": point["scenario"], "baseline_id": point["id"], "reference_id": ref["id"],
                     "tpc_median": tpc, "baseline_median": base,
                     "speedup": tpc / base if base else math.nan, "matched_on": how})
    if not groups:
        return {"skip": f"no `{BASELINE_PREFIX}*` point has a `{REFERENCE_SCENARIO}` point with the same producers/ring_size",
                "unmatched": unmatched}
    ref_points = [g["ref"] for g in groups.values()]
    always = [k for k in ("producers", "ring_size") if any(k in p["params"] for p in ref_points)]
    label_keys = always + [k for k in varying_params(ref_points) if k not in always]
    ordered = sorted(groups.values(), key=lambda g: [_sort_key(g["ref"]["params"].get(k)) for k in label_keys])
    out_groups = []
    for group in ordered:
        bars = {REFERENCE_SCENARIO: throughput(group["ref"])}
        for name in names:
            if name in group["bars"]:
                bars[name] = throughput(group["bars"][name])
        out_groups.append({"label": _label(group["ref"]["params"], label_keys), "bars": bars})
    return {"names": [REFERENCE_SCENARIO] + names, "groups": out_groups, "rows": rows, "unmatched": unmatched}


def metadata_rows(inputs: list[tuple[str, dict]]) -> list[tuple[str, list[str]]]:
    """(label, one value per input file) for the metadata block."""
    def text(meta: dict, key: str) -> str:
        value = meta.get(key)
        if key == "counters" and isinstance(value, dict):
            return ", ".join(str(v) for v in value.get("requested") or []) or "none"
        if key == "shard" and isinstance(value, dict):
            return f"{value.get('index')} of {value.get('count')}"
        if key == "dirty":
            return "(uncommitted changes)" if value else ""
        if key == "pinning_available":
            return "" if value is None else ("available" if value else "NOT available")
        if key == "logical_cpus" and value is not None:
            return f"{value} logical CPUs"
        if key == "hostname" and value:
            return f"host {value}"
        return "" if value is None else str(value)
    rows = []
    for label, keys in METADATA_FIELDS:
        cells = []
        for _, doc in inputs:
            parts = [text(doc["metadata"], key) for key in keys]
            cells.append(", ".join(p for p in parts if p) or "unknown")
        rows.append((label, cells))
    return rows


COST_ROLES = ("producer", "merger", "consumer")


def _finite(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _dig(doc: dict, *keys):
    for key in keys:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def floors_cost_section(inputs: list[tuple[str, dict]], points: list[dict]) -> dict:
    """The self-calibrated floors of each file (metadata.floors), each point's
    time per item as a multiple of its floor (summary.floor_multiples), and the
    CPU cost per role (cost.roles). Files written before these fields existed,
    or run with --no-calibrate, simply have none."""
    floors = []
    for path, doc in inputs:
        fl = _dig(doc, "metadata", "floors")
        if not isinstance(fl, dict) or "skipped" in fl or not fl:
            continue
        floors.append({"file": path, "cpus": ",".join(str(c) for c in fl.get("cpus", [])),
                       "ping_pong_ns": _finite(_dig(fl, "ping_pong", "round_trip_ns", "median")),
                       "line_ns": _finite(_dig(fl, "line_transfer", "one_way_ns")),
                       "store_ns": _finite(_dig(fl, "masked_store", "ns_per_store", "median")),
                       "ok": all(_dig(fl, part, "status", "ok") is True for part in ("ping_pong", "line_transfer", "masked_store"))})
    multiples = []
    for point in points:
        fm = _dig(point, "summary", "floor_multiples")
        if not isinstance(fm, dict):
            continue
        if "push_over_masked_store" in fm:
            kind, floor, multiple = "masked store", fm.get("masked_store_ns"), fm.get("push_over_masked_store")
        else:
            kind, floor, multiple = "handoff", fm.get("handoff_floor_per_item_ns"), fm.get("item_over_handoff_floor")
        multiples.append({"id": point["id"], "scenario": point["scenario"], "floor": kind,
                          "ns_per_item": _finite(fm.get("ns_per_item")), "floor_ns": _finite(floor),
                          "multiple": _finite(multiple)})
    per_scenario: dict[str, dict[str, list[float]]] = {}
    for point in points:
        roles = _dig(point, "cost", "roles")
        if not isinstance(roles, dict):
            continue
        for role, rc in roles.items():
            value = _finite(_dig(rc, "cpu_seconds_per_million_items"))
            if role in COST_ROLES and value is not None:
                per_scenario.setdefault(point["scenario"], {}).setdefault(role, []).append(value)
    cost = {scenario: {role: stats.median(v) for role, v in roles.items()} for scenario, roles in sorted(per_scenario.items())}
    if not floors and not multiples and not cost:
        return {"skip": "the input has no floors, floor multiples or cost per role "
                        "(files from before issue 9, or run with --no-calibrate)"}
    return {"floors": floors, "multiples": multiples, "cost": cost,
            "roles": [r for r in COST_ROLES if any(r in v for v in cost.values())]}


LATENCY_SCENARIOS = ("latency", "latency_open")
LATENCY_KIND_TITLES = (("item_ns", "per item (send -> consumer)"),
                       ("handoff_ns", "per handoff (task end -> consumer)"))


def latency_section(points: list[dict]) -> dict:
    """Latency distributions of the points that have them (scenarios
    `latency`, closed loop, and `latency_open`, open loop): the histograms of
    every repetition merged per point, and a row of percentiles per point and
    kind.  Points of other scenarios have no latency blocks."""
    members = [(p, sr.point_latency(p)) for p in points]
    members = [(p, lat) for p, lat in members if lat is not None]
    if not members:
        return {"skip": "no point has latency histograms (run the `latency` or `latency_open` scenario)"}
    keys = varying_params([p for p, _ in members], exclude=("rate_items_per_s",))
    entries, rows = [], []
    for point, lat in members:
        target = lat["target_items_per_second"]
        achieved = stats.median(lat["achieved_items_per_second"]) if lat["achieved_items_per_second"] else math.nan
        label = f"{lat['loop']} loop" + (f" @ {target:g} items/s" if lat["loop"] == "open" and target else "")
        extra = _label(point["params"], keys) if keys else ""
        if extra:
            label += f" ({extra})"
        entries.append({"id": point["id"], "scenario": point["scenario"], "loop": lat["loop"], "label": label,
                        "target": target, "achieved": achieved,
                        "item_ns": lat["item_ns"], "handoff_ns": lat["handoff_ns"], "send_lag_ns": lat["send_lag_ns"]})
        for kind in sr.LATENCY_KINDS:
            hist = lat[kind]
            if hist is None:
                continue
            rows.append({"id": point["id"], "loop": lat["loop"], "kind": kind, "target": target, "achieved": achieved,
                         "count": hist["count"], "p50": hist["p50"], "p99": hist["p99"], "p99_9": hist["p99_9"],
                         "max": hist["max"], "label": label})
    entries.sort(key=lambda e: (e["loop"] != "closed", _sort_key(e["target"] or 0), e["id"]))
    order = {e["id"]: i for i, e in enumerate(entries)}
    rows.sort(key=lambda r: (order[r["id"]], sr.LATENCY_KINDS.index(r["kind"])))
    return {"entries": entries, "rows": rows}


NOISE_CONFIDENCE = 0.95
NOISE_METRIC = "items_per_second"
BIMODAL_WARNING = "repetitions fall into two groups: the median hides which one a rerun would see"


def noise_section(points: list[dict], confidence: float = NOISE_CONFIDENCE,
                  seed: int = ms.DEFAULT_SEED, resamples: int = ms.DEFAULT_RESAMPLES) -> dict:
    """Per point: median items/s, the percentile-bootstrap CI of that median
    (seeded, so the same input gives the same report), CV, n, and whether the
    repetitions fall into two groups (measure_stats.bimodality, which needs
    n >= BIMODALITY_MIN_N).  `status` is "bimodal", "unimodal" or "too few";
    a flagged row also has the two groups (split at the largest gap) with their
    medians and sizes, and its sorted values for the strip plot.  Points are
    labelled by scenario and the parameters that vary within that scenario."""
    if not points:
        return {"skip": "the input has no points"}
    keys = {scenario: varying_params([p for p in points if p["scenario"] == scenario])
            for scenario in {p["scenario"] for p in points}}
    keyed = []
    for point in points:
        values = [v for v in sr.metric_values(point, NOISE_METRIC) if math.isfinite(v)]
        ci = ms.bootstrap_median_ci(values, confidence, resamples=resamples, seed=seed)
        bim = ms.bimodality(values)
        row = {"id": point["id"], "scenario": point["scenario"],
               "label": _label(point["params"], keys[point["scenario"]]) if keys[point["scenario"]]
               else "(the scenario's only point)",
               "median": ci.median, "ci_low": ci.low, "ci_high": ci.high,
               "cv": sr.summarize(values)["cv"], "n": len(values),
               "status": "bimodal" if bim.flag else ("too few" if bim.n < ms.BIMODALITY_MIN_N else "unimodal"),
               "reason": bim.reason, "groups": []}
        if bim.flag:
            row["groups"] = [{"median": stats.median([float(v) for v in group]), "n": int(len(group))}
                             for group in ms.split_at_largest_gap(values)]
            row["values"] = sorted(values)
        keyed.append(((point["scenario"], [_sort_key(point["params"].get(k)) for k in keys[point["scenario"]]],
                       point["id"]), row))
    rows = [row for _, row in sorted(keyed, key=lambda kr: kr[0])]
    return {"rows": rows, "flagged": [r for r in rows if r["status"] == "bimodal"],
            "too_few": sum(1 for r in rows if r["status"] == "too few"),
            "tested": sum(1 for r in rows if r["status"] != "too few"),
            "confidence": confidence, "seed": seed, "resamples": resamples, "min_n": ms.BIMODALITY_MIN_N}


def build_report(inputs: list[tuple[str, dict]], title: str = "spill benchmark report") -> dict:
    """All data the report shows, as plain values (nothing rendered yet)."""
    points = [point for _, doc in inputs for point in doc["points"]]
    failed = [dict(f, file=path) for path, doc in inputs for f in sr.failed_points(doc)]
    notes = []
    over = [p["id"] for p in points if p.get("oversubscribed")]
    if over:
        notes.append(f"{sr.plural(len(over), 'point')} ran more threads than logical CPUs (oversubscribed); "
                     "their throughput measures time-sharing, not the queue: " + "; ".join(over))
    for point in points:
        if not point["repetitions"]:
            notes.append(f"point {point['id']} has no repetitions")
        problems = sr.summary_disagreements(point)
        if problems:
            notes.append(f"point {point['id']}: stored summary differs from its repetitions ({'; '.join(problems)})")
    table = []
    for point in points:
        t = throughput(point)
        table.append({"id": point["id"], "scenario": point["scenario"], "n": t["n"],
                      "median": t["median"], "min": t["min"], "max": t["max"], "cv": t["cv"],
                      "passed": point["checks"].get("passed") is not False,
                      "oversubscribed": bool(point.get("oversubscribed"))})
    return {
        "title": title,
        "files": [path for path, _ in inputs],
        "n_points": len(points),
        "failed": failed,
        "metadata": metadata_rows(inputs),
        "throughput": throughput_section(points),
        "backpressure": backpressure_section(points),
        "mergers": mergers_section(points),
        "baselines": baselines_section(points),
        "counters": counters_section(inputs, points),
        "floors_cost": floors_cost_section(inputs, points),
        "latency": latency_section(points),
        "noise": noise_section(points),
        "handoff": report_handoff.handoff_section(inputs, points),
        "unavailable": sr.unavailable_counters(inputs),
        "notes": notes,
        "points": table,
    }


# --------------------------------------------------------------------------
# plotting (matplotlib, Agg backend); each returns PNG bytes


_pyplot = plotting.pyplot
_png = plotting.png


def _error_bars(values: list[dict], scale: float):
    low = [max(0.0, (v["median"] - v["min"]) * scale) for v in values]
    high = [max(0.0, (v["max"] - v["median"]) * scale) for v in values]
    return [low, high]


def _maybe_log_x(ax, xs: list[float]) -> None:
    positive = [x for x in xs if x > 0]
    if positive and max(positive) / min(positive) >= 100:
        ax.set_xscale("symlog", linthresh=min(positive))


def _axes(figsize: tuple[float, float] = (7, 4.2)):
    """A new figure with one axes: (fig, ax)."""
    return _pyplot().subplots(figsize=figsize)


def _finish(fig, ax, title: str, ylabel: str, xlabel: str | None = None, xticks=None,
            ylim_zero: bool = False, grid_axis: str = "both", legend: bool = True,
            tight: bool = False) -> bytes:
    """The scaffolding every single-axes plot ends with, always in this order:
    title, x label, y label, x ticks, y from 0, grid, legend, tight layout; PNG."""
    ax.set_title(title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if xticks is not None:
        ax.set_xticks(xticks)
    if ylim_zero:
        ax.set_ylim(bottom=0)
    if grid_axis == "both":
        ax.grid(True, alpha=0.3)
    else:
        ax.grid(True, axis=grid_axis, alpha=0.3)
    if legend:
        ax.legend(fontsize=8)
    if tight:
        fig.tight_layout()
    return _png(fig)


def _median_lines_png(lines: list[dict], title: str, xlabel: str) -> bytes:
    """Median throughput (million items/s) per x, min/max error bars, one line each."""
    fig, ax = _axes()
    for line in lines:
        medians = [v["median"] / 1e6 for v in line["values"]]
        ax.errorbar(line["x"], medians, yerr=_error_bars(line["values"], 1e-6), marker="o",
                    capsize=3, label=line["label"])
    return _finish(fig, ax, title, "throughput (million items/s)\nhigher is better", xlabel=xlabel,
                   xticks=sorted({x for line in lines for x in line["x"]}), ylim_zero=True)


def plot_throughput(entry: dict) -> bytes:
    return _median_lines_png(entry["lines"], f"{entry['scenario']}: throughput vs producers (median, bars = min/max)",
                             "producers (threads)")


def plot_speedup(entry: dict) -> bytes:
    fig, ax = _axes()
    xs = sorted({x for line in entry["lines"] for x in line["x"]})
    ax.plot(xs, xs, linestyle="--", color="grey", label="ideal (linear)")
    for line in entry["lines"]:
        ax.plot(line["x"], line["speedup"], marker="o", label=line["label"])
    return _finish(fig, ax, f"{entry['scenario']}: speedup vs 1 producer",
                   "speedup (× throughput at 1 producer)\nhigher is better", xlabel="producers (threads)",
                   xticks=xs, ylim_zero=True)


def plot_backpressure(section: dict) -> bytes:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(BACKPRESSURE_FIELDS), figsize=(12, 3.8), sharex=True)
    xs = [x for line in section["lines"] for x in line["x"]]
    for ax, field in zip(axes, BACKPRESSURE_FIELDS):
        for line in section["lines"]:
            ax.plot(line["x"], [v[field] for v in line["values"]], marker="o", label=line["label"])
        ax.set_title(field)
        ax.set_xlabel("consumer delay per item (ns)")
        ax.set_ylim(-2, 102)
        _maybe_log_x(ax, xs)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("% of produced items")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{BACKPRESSURE_SCENARIO}: where produced items went vs consumer delay "
                 "(a higher delivered share is better)", y=1.03)
    return _png(fig)


def plot_mergers(section: dict) -> bytes:
    return _median_lines_png(section["lines"], f"{MERGERS_SCENARIO}: throughput vs mergers (median, bars = min/max)",
                             "mergers (threads)")


def plot_baselines(section: dict) -> bytes:
    names = section["names"]
    groups = section["groups"]
    width = 0.8 / len(names)
    fig, ax = _axes((max(7, 1.6 * len(groups) + 2), 4.2))
    for i, name in enumerate(names):
        xs, medians, values = [], [], []
        for g, group in enumerate(groups):
            if name in group["bars"]:
                xs.append(g + (i - (len(names) - 1) / 2) * width)
                medians.append(group["bars"][name]["median"] / 1e6)
                values.append(group["bars"][name])
        label = f"{name} (TPC design)" if name == REFERENCE_SCENARIO else name
        ax.bar(xs, medians, width=width, yerr=_error_bars(values, 1e-6), capsize=3, label=label)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g["label"] for g in groups], fontsize=8)
    return _finish(fig, ax, "TPC design vs baseline queues on the same job (median, bars = min/max)",
                   "throughput (million items/s)\nhigher is better", grid_axis="y")


def plot_counters(section: dict) -> bytes:
    plt = _pyplot()
    names = list(section["values"])
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        scenarios = list(section["values"][name])
        largest = max((abs(v) for v in section["values"][name].values()), default=0.0)
        scale, label = counter_unit(name, largest)
        ax.bar(range(len(scenarios)), [section["values"][name][s] * scale for s in scenarios])
        ax.set_xticks(range(len(scenarios)))
        ax.set_xticklabels(scenarios, rotation=30, ha="right", fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel(f"{label}\nlower is better", fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    fig.suptitle("counters per item by scenario (median over the scenario's points)")
    fig.tight_layout()
    return _png(fig)


def plot_cost_per_role(section: dict) -> bytes:
    scenarios = list(section["cost"])
    roles = section["roles"]
    width = 0.8 / max(len(roles), 1)
    fig, ax = _axes((max(7, 1.1 * len(scenarios) + 2), 4.2))
    for i, role in enumerate(roles):
        xs = [g + (i - (len(roles) - 1) / 2) * width for g, s in enumerate(scenarios) if role in section["cost"][s]]
        ys = [section["cost"][s][role] for s in scenarios if role in section["cost"][s]]
        ax.bar(xs, ys, width=width, label=role)
    ax.set_xticks(range(len(scenarios)))
    ax.set_xticklabels(scenarios, rotation=30, ha="right", fontsize=8)
    return _finish(fig, ax, "CPU cost per role (median over the scenario's points)",
                   "CPU-seconds per million items\nlower is better", grid_axis="y", tight=True)


LATENCY_MARKS = (("p50", "o"), ("p99", "s"), ("p99_9", "^"), ("max", "X"))


def plot_latency(section: dict) -> bytes:
    """CCDF of each point's latency on log-log axes (closed loop solid, open
    loop dashed), p50/p99/p99.9/max marked on each curve."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(LATENCY_KIND_TITLES), figsize=(13, 4.6), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (kind, title) in zip(axes.flat, LATENCY_KIND_TITLES):
        drawn = 0
        for index, entry in enumerate(section["entries"]):
            hist = entry[kind]
            if not hist or not hist["count"]:
                continue
            xs, ys = sr.histogram_ccdf(hist)
            color = colors[index % len(colors)]
            style = "-" if entry["loop"] == "closed" else "--"
            ax.step([max(x, 1.0) / 1e3 for x in xs], ys, where="post", linestyle=style, color=color, label=entry["label"])
            for key, marker in LATENCY_MARKS:
                value = max(float(hist[key]), 1.0)
                above = sum(n for lower, _, n in hist["buckets"] if lower >= value) if key != "max" else 1
                ax.plot([value / 1e3], [max(above, 1) / hist["count"]], marker=marker, color=color, linestyle="none",
                        markersize=6, markeredgecolor="black")
            drawn += 1
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{title}", fontsize=10)
        ax.set_xlabel("latency (µs, log)")
        ax.set_ylabel("fraction of samples ≥ latency (log)\nlower and further left is better")
        ax.grid(True, which="both", alpha=0.3)
        if drawn:
            ax.legend(fontsize=7, loc="lower left")
        else:
            ax.text(0.5, 0.5, "no samples", transform=ax.transAxes, ha="center")
    fig.suptitle("latency CCDF: closed loop (solid) vs open loop (dashed); "
                 "markers: p50 ○, p99 □, p99.9 △, max ✕")
    fig.tight_layout()
    return _png(fig)


def plot_noise_bimodal(section: dict) -> bytes:
    """Strip plot of each flagged point's repetitions (one row per point):
    dots = repetitions, | = median, bar = bootstrap CI of the median,
    diamonds = the medians of the two groups."""
    flagged = section["flagged"]
    fig, ax = _axes((8, max(2.4, 0.7 * len(flagged) + 1.4)))
    for row_index, row in enumerate(flagged):
        y = len(flagged) - 1 - row_index
        jitter = [((i % 5) - 2) * 0.06 for i in range(len(row["values"]))]
        ax.plot([v / 1e6 for v in row["values"]], [y + j for j in jitter], "o", color="C0", alpha=0.7,
                label="repetition" if row_index == 0 else None)
        ax.plot([row["ci_low"] / 1e6, row["ci_high"] / 1e6], [y - 0.3, y - 0.3], color="C1", linewidth=3,
                label=f"{section['confidence']:.0%} CI of the median" if row_index == 0 else None)
        ax.plot([row["median"] / 1e6], [y - 0.3], "|", color="black", markersize=14, markeredgewidth=2,
                label="median" if row_index == 0 else None)
        ax.plot([g["median"] / 1e6 for g in row["groups"]], [y + 0.3] * len(row["groups"]), "D", color="C3",
                label="group medians" if row_index == 0 else None)
    ax.set_yticks(range(len(flagged)))
    ax.set_yticklabels([f"{r['scenario']}: {r['label']}" for r in reversed(flagged)], fontsize=8)
    ax.set_ylim(-0.8, len(flagged) - 0.2)
    return _finish(fig, ax, "bimodal points: every repetition", "",
                   xlabel="throughput (million items/s), higher is better", grid_axis="x", tight=True)


def render_figures(data: dict) -> dict[str, dict]:
    """name -> {"title", "png"} for every plot the data allows."""
    figures: dict[str, dict] = {}
    for entry in data["throughput"]["plots"]:
        figures[f"throughput_{entry['scenario']}"] = {
            "title": f"Throughput vs producers: {entry['scenario']}", "png": plot_throughput(entry)}
    for entry in data["throughput"]["speedup"]:
        figures[f"speedup_{entry['scenario']}"] = {
            "title": f"Speedup vs 1 producer: {entry['scenario']}", "png": plot_speedup(entry)}
    if "lines" in data["backpressure"]:
        figures["backpressure"] = {"title": "Backpressure", "png": plot_backpressure(data["backpressure"])}
    if "lines" in data["mergers"]:
        figures["mergers"] = {"title": "Mergers scaling", "png": plot_mergers(data["mergers"])}
    if "groups" in data["baselines"]:
        figures["baselines"] = {"title": "TPC vs baselines", "png": plot_baselines(data["baselines"])}
    if "values" in data["counters"]:
        figures["counters_per_item"] = {"title": "Counters per item", "png": plot_counters(data["counters"])}
    if data["floors_cost"].get("cost"):
        figures["cost_per_role"] = {"title": "Cost per role", "png": plot_cost_per_role(data["floors_cost"])}
    if data["latency"].get("entries"):
        figures["latency"] = {"title": "Latency distributions", "png": plot_latency(data["latency"])}
    if data["noise"].get("flagged"):
        figures["noise_bimodal"] = {"title": "Bimodal points", "png": plot_noise_bimodal(data["noise"])}
    figures.update(report_handoff.render_figures(data["handoff"]))
    return figures


# --------------------------------------------------------------------------
# document assembly: a neutral list of blocks rendered to Markdown or HTML


def _num(value: float, spec: str = ".4g") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


def _pct(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value * 100:.1f}%"


def _noise_groups(row: dict) -> str:
    """"groups at A items/s (k of n) and B items/s (n-k of n)", or "" when not flagged."""
    if not row["groups"]:
        return ""
    return "groups at " + " and ".join(f"{_num(g['median'])} items/s ({g['n']} of {row['n']})" for g in row["groups"])


NOISE_STATUS_TEXT = {"bimodal": "BIMODAL", "unimodal": "no", "too few": "too few repetitions to test"}


def noise_blocks(noise: dict, figures: dict[str, dict]) -> list[tuple]:
    """The "Noise" section: CI table, bimodality flags, strip plot of flagged points."""
    blocks: list[tuple] = [("h2", "Noise: medians, confidence intervals, bimodal points")]
    if "skip" in noise:
        blocks.append(("p", f"No noise table: {noise['skip']}."))
        return blocks
    level = f"{noise['confidence']:.0%}"
    blocks.append(("p", f"Per point: the median items/s of the repetitions with a {level} percentile-bootstrap "
                        f"confidence interval of the median ({noise['resamples']} resamples, seed {noise['seed']}: "
                        "the same input always gives the same interval; with few repetitions it is coarse), "
                        "the CV, and whether the repetitions fall into two groups (Sarle's bimodality "
                        "coefficient plus a gap of at least "
                        f"{ms.BIMODALITY_MIN_GAP_SD:g} within-group standard deviations with at least 2 "
                        f"repetitions on each side; the test needs n >= {noise['min_n']})."))
    flagged = len(noise["flagged"])
    parts = []
    if noise["tested"]:
        parts.append(f"bimodal: {flagged} of the {sr.plural(noise['tested'], 'point')} with at least "
                     f"{noise['min_n']} repetitions")
    if noise["too_few"]:
        parts.append(f"{sr.plural(noise['too_few'], 'point')} with fewer than {noise['min_n']} repetitions: "
                     "too few repetitions to test, which says nothing either way (10 or more detect "
                     "well-separated groups reliably)")
    text = "; ".join(parts)
    blocks.append(("p", text[:1].upper() + text[1:] + "."))
    if "noise_bimodal" in figures:
        blocks.append(("p", f"Bimodal points, every repetition: {BIMODAL_WARNING}."))
        blocks.append(("img", "noise_bimodal", figures))
    blocks.append(("table", ["scenario", "point", "median items/s", f"{level} CI of the median", "CV", "n",
                             "bimodal", "groups (median, repetitions)"],
                   [[r["scenario"], r["label"], _num(r["median"]),
                     f"{_num(r['ci_low'])} .. {_num(r['ci_high'])}", _pct(r["cv"]), str(r["n"]),
                     NOISE_STATUS_TEXT[r["status"]], _noise_groups(r) or "-"] for r in noise["rows"]]))
    return blocks


def document_blocks(data: dict, figures: dict[str, dict]) -> list[tuple]:
    """The report as blocks: ("h1"|"h2"|"p"|"failed"|"warning"|"table"|"img"|"list", ...)."""
    blocks: list[tuple] = [("h1", data["title"])]
    if data["failed"]:
        items = []
        for f in data["failed"]:
            detail = f["message"] or "checks.passed is false"
            if f["failed_repetitions"]:
                detail += f" (failed repetitions: {', '.join(str(i) for i in f['failed_repetitions'])})"
            items.append((f["id"], detail, f["file"]))
        blocks.append(("failed", f"FAILED CHECKS: {sr.plural(len(items), 'point')} failed correctness checks; "
                                 "their measurements are not valid", items))
    else:
        blocks.append(("p", f"All {sr.plural(data['n_points'], 'point')} passed their correctness checks."))
    if data["noise"].get("flagged"):
        blocks.append(("warning", f"WARNING ({sr.plural(len(data['noise']['flagged']), 'point')}): {BIMODAL_WARNING}.",
                       [(r["id"], f"{_noise_groups(r)}; median {_num(r['median'])} items/s", r["scenario"])
                        for r in data["noise"]["flagged"]]))
    blocks.append(("p", "Input: " + ", ".join(data["files"]) + f" ({sr.plural(data['n_points'], 'point')})."))

    blocks.append(("h2", "Run metadata"))
    header = ["field"] + (data["files"] if len(data["files"]) > 1 else ["value"])
    blocks.append(("table", header, [[label] + cells for label, cells in data["metadata"]]))

    blocks.append(("h2", "Throughput vs producers"))
    blocks.append(("p", "Median items per second over the repetitions; error bars span min to max. "
                        "One line per ring size (and any other parameter that varies). Higher is better."))
    for entry in data["throughput"]["plots"]:
        blocks.append(("img", f"throughput_{entry['scenario']}", figures))
    for scenario, reason in data["throughput"]["skipped"]:
        blocks.append(("p", f"No throughput-vs-producers plot for `{scenario}`: {reason}."))
    if not data["throughput"]["plots"] and not data["throughput"]["skipped"]:
        blocks.append(("p", "No plot: the input has no points."))

    blocks.append(("h2", "Speedup vs 1 producer"))
    blocks.append(("p", "Median throughput divided by the median at producers=1 on the same line; "
                        "the dashed line is linear scaling. Higher is better."))
    for entry in data["throughput"]["speedup"]:
        blocks.append(("img", f"speedup_{entry['scenario']}", figures))
    for scenario, reason in data["throughput"]["speedup_skipped"]:
        blocks.append(("p", f"No speedup plot for `{scenario}`: {reason}."))
    if not data["throughput"]["speedup"] and not data["throughput"]["speedup_skipped"]:
        blocks.append(("p", "No plot: the input has no points."))

    blocks.append(("h2", "Backpressure"))
    if "lines" in data["backpressure"]:
        blocks.append(("p", f"Totals over all repetitions of scenario `{BACKPRESSURE_SCENARIO}`, as a share "
                            "of produced items, against the consumer's delay per item."))
        blocks.append(("img", "backpressure", figures))
    else:
        blocks.append(("p", f"No backpressure plot: {data['backpressure']['skip']}."))

    blocks.append(("h2", "Mergers scaling"))
    if "lines" in data["mergers"]:
        blocks.append(("p", f"Scenario `{MERGERS_SCENARIO}`: median throughput against the number of mergers, "
                            "one line per producer count. Higher is better."))
        blocks.append(("img", "mergers", figures))
    else:
        blocks.append(("p", f"No mergers plot: {data['mergers']['skip']}."))

    blocks.append(("h2", "TPC design vs baseline queues"))
    base = data["baselines"]
    if "groups" in base:
        blocks.append(("p", f"Each `{BASELINE_PREFIX}*` point next to the `{REFERENCE_SCENARIO}` point with the same "
                            "producers and ring size. Higher is better; speedup = TPC / baseline."))
        blocks.append(("img", "baselines", figures))
        blocks.append(("table", ["baseline", "TPC median (items/s)", "baseline median (items/s)",
                                 "speedup (TPC/baseline)", "matched on", "baseline point"],
                       [[r["baseline"], _num(r["tpc_median"]), _num(r["baseline_median"]),
                         _num(r["speedup"], ".2f"), r["matched_on"], r["baseline_id"]] for r in base["rows"]]))
    else:
        blocks.append(("p", f"No baseline comparison: {base['skip']}."))
    if base.get("unmatched"):
        blocks.append(("p", "Baseline points without a comparable (or with an already used) "
                            f"`{REFERENCE_SCENARIO}` point: " + "; ".join(base["unmatched"]) + "."))

    blocks.append(("h2", "Counters per item"))
    if "values" in data["counters"]:
        blocks.append(("p", "Each available counter divided by the items of its repetition (counters already "
                            "named `*_per_item` are shown as they are), median per point, then median over "
                            "the scenario's points. Lower is better."))
        blocks.append(("img", "counters_per_item", figures))
    else:
        blocks.append(("p", f"No counters plot: {data['counters']['skip']}."))

    blocks.append(("h2", "Floors and cost"))
    fc = data["floors_cost"]
    if "skip" in fc:
        blocks.append(("p", f"No floors or cost: {fc['skip']}."))
    else:
        if fc["floors"]:
            blocks.append(("p", "Floors self-calibrated before the run on the CPUs it pins to: ping-pong round trip, "
                                "one-way cache-line transfer, masked store (median ns)."))
            blocks.append(("table", ["file", "cpus", "ping-pong round trip (ns)", "one-way line transfer (ns)",
                                     "masked store (ns/store)", "all ok"],
                           [[f["file"], f["cpus"], _num(f["ping_pong_ns"]), _num(f["line_ns"]), _num(f["store_ns"]),
                             "yes" if f["ok"] else "no"] for f in fc["floors"]]))
        else:
            blocks.append(("p", "No floors table: no file has calibrated floors (run without --no-calibrate)."))
        if fc["multiples"]:
            blocks.append(("p", "Median time per item as a multiple of its floor: handoff scenarios against "
                                "2 line transfers per handoff spread over the items of the handoff; `ring` against "
                                "the masked store. Lower is closer to the hardware."))
            blocks.append(("table", ["scenario", "floor", "ns per item", "floor (ns per item)", "multiple", "point id"],
                           [[m["scenario"], m["floor"], _num(m["ns_per_item"]), _num(m["floor_ns"]),
                             _num(m["multiple"]), m["id"]] for m in fc["multiples"]]))
        if fc["cost"]:
            blocks.append(("p", "CPU-seconds per million items for each role (summed over the role's threads), "
                                "median over the scenario's points. Lower is better."))
            blocks.append(("img", "cost_per_role", figures))
        else:
            blocks.append(("p", "No cost-per-role chart: no point has cost.roles."))

    blocks.append(("h2", "Latency distributions"))
    lat = data["latency"]
    if "skip" in lat:
        blocks.append(("p", f"No latency plot: {lat['skip']}."))
    else:
        blocks.append(("p", "Scenario `latency` (closed loop: items stamped when pushed, the next round starts when "
                            "the previous is done) and `latency_open` (open loop: items paced at the target rate and "
                            "stamped with their intended send time, so a stall is charged to every item due during "
                            "it). Per item: consumer receipt minus stamp; per handoff: consumer receipt of a batch's "
                            "first item minus the end of the worker's task. Histograms of all repetitions merged. "
                            "Lower is better."))
        blocks.append(("img", "latency", figures))
        blocks.append(("table", ["loop", "latency", "target (items/s)", "achieved (items/s)", "samples",
                                 "p50 (µs)", "p99 (µs)", "p99.9 (µs)", "max (µs)", "point id"],
                       [[r["loop"], r["kind"], _num(r["target"]) if r["target"] else "-", _num(r["achieved"]),
                         str(r["count"]), _num(r["p50"] / 1e3), _num(r["p99"] / 1e3), _num(r["p99_9"] / 1e3),
                         _num(r["max"] / 1e3), r["id"]] for r in lat["rows"]]))

    blocks.extend(report_handoff.document_blocks(data["handoff"], figures))
    blocks.append(("h2", "Unavailable counters"))
    if data["unavailable"]:
        blocks.append(("table", ["counter", "why it is unavailable"],
                       [[name, reason] for name, reason in data["unavailable"].items()]))
    else:
        blocks.append(("p", "Every requested counter was available."))

    if data["notes"]:
        blocks.append(("h2", "Notes"))
        blocks.append(("list", data["notes"]))

    blocks.extend(noise_blocks(data["noise"], figures))

    blocks.append(("h2", "All points"))
    blocks.append(("table", ["scenario", "median items/s", "min", "max", "CV", "n", "checks", "point id"],
                   [[r["scenario"], _num(r["median"]), _num(r["min"]), _num(r["max"]), _pct(r["cv"]),
                     str(r["n"]), "passed" if r["passed"] else "FAILED", r["id"]] for r in data["points"]]))
    return blocks


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: list[tuple], plot_dir: str = "plots") -> str:
    out: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind == "h1":
            out.append(f"# {block[1]}\n")
        elif kind == "h2":
            out.append(f"## {block[1]}\n")
        elif kind == "p":
            out.append(f"{block[1]}\n")
        elif kind == "failed":
            out.append("## FAILED CHECKS\n")
            out.append(f"**{block[1]}**\n")
            out.extend(f"- **FAILED** `{ident}`: {detail} (in {path})" for ident, detail, path in block[2])
            out.append("")
        elif kind == "warning":
            out.append("## WARNING: BIMODAL POINTS\n")
            out.append(f"**{block[1]}**\n")
            out.extend(f"- **BIMODAL** `{ident}`: {detail} (scenario `{scenario}`)" for ident, detail, scenario in block[2])
            out.append("")
        elif kind == "list":
            out.extend(f"- {item}" for item in block[1])
            out.append("")
        elif kind == "table":
            header, rows = block[1], block[2]
            out.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
            out.append("|" + "---|" * len(header))
            out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows)
            out.append("")
        elif kind == "img":
            name, figures = block[1], block[2]
            out.append(f"![{figures[name]['title']}]({plot_dir}/{name}.png)\n")
    return "\n".join(out)


HTML_STYLE = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #eee; }
img { max-width: 100%; }
code { font-size: 0.9em; }
.failed-checks { border: 3px solid #c00000; background: #ffe6e6; color: #c00000; padding: 0.5em 1em; margin: 1em 0; }
.failed-checks h2 { color: #c00000; margin-top: 0.3em; }
.failed-row td { color: #c00000; font-weight: bold; }
.noise-warning { border: 3px solid #b36b00; background: #fff4e0; color: #7a4a00; padding: 0.5em 1em; margin: 1em 0; }
.noise-warning h2 { color: #7a4a00; margin-top: 0.3em; }
.bimodal-row td { color: #7a4a00; font-weight: bold; }
"""


def render_html(blocks: list[tuple]) -> str:
    esc = html.escape
    title = next(block[1] for block in blocks if block[0] == "h1")
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{esc(title)}</title><style>{HTML_STYLE}</style></head><body>"]
    for block in blocks:
        kind = block[0]
        if kind == "h1":
            out.append(f"<h1>{esc(block[1])}</h1>")
        elif kind == "h2":
            out.append(f"<h2>{esc(block[1])}</h2>")
        elif kind == "p":
            out.append(f"<p>{esc(block[1])}</p>")
        elif kind == "failed":
            out.append('<div class="failed-checks" style="border:3px solid #c00000;background:#ffe6e6;color:#c00000">')
            out.append("<h2>FAILED CHECKS</h2>")
            out.append(f"<p><strong>{esc(block[1])}</strong></p><ul>")
            out.extend(f'<li style="color:#c00000"><strong>FAILED</strong> <code>{esc(ident)}</code>: '
                       f'{esc(detail)} (in {esc(path)})</li>' for ident, detail, path in block[2])
            out.append("</ul></div>")
        elif kind == "warning":
            out.append('<div class="noise-warning" style="border:3px solid #b36b00;background:#fff4e0;color:#7a4a00">')
            out.append("<h2>WARNING: BIMODAL POINTS</h2>")
            out.append(f"<p><strong>{esc(block[1])}</strong></p><ul>")
            out.extend(f'<li><strong>BIMODAL</strong> <code>{esc(ident)}</code>: {esc(detail)} '
                       f'(scenario <code>{esc(scenario)}</code>)</li>' for ident, detail, scenario in block[2])
            out.append("</ul></div>")
        elif kind == "list":
            out.append("<ul>" + "".join(f"<li>{esc(item)}</li>" for item in block[1]) + "</ul>")
        elif kind == "table":
            header, rows = block[1], block[2]
            out.append("<table><tr>" + "".join(f"<th>{esc(str(h))}</th>" for h in header) + "</tr>")
            for row in rows:
                cls = ' class="failed-row"' if "FAILED" in row else (' class="bimodal-row"' if "BIMODAL" in row else "")
                out.append(f"<tr{cls}>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>")
            out.append("</table>")
        elif kind == "img":
            name, figures = block[1], block[2]
            encoded = base64.b64encode(figures[name]["png"]).decode("ascii")
            out.append(f'<figure><img alt="{esc(figures[name]["title"])}" '
                       f'src="data:image/png;base64,{encoded}"></figure>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_report(out_dir: str, markdown: str, html_text: str, figures: dict[str, dict]) -> list[str]:
    """Write report.md, report.html and plots/*.png; each file atomically."""
    plot_dir = os.path.join(out_dir, "plots")
    os.makedirs(plot_dir, exist_ok=True)
    written = []
    for name, figure in figures.items():
        path = os.path.join(plot_dir, f"{name}.png")
        sr.write_atomic(path, figure["png"])
        written.append(path)
    for name, text in (("report.md", markdown), ("report.html", html_text)):
        path = os.path.join(out_dir, name)
        sr.write_atomic(path, text)
        written.append(path)
    return written


def build_parser() -> sr.OneLineArgumentParser:
    parser = sr.OneLineArgumentParser(prog=PROG, description="Write report.md and report.html from spill-bench results.")
    parser.add_argument("results", nargs="+", metavar="RESULTS.json")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--title", default="spill benchmark report")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        sr.fail(PROG, f"-o {args.output}: exists and is not a directory")
    parent = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(parent):
        sr.fail(PROG, f"-o {args.output}: parent directory {parent} does not exist")
    try:
        inputs = load_inputs(args.results)
    except sr.ResultError as err:
        sr.fail(PROG, str(err))
    data = build_report(inputs, title=args.title)
    figures = render_figures(data)
    blocks = document_blocks(data, figures)
    markdown = render_markdown(blocks)
    html_text = render_html(blocks)
    try:
        written = write_report(args.output, markdown, html_text, figures)
    except OSError as err:
        sr.fail(PROG, f"-o {args.output}: cannot write: {err.strerror or err}")
    sys.stdout.write(f"report: wrote {written[-2]} and {written[-1]} ({sr.plural(len(figures), 'plot')})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
