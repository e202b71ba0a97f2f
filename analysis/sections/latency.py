"""Latency distributions of the `latency` (closed loop) and `latency_open`
(open loop) scenarios: CCDFs of every point on one pair of axes."""

from __future__ import annotations

import math

import spill_results as sr
import stats
from sections import common

KEY = "latency"
TITLE = "Latency distributions"

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
    keys = common.varying_params([p for p, _ in members], exclude=("rate_items_per_s",))
    entries, rows = [], []
    for point, lat in members:
        target = lat["target_items_per_second"]
        achieved = stats.median(lat["achieved_items_per_second"]) if lat["achieved_items_per_second"] else math.nan
        label = f"{lat['loop']} loop" + (f" @ {target:g} items/s" if lat["loop"] == "open" and target else "")
        extra = common.label(point["params"], keys) if keys else ""
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
    entries.sort(key=lambda e: (e["loop"] != "closed", common.sort_key(e["target"] or 0), e["id"]))
    order = {e["id"]: i for i, e in enumerate(entries)}
    rows.sort(key=lambda r: (order[r["id"]], sr.LATENCY_KINDS.index(r["kind"])))
    return {"entries": entries, "rows": rows}


LATENCY_MARKS = (("p50", "o"), ("p99", "s"), ("p99_9", "^"), ("max", "X"))


def plot_latency(section: dict) -> bytes:
    """CCDF of each point's latency on log-log axes (closed loop solid, open
    loop dashed), p50/p99/p99.9/max marked on each curve."""
    plt = common.pyplot()
    fig, axes = plt.subplots(1, len(LATENCY_KIND_TITLES), figsize=(9.6, 4.4), squeeze=False)
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
    return common.png(fig)



def compute(ctx: dict) -> dict:
    return latency_section(ctx["points"])


def render_figures(data: dict) -> dict[str, dict]:
    if not data.get("entries"):
        return {}
    return {"latency": {"title": "Latency distributions", "png": plot_latency(data)}}


def document_blocks(data: dict, figures: dict[str, dict]) -> list[tuple]:
    blocks: list[tuple] = [("h2", TITLE)]
    if "skip" in data:
        blocks.append(("p", f"No latency plot: {data['skip']}."))
        return blocks
    blocks.append(("p", "Scenario `latency` (closed loop: items stamped when pushed, the next round starts when "
                        "the previous is done) and `latency_open` (open loop: items paced at the target rate and "
                        "stamped with their intended send time, so a stall is charged to every item due during "
                        "it). Per item: consumer receipt minus stamp; per handoff: consumer receipt of a batch's "
                        "first item minus the end of the worker's task. Histograms of all repetitions merged. "
                        "Lower is better."))
    blocks.append(("img", "latency", figures))
    blocks.append(("table", ["loop", "latency", "target (items/s)", "achieved (items/s)", "samples",
                             "p50 (µs)", "p99 (µs)", "p99.9 (µs)", "max (µs)", "point id"],
                   [[r["loop"], r["kind"], common.num(r["target"]) if r["target"] else "-", common.num(r["achieved"]),
                     str(r["count"]), common.num(r["p50"] / 1e3), common.num(r["p99"] / 1e3),
                     common.num(r["p99_9"] / 1e3), common.num(r["max"] / 1e3), r["id"]] for r in data["rows"]]))
    return blocks
