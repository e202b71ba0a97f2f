"""Cost: the self-calibrated floors, time per item as a multiple of its floor,
CPU cost per role, counters per item, and the counters that could not be read."""

from __future__ import annotations

import math

import spill_results as sr
import stats
from sections import common

KEY = "floors_cost"
TITLE = "Cost: floors, CPU per role, counters"

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
                        "(files written before spill-bench recorded them, or run with --no-calibrate)"}
    return {"floors": floors, "multiples": multiples, "cost": cost,
            "roles": [r for r in COST_ROLES if any(r in v for v in cost.values())]}


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


def plot_counters(section: dict) -> bytes:
    plt = common.pyplot()
    names = list(section["values"])
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
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
    return common.png(fig)


def plot_cost_per_role(section: dict) -> bytes:
    scenarios = list(section["cost"])
    roles = section["roles"]
    width = 0.8 / max(len(roles), 1)
    fig, ax = common.axes((min(9.6, max(7, 1.1 * len(scenarios) + 2)), 4.2))
    for i, role in enumerate(roles):
        xs = [g + (i - (len(roles) - 1) / 2) * width for g, s in enumerate(scenarios) if role in section["cost"][s]]
        ys = [section["cost"][s][role] for s in scenarios if role in section["cost"][s]]
        ax.bar(xs, ys, width=width, label=role)
    ax.set_xticks(range(len(scenarios)))
    ax.set_xticklabels(scenarios, rotation=30, ha="right", fontsize=8)
    return common.finish(fig, ax, "CPU cost per role (median over the scenario's points)",
                   "CPU-seconds per million items\nlower is better", grid_axis="y", tight=True)



def compute(ctx: dict) -> dict:
    data = floors_cost_section(ctx["inputs"], ctx["points"])
    data["counters"] = counters_section(ctx["inputs"], ctx["points"])
    data["unavailable"] = sr.unavailable_counters(ctx["inputs"])
    return data


def render_figures(data: dict) -> dict[str, dict]:
    figures: dict[str, dict] = {}
    if data.get("cost"):
        figures["cost_per_role"] = {"title": "Cost per role", "png": plot_cost_per_role(data)}
    if "values" in data["counters"]:
        figures["counters_per_item"] = {"title": "Counters per item", "png": plot_counters(data["counters"])}
    return figures


def document_blocks(data: dict, figures: dict[str, dict]) -> list[tuple]:
    blocks: list[tuple] = [("h2", TITLE)]
    if "skip" in data:
        blocks.append(("p", f"No floors or cost: {data['skip']}."))
    else:
        if data["floors"]:
            blocks.append(("p", "Floors self-calibrated before the run on the CPUs it pins to: ping-pong round trip, "
                                "one-way cache-line transfer, masked store (median ns)."))
            blocks.append(("table", ["file", "cpus", "ping-pong round trip (ns)", "one-way line transfer (ns)",
                                     "masked store (ns/store)", "all ok"],
                           [[f["file"], f["cpus"], common.num(f["ping_pong_ns"]), common.num(f["line_ns"]),
                             common.num(f["store_ns"]), "yes" if f["ok"] else "no"] for f in data["floors"]]))
        else:
            blocks.append(("p", "No floors table: no file has calibrated floors (run without --no-calibrate)."))
        if data["multiples"]:
            blocks.append(("p", "Median time per item as a multiple of its floor: handoff scenarios against "
                                "2 line transfers per handoff spread over the items of the handoff; `ring` against "
                                "the masked store. Lower is closer to the hardware."))
            blocks.append(("table", ["scenario", "floor", "ns per item", "floor (ns per item)", "multiple", "point id"],
                           [[m["scenario"], m["floor"], common.num(m["ns_per_item"]), common.num(m["floor_ns"]),
                             common.num(m["multiple"]), m["id"]] for m in data["multiples"]]))
        if data["cost"]:
            blocks.append(("p", "CPU-seconds per million items for each role (summed over the role's threads), "
                                "median over the scenario's points. Lower is better."))
            blocks.append(("img", "cost_per_role", figures))
        else:
            blocks.append(("p", "No cost-per-role chart: no point has cost.roles."))
    blocks.append(("h3", "Counters per item"))
    if "values" in data["counters"]:
        blocks.append(("p", "Each available counter divided by the items of its repetition (counters already "
                            "named `*_per_item` are shown as they are), median per point, then median over "
                            "the scenario's points. Lower is better."))
        blocks.append(("img", "counters_per_item", figures))
    else:
        blocks.append(("p", f"No counters plot: {data['counters']['skip']}."))
    blocks.append(("h3", "Unavailable counters"))
    if data["unavailable"]:
        blocks.append(("table", ["counter", "why it is unavailable"],
                       [[name, reason] for name, reason in data["unavailable"].items()]))
    else:
        blocks.append(("p", "Every requested counter was available."))
    return blocks
