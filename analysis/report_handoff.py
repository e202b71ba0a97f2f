"""The report's section on handoff statistics, cost, per-role counters and
placement (harness/SCHEMA.md "Handoff statistics, per-role counters,
placement"), used by report.py.

A report section (sections/__init__.py): `compute` (`handoff_section`)
computes plain values, `render_figures` turns them into PNGs,
`document_blocks` into the report's blocks (h2 / p / table / img).  Every part is optional: files without these
fields (older runs, baselines only) give a one-line "no ..." note instead.
"""

from __future__ import annotations

import math
from typing import Any

import plotting  # noqa: E402
import spill_results as sr
import stats

KEY = "handoff"
TITLE = "Handoff statistics, per-role counters, placement"

# At most this many points per distribution / time-series plot (the ones
# with the most merge backs first: they are where the statistics move).
MAX_PLOTTED_POINTS = 8


def _fmt(value: Any, spec: str = ".4g") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100.0 * value:.1f}%"


def _label(point: dict, keys: list[str]) -> str:
    params = point.get("params", {})
    extra = ", ".join(f"{k}={params.get(k)}" for k in keys if k in params)
    return point["scenario"] + (f" ({extra})" if extra else "")


def _varying(points: list[dict]) -> list[str]:
    keys = sorted({k for p in points for k in p.get("params", {})})
    out = []
    for key in keys:
        values = {repr(p.get("params", {}).get(key)) for p in points}
        if len(values) > 1:
            out.append(key)
    return out


def _without_placement(point_id: str) -> str:
    return "|".join(part for part in point_id.split("|") if not part.startswith("placement="))


def _placement_part(inputs: list[tuple[str, dict]], points: list[dict]) -> dict:
    """Throughput by placement class: points that differ only by their class
    side by side.  Says when the machine has one class only."""
    classes_present: list[str] = []
    single = None
    summary = ""
    for _, doc in inputs:
        pl = (doc.get("metadata") or {}).get("placement")
        if isinstance(pl, dict):
            for c in pl.get("classes", []):
                if isinstance(c, dict) and c.get("class") not in classes_present:
                    classes_present.append(c.get("class"))
            if single is None and isinstance(pl.get("single_class"), bool):
                single = pl["single_class"]
                summary = pl.get("summary", "")
    groups: dict[str, dict[str, float]] = {}
    scenario_of: dict[str, str] = {}
    for point in points:
        cls = sr.point_placement(point)
        if cls is None or not point.get("repetitions"):
            continue
        rates = sr.metric_values(point, "items_per_second")
        if not rates:
            continue
        key = _without_placement(point["id"])
        groups.setdefault(key, {})[cls] = stats.median(rates)
        scenario_of[key] = point["scenario"]
    used = sorted({c for g in groups.values() for c in g}, key=lambda c: classes_present.index(c) if c in classes_present else 99)
    if not groups:
        return {"skip": "no point records its placement class (older result files)"}
    if single is None:
        single = len(classes_present) <= 1
    note = ""
    if single:
        note = (f"{summary or 'one placement class on this machine'}: every point ran on the same class, so this machine "
                "cannot show a placement effect; run on a machine with several classes (spill-bench topology lists them)")
    elif len(used) == 1:
        note = f"only class {used[0]} was run; sweep --placement (e.g. --placement all) to compare classes"
    # Keep the groups (configurations) that ran on the most classes first, at most 12.
    keys = sorted(groups, key=lambda k: (-len(groups[k]), k))[:12]
    return {"classes": used, "present": classes_present, "single_class": single, "note": note,
            "groups": [{"id": k, "scenario": scenario_of[k], "by_class": groups[k]} for k in keys]}


def _role_counter_rows(points: list[dict]) -> list[dict]:
    """Median per item / per handoff of each (scenario, role, counter) over the
    scenario's points, or the reason when no point could read it."""
    acc: dict[tuple[str, str, str], dict] = {}
    for point in points:
        for role, counters in sr.point_role_counters(point).items():
            for name, fig in counters.items():
                row = acc.setdefault((point["scenario"], role, name), {"per_item": [], "per_handoff": [], "reason": None})
                if fig["total"] is None:
                    row["reason"] = row["reason"] or fig["unavailable"]
                else:
                    if fig["per_item"] is not None:
                        row["per_item"].append(fig["per_item"])
                    if fig["per_handoff"] is not None:
                        row["per_handoff"].append(fig["per_handoff"])
    order = {r: i for i, r in enumerate(sr.HANDOFF_ROLES)}
    rows = []
    for (scenario, role, name), row in sorted(acc.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9), kv[0][2])):
        rows.append({"scenario": scenario, "role": role, "counter": name,
                     "per_item": stats.median(row["per_item"]) if row["per_item"] else None,
                     "per_handoff": stats.median(row["per_handoff"]) if row["per_handoff"] else None,
                     "unavailable": None if row["per_item"] else (row["reason"] or "no value recorded")})
    # A counter unavailable for the same reason in every scenario and role
    # (a machine without a PMU) is one row, not one per scenario and role.
    collapsed, done = [], set()
    for r in rows:
        name = r["counter"]
        same = [x for x in rows if x["counter"] == name]
        if r["unavailable"] is not None and len(same) > 1 and all(x["unavailable"] == r["unavailable"] for x in same):
            if name not in done:
                done.add(name)
                collapsed.append(dict(r, scenario="every scenario", role="every role"))
            continue
        collapsed.append(r)
    return collapsed


def handoff_section(inputs: list[tuple[str, dict]], points: list[dict]) -> dict:
    """Everything the section shows, as plain values."""
    members = [(p, sr.handoff_summary(p)) for p in points]
    members = [(p, s) for p, s in members if s is not None]
    keys = _varying([p for p, _ in members])
    rows = []
    for point, s in members:
        rows.append({"id": point["id"], "scenario": point["scenario"], "label": _label(point, keys), "summary": s})
    # The most interesting first for the plots: merge backs, then larger occupancy.
    plotted = sorted(rows, key=lambda r: (-(r["summary"]["merge_backs"] or 0), -(r["summary"]["occupancy_max_items"] or 0), r["id"]))
    plotted = plotted[:MAX_PLOTTED_POINTS]
    wait: dict[str, dict[str, dict[str, float]]] = {}
    for point, s in members:
        for role, w in s["wait_by_role"].items():
            cell = wait.setdefault(point["scenario"], {}).setdefault(role, {"spin": [], "blocked": []})
            if w["spin_fraction"] is not None:
                cell["spin"].append(w["spin_fraction"])
            if w["blocked_fraction"] is not None:
                cell["blocked"].append(w["blocked_fraction"])
    # A role whose fractions were never measured has None (undefined), not 0.
    wait_medians = {sc: {role: {"spin": stats.median(v["spin"]),
                                "blocked": stats.median(v["blocked"])}
                         for role, v in roles.items()}
                    for sc, roles in sorted(wait.items())}
    out: dict = {"rows": rows, "plotted": plotted, "wait": wait_medians,
                 "placement": _placement_part(inputs, points), "role_counters": _role_counter_rows(points)}
    if not rows:
        out["skip"] = "no point has handoff statistics (only ring-handing spill scenarios of recent runs have them)"
    return out


def compute(ctx: dict) -> dict:
    return handoff_section(ctx["inputs"], ctx["points"])


# --------------------------------------------------------------------------
# plots


_pyplot = plotting.pyplot
_png = plotting.png


def plot_items_per_handoff(section: dict) -> bytes:
    """Share of handoffs per power-of-two bucket of batch size, one line per point."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.4))
    for row in section["plotted"]:
        buckets = row["summary"]["buckets"]
        total = sum(n for _, _, n in buckets) or 1
        xs = [max(lo, 1) for lo, _, _ in buckets]
        ys = [n / total for _, _, n in buckets]
        ax.plot(xs, ys, marker="o", label=row["label"])
    ax.set_xscale("log", base=2)
    ax.set_xlabel("items per handoff (power-of-two bucket, lower bound; log2)")
    ax.set_ylabel("share of handoffs\nmore items per handoff = cheaper per item")
    ax.set_title("distribution of items per handoff (all repetitions)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


def plot_occupancy(section: dict) -> bytes:
    """Items in the slot's batch after each publish, over time (last repetition)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.4))
    for row in section["plotted"]:
        series = row["summary"]["series"] or {}
        ts = series.get("t_seconds", [])
        ns = series.get("items", [])
        if not ts:
            continue
        cap = row["summary"]["capacity_items"] or 1
        ax.plot([t * 1e3 for t in ts], [n / cap for n in ns], marker=".", linestyle="-", linewidth=0.8, label=row["label"])
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle=":")
    ax.set_xlabel("time since the measured phase began (ms)")
    ax.set_ylabel("ring occupancy at publish (share of capacity)\n1.0 = full: the ring evicts")
    ax.set_title("ring occupancy over time (sampled, last repetition)")
    ax.set_ylim(0, 1.05)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


def plot_wait(section: dict) -> bytes:
    """Spin and blocked fractions per role, stacked, grouped by scenario."""
    plt = _pyplot()
    scenarios = list(section["wait"])
    roles = [r for r in sr.HANDOFF_ROLES if any(r in section["wait"][s] for s in scenarios)]
    width = 0.8 / max(len(roles), 1)
    fig, ax = plt.subplots(figsize=(min(9.6, max(7, 1.2 * len(scenarios) + 2)), 4.4))
    hatches = {"producer": "", "merger": "//", "consumer": ".."}
    for i, role in enumerate(roles):
        xs, spin, blocked = [], [], []
        for g, s in enumerate(scenarios):
            cell = section["wait"][s].get(role)
            if cell is not None and cell["spin"] is not None and cell["blocked"] is not None:
                xs.append(g + (i - (len(roles) - 1) / 2) * width)
                spin.append(section["wait"][s][role]["spin"])
                blocked.append(section["wait"][s][role]["blocked"])
        ax.bar(xs, spin, width=width, color="tab:orange", hatch=hatches.get(role, ""), edgecolor="black", linewidth=0.5,
               label=f"{role}: spinning")
        ax.bar(xs, blocked, width=width, bottom=spin, color="tab:blue", hatch=hatches.get(role, ""), edgecolor="black",
               linewidth=0.5, label=f"{role}: blocked (futex)")
    ax.set_xticks(range(len(scenarios)))
    ax.set_xticklabels(scenarios, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.0)
    ax.set_ylabel("share of the role's thread time\n(rest: working or preempted)")
    ax.set_title("time spent waiting per role (median over the scenario's points)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return _png(fig)


def plot_placement(section: dict) -> bytes:
    """Median throughput of each configuration per placement class."""
    plt = _pyplot()
    part = section["placement"]
    classes = part["classes"]
    groups = part["groups"]
    width = 0.8 / max(len(classes), 1)
    fig, ax = plt.subplots(figsize=(min(9.6, max(7, 1.0 * len(groups) + 3)), 4.4))
    for i, cls in enumerate(classes):
        xs = [g + (i - (len(classes) - 1) / 2) * width for g, grp in enumerate(groups) if cls in grp["by_class"]]
        ys = [grp["by_class"][cls] / 1e6 for grp in groups if cls in grp["by_class"]]
        ax.bar(xs, ys, width=width, label=cls)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([grp["scenario"] + f" #{k + 1}" for k, grp in enumerate(groups)], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("throughput (million items/s, median)\nhigher is better")
    title = "throughput by placement class"
    if part["note"]:
        title += "\n(" + ("one placement class on this machine: no placement effect can be shown" if part["single_class"]
                          else part["note"]) + ")"
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, title="placement class")
    fig.tight_layout()
    return _png(fig)


def render_figures(section: dict) -> dict[str, dict]:
    """name -> {"title", "png"} for each plot the section allows."""
    figures: dict[str, dict] = {}
    if section.get("rows"):
        figures["handoff_items"] = {"title": "Items per handoff", "png": plot_items_per_handoff(section)}
        if any((r["summary"]["series"] or {}).get("t_seconds") for r in section["plotted"]):
            figures["handoff_occupancy"] = {"title": "Ring occupancy over time", "png": plot_occupancy(section)}
        if section["wait"]:
            figures["handoff_wait"] = {"title": "Spinning and blocked per role", "png": plot_wait(section)}
    if section["placement"].get("groups"):
        figures["placement_throughput"] = {"title": "Throughput by placement class", "png": plot_placement(section)}
    return figures


# --------------------------------------------------------------------------
# document blocks


def document_blocks(section: dict, figures: dict[str, dict]) -> list[tuple]:
    blocks: list[tuple] = [("h2", TITLE)]
    if section.get("skip"):
        blocks.append(("p", f"No handoff statistics: {section['skip']}."))
    else:
        blocks.append(("p", "Per point, medians over its repetitions: items per handoff (each batch a collector took "
                            "from a slot; percentiles are upper bounds of power-of-two buckets), the recycle-slot hit rate "
                            "(publishes that found their last batch collected; the rest merged back into it), ring "
                            "occupancy right after each publish, and the share of each role's thread time spent spinning "
                            "or blocked on the futex while waiting. The per-item handoff floor is about two line "
                            "transfers divided by the items per handoff."))
        for name in ("handoff_items", "handoff_occupancy", "handoff_wait"):
            if name in figures:
                blocks.append(("img", name, figures))
        table = []
        for row in section["rows"]:
            s = row["summary"]
            waits = "; ".join(f"{role} {_pct(w['spin_fraction'])} / {_pct(w['blocked_fraction'])}"
                              for role, w in s["wait_by_role"].items())
            table.append([row["label"], _fmt(s["items_per_handoff_mean"]), _fmt(s["items_per_handoff_p99_upper"]),
                          _fmt(s["items_per_handoff_max"]), _pct(s["recycle_hit_rate"]),
                          f"{_fmt(s['occupancy_mean_items'])} / {_fmt(s['occupancy_max_items'])} of {_fmt(s['capacity_items'])}",
                          waits, row["id"]])
        blocks.append(("table", ["point", "items/handoff (mean)", "p99 (≤)", "max", "recycle hits",
                                 "occupancy mean / max", "spin / blocked by role", "point id"], table))
    blocks.append(("p", "Throughput by placement class:"))
    part = section["placement"]
    if part.get("skip"):
        blocks.append(("p", f"No placement comparison: {part['skip']}."))
    else:
        if part["note"]:
            blocks.append(("p", "Note: " + part["note"] + "."))
        if "placement_throughput" in figures:
            blocks.append(("img", "placement_throughput", figures))
        blocks.append(("table", ["#", "configuration"] + [f"{c} (items/s)" for c in part["classes"]],
                       [[str(k + 1), g["id"]] + [_fmt(g["by_class"].get(c), ".4g") for c in part["classes"]]
                        for k, g in enumerate(part["groups"])]))
    blocks.append(("p", "Hardware counters per role (PAPI events summed over the role's threads, median over the "
                        "scenario's points; a counter that cannot be read is shown as unavailable with the reason, never as 0)."))
    if section["role_counters"]:
        blocks.append(("table", ["scenario", "role", "counter", "per item", "per handoff"],
                       [[r["scenario"], r["role"], r["counter"],
                         _fmt(r["per_item"], ".4g") if r["unavailable"] is None else f"unavailable: {r['unavailable']}",
                         _fmt(r["per_handoff"], ".4g") if r["unavailable"] is None else "unavailable"]
                        for r in section["role_counters"]]))
    else:
        blocks.append(("p", "No per-role counters: no point has cost.counters_by_role (older files, or --counters none)."))
    return blocks
