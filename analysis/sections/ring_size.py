"""Ring size: throughput against the ring's capacity (and, for spill-micro's
fan-in, the round size), one line per scenario and the other parameters that
vary with it, all on one log2 axis."""

from __future__ import annotations

import spill_results as sr
from sections import common

KEY = "ring_size"
TITLE = "Ring size"
X_KEYS = (("ring_size", "ring capacity (items, log2)"), ("batch", "items per round / batch (log2)"))


def compute(ctx: dict) -> dict:
    """Per x key, the lines of every scenario (and contender) where it varies."""
    plots = []
    for x_key, xlabel in X_KEYS:
        lines = []
        by_scenario: dict[str, list[dict]] = {}
        for point in ctx["points"]:
            if point["checks"].get("passed") is False or not common.numeric([point["params"].get(x_key)]):
                continue
            contender = (point.get("facts") or {}).get("contender")
            key = point["scenario"] + (f"/{contender}" if contender and contender != point["scenario"] else "")
            by_scenario.setdefault(key, []).append(point)
        for key, members in sorted(by_scenario.items()):
            if len({p["params"][x_key] for p in members}) < 2:
                continue
            for line in common.line_series(members, x_key, common.throughput):
                if len(line["x"]) >= 2:
                    line["label"] = key + ("" if line["label"] == "all points" else f" ({line['label']})")
                    lines.append(line)
        if lines:
            plots.append({"x_key": x_key, "xlabel": xlabel, "lines": lines})
    if not plots:
        return {"skip": "no scenario was measured at two or more ring sizes or batch sizes"}
    return {"plots": plots}


def _plot(entry: dict) -> bytes:
    from matplotlib import ticker
    fig, ax = common.axes(common.WIDE)
    for line in entry["lines"]:
        ax.errorbar(line["x"], [v["median"] / 1e6 for v in line["values"]],
                    yerr=common.error_bars(line["values"], 1e-6), marker="o", capsize=3, label=line["label"])
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(ticker.ScalarFormatter())
    xs = sorted({x for line in entry["lines"] for x in line["x"]})
    ax.legend(fontsize=7, ncol=2 if len(entry["lines"]) > 6 else 1)
    return common.finish(fig, ax, f"throughput vs {entry['x_key']} (median, bars = min/max)",
                         "throughput (million items/s)\nhigher is better", xlabel=entry["xlabel"], xticks=xs,
                         ylim_zero=True, legend=False)


def render_figures(data: dict) -> dict[str, dict]:
    return {f"ring_{e['x_key']}": {"title": f"Throughput vs {e['x_key']}", "png": _plot(e)}
            for e in data.get("plots", [])}


def document_blocks(data: dict, figures: dict[str, dict]) -> list[tuple]:
    blocks: list[tuple] = [("h2", TITLE)]
    if "skip" in data:
        blocks.append(("p", f"No ring-size plot: {data['skip']}."))
        return blocks
    blocks.append(("p", "Median throughput against the ring capacity (a bigger ring evicts less but leaves the "
                        "cache sooner), one line per scenario and the other parameters that vary; error bars span "
                        "min to max. Higher is better."))
    for entry in data["plots"]:
        blocks.append(("img", f"ring_{entry['x_key']}", figures))
        blocks.append(("p", f"Lines: {sr.plural(len(entry['lines']), 'line')} over {entry['x_key']}."))
    return blocks
