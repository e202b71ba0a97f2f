"""Scaling: throughput and speedup against producers, and against mergers for
`mpsm`; each plot holds the lines that belong together."""

from __future__ import annotations

import math

import facts
import spill_results as sr
import stats
from sections import common, headline

KEY = "throughput"
TITLE = "Scaling with producers and mergers"

MERGERS_SCENARIO = "mpsm"


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
        if not common.numeric([p["params"]["producers"] for p in with_producers]):
            skipped.append((scenario, "its `producers` parameter is not numeric"))
            speedup_skipped.append((scenario, "its `producers` parameter is not numeric"))
            continue
        if len(producer_values) < 2:
            only = with_producers[0]["params"]["producers"]
            skipped.append((scenario, f"only producers={only} was measured"))
            speedup_skipped.append((scenario, f"only producers={only} was measured"))
            continue
        lines = common.line_series(with_producers, "producers", common.throughput)
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


def mergers_section(points: list[dict]) -> dict:
    members = [p for p in points if p["scenario"] == MERGERS_SCENARIO]
    if not members:
        return {"skip": f"no points of scenario `{MERGERS_SCENARIO}` in the input"}
    members = [p for p in members if "mergers" in p["params"]]
    if not members or not common.numeric([p["params"]["mergers"] for p in members]):
        return {"skip": f"the `{MERGERS_SCENARIO}` points have no numeric `mergers` parameter"}
    return {"lines": common.line_series(members, "mergers", common.throughput)}


def plot_mergers(section: dict) -> bytes:
    return common.median_lines_png(section["lines"], f"{MERGERS_SCENARIO}: throughput vs mergers (median, bars = min/max)",
                             "mergers (threads)")



GROUP_TITLES = (("job", "the N -> 1 job, every contender"),
                ("part", "spill's other scenarios and job shapes"))


def _line_name(point: dict) -> str:
    f = facts.point_facts(point)
    contender = (point.get("facts") or {}).get("contender")
    name = point["scenario"] + (f"/{contender}" if contender and contender != point["scenario"] else "")
    extras = [x for x in (("slow consumer" if f["slow_consumer"] else ""),
                          ("busy neighbour" if f["busy_neighbours"] else "")) if x]
    return name + (f" ({', '.join(extras)})" if extras else "")


def combined_groups(points: list[dict]) -> list[dict]:
    """Plots that hold the lines belonging together: one line per scenario (and
    contender), at each producer count its best configuration; one plot for
    the contenders of the common job, one for the rest."""
    by_line: dict[tuple[str, str], list[dict]] = {}
    for point in points:
        producers = point["params"].get("producers")
        if not common.numeric([producers]) or point["checks"].get("passed") is False:
            continue
        label = facts.job_label(facts.point_facts(point))
        if label in ("1 -> 1", "P -> 1"):
            if headline.lost_items(point) > 0:
                continue   # as in the headline: its items per second count items the consumer never got
            kind = "job"
        else:
            kind = "part"
        by_line.setdefault((kind, _line_name(point)), []).append(point)
    groups = []
    for kind, title in GROUP_TITLES:
        lines = [common.best_line(name, pts, "producers") for (k, name), pts in sorted(by_line.items()) if k == kind]
        lines = [line for line in lines if len(line["x"]) >= 2]
        if lines:
            groups.append({"kind": kind, "title": title, "lines": lines})
    return groups


def compute(ctx: dict) -> dict:
    data = throughput_section(ctx["points"])
    data["groups"] = combined_groups(ctx["points"])
    speed = []
    for group in data["groups"]:
        for line in group["lines"]:
            if 1 in line["x"]:
                one = line["values"][line["x"].index(1)]["median"]
                if one and not math.isnan(one):
                    speed.append({"label": line["label"], "x": line["x"],
                                  "speedup": [v["median"] / one for v in line["values"]]})
    data["combined_speedup"] = speed
    data["mergers"] = mergers_section(ctx["points"])
    return data


def plot_combined_speedup(lines: list[dict]) -> bytes:
    fig, ax = common.axes(common.NARROW)
    xs = sorted({x for line in lines for x in line["x"]})
    ax.plot(xs, xs, linestyle="--", color="grey", label="ideal (linear)")
    for line in lines:
        ax.plot(line["x"], line["speedup"], marker="o", label=line["label"])
    return common.finish(fig, ax, "speedup vs 1 producer (best configuration at each count)",
                         "speedup (x throughput at 1 producer)\nhigher is better", xlabel="producers (threads)",
                         xticks=xs, ylim_zero=True)


def render_figures(data: dict) -> dict[str, dict]:
    figures: dict[str, dict] = {}
    for group in data["groups"]:
        figures[f"scaling_{group['kind']}"] = {
            "title": f"Throughput vs producers: {group['title']}",
            "png": common.median_lines_png(group["lines"], f"throughput vs producers: {group['title']}",
                                           "producers (threads)", figsize=common.WIDE)}
    if data["combined_speedup"]:
        figures["speedup"] = {"title": "Speedup vs 1 producer", "png": plot_combined_speedup(data["combined_speedup"])}
    if "lines" in data["mergers"]:
        figures["mergers"] = {"title": "Mergers scaling", "png": plot_mergers(data["mergers"])}
    return figures


def document_blocks(data: dict, figures: dict[str, dict]) -> list[tuple]:
    blocks: list[tuple] = [("h2", TITLE)]
    blocks.append(("p", "Median items per second over the repetitions; error bars span min to max. One line per "
                        "scenario (and contender); at each producer count the line takes the configuration with the "
                        "highest median (ring size, rounds, mergers), so a line shows what the scenario can do with "
                        "that many producers. The N -> 1 plot holds every contender of that job and, as in the "
                        "headline, leaves out configurations that lost items to overflow; the other plot holds "
                        "spill's other scenarios (mpsm, backpressure, pool, stream, ...) as measured. Higher is better."))
    for group in data["groups"]:
        blocks.append(("img", f"scaling_{group['kind']}", figures))
    if not data["groups"]:
        blocks.append(("p", "No throughput-vs-producers plot: no scenario was measured at two or more producer counts."))
    for scenario, reason in data["skipped"]:
        blocks.append(("p", f"No throughput-vs-producers line for `{scenario}`: {reason}."))
    blocks.append(("h3", "Speedup vs 1 producer"))
    if "speedup" in figures:
        blocks.append(("p", "Median throughput divided by the median at producers=1 on the same line; "
                            "the dashed line is linear scaling. Higher is better."))
        blocks.append(("img", "speedup", figures))
    else:
        blocks.append(("p", "No speedup plot: no line has a producers=1 point and another producer count."))
    blocks.append(("h3", "Mergers"))
    if "lines" in data["mergers"]:
        blocks.append(("p", f"Scenario `{MERGERS_SCENARIO}`: median throughput against the number of mergers, "
                            "one line per producer count. Higher is better."))
        blocks.append(("img", "mergers", figures))
    else:
        blocks.append(("p", f"No mergers plot: {data['mergers']['skip']}."))
    return blocks
