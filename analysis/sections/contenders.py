"""Head to head on equal terms: each baseline queue point next to the spill
`fan_in` point with the same producers and ring size (grouped bars, table)."""

from __future__ import annotations

import math

import spill_results as sr
import stats
from sections import common

KEY = "baselines"
TITLE = "TPC design vs baseline queues on equal terms"

REFERENCE_SCENARIO = "fan_in"


BASELINE_PREFIX = "baseline_"


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
        tpc, base = common.throughput(ref)["median"], common.throughput(point)["median"]
        rows.append({"baseline": point["scenario"], "baseline_id": point["id"], "reference_id": ref["id"],
                     "tpc_median": tpc, "baseline_median": base,
                     "speedup": tpc / base if base else math.nan, "matched_on": how})
    if not groups:
        return {"skip": f"no `{BASELINE_PREFIX}*` point has a `{REFERENCE_SCENARIO}` point with the same producers/ring_size",
                "unmatched": unmatched}
    ref_points = [g["ref"] for g in groups.values()]
    always = [k for k in ("producers", "ring_size") if any(k in p["params"] for p in ref_points)]
    label_keys = always + [k for k in common.varying_params(ref_points) if k not in always]
    ordered = sorted(groups.values(), key=lambda g: [common.sort_key(g["ref"]["params"].get(k)) for k in label_keys])
    out_groups = []
    for group in ordered:
        bars = {REFERENCE_SCENARIO: common.throughput(group["ref"])}
        for name in names:
            if name in group["bars"]:
                bars[name] = common.throughput(group["bars"][name])
        out_groups.append({"label": common.label(group["ref"]["params"], label_keys), "bars": bars})
    return {"names": [REFERENCE_SCENARIO] + names, "groups": out_groups, "rows": rows, "unmatched": unmatched}


def plot_baselines(section: dict) -> bytes:
    names = section["names"]
    groups = section["groups"]
    width = 0.8 / len(names)
    fig, ax = common.axes((min(9.6, max(7, 1.6 * len(groups) + 2)), 4.2))
    for i, name in enumerate(names):
        xs, medians, values = [], [], []
        for g, group in enumerate(groups):
            if name in group["bars"]:
                xs.append(g + (i - (len(names) - 1) / 2) * width)
                medians.append(group["bars"][name]["median"] / 1e6)
                values.append(group["bars"][name])
        label = f"{name} (TPC design)" if name == REFERENCE_SCENARIO else name
        ax.bar(xs, medians, width=width, yerr=common.error_bars(values, 1e-6), capsize=3, label=label)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([g["label"] for g in groups], fontsize=8)
    return common.finish(fig, ax, "TPC design vs baseline queues on the same job (median, bars = min/max)",
                   "throughput (million items/s)\nhigher is better", grid_axis="y")



def compute(ctx: dict) -> dict:
    return baselines_section(ctx["points"])


def render_figures(data: dict) -> dict[str, dict]:
    if "groups" not in data:
        return {}
    return {"baselines": {"title": "TPC vs baselines", "png": plot_baselines(data)}}


def document_blocks(data: dict, figures: dict[str, dict]) -> list[tuple]:
    blocks: list[tuple] = [("h2", TITLE)]
    if "groups" in data:
        blocks.append(("p", f"Each `{BASELINE_PREFIX}*` point next to the `{REFERENCE_SCENARIO}` point with the same "
                            "producers and ring size (the headline instead takes each contender at its best). "
                            "Higher is better; speedup = TPC / baseline."))
        blocks.append(("img", "baselines", figures))
        blocks.append(("table", ["baseline", "TPC median (items/s)", "baseline median (items/s)",
                                 "speedup (TPC/baseline)", "matched on", "baseline point"],
                       [[r["baseline"], common.num(r["tpc_median"]), common.num(r["baseline_median"]),
                         common.num(r["speedup"], ".2f"), r["matched_on"], r["baseline_id"]] for r in data["rows"]]))
    else:
        blocks.append(("p", f"No baseline comparison: {data['skip']}."))
    if data.get("unmatched"):
        blocks.append(("p", "Baseline points without a comparable (or with an already used) "
                            f"`{REFERENCE_SCENARIO}` point: " + "; ".join(data["unmatched"]) + "."))
    return blocks
