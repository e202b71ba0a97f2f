"""Helpers the report sections share: formatting, grouping points into
lines, and the scaffolding of a matplotlib plot."""

from __future__ import annotations

import math
from typing import Any

import plotting
import spill_results as sr
import stats

UNDEFINED = "undefined"


def num(value: Any, spec: str = ".4g") -> str:
    """A number for a table; None or nan (undefined) is written as such, never as 0."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNDEFINED
    return format(value, spec)


def pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNDEFINED
    return f"{value * 100:.1f}%"


def sort_key(value: Any):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def throughput(point: dict) -> dict:
    """median/min/max/cv/n of items_per_second over the point's repetitions."""
    return sr.summarize(sr.metric_values(point, "items_per_second"))


def median_or_none(point: dict, metric: str = "items_per_second") -> float | None:
    return stats.median(sr.metric_values(point, metric))


def varying_params(points: list[dict], exclude: tuple[str, ...] = ()) -> list[str]:
    """Parameter names whose value differs between the given points."""
    keys: set[str] = set()
    for point in points:
        keys.update(point["params"])
    varying = []
    for key in sorted(keys):
        if key in exclude:
            continue
        if len({repr(point["params"].get(key)) for point in points}) > 1:
            varying.append(key)
    return varying


def label(params: dict, keys: list[str]) -> str:
    """`ring_size=1024, batch=512`: the point's values of `keys`; a key the
    point lacks (spill-micro's unpinned fan-ins have no `consumer`) is left out."""
    return ", ".join(f"{key}={params[key]}" for key in keys if key in params) or "all points"


def line_series(points: list[dict], x_key: str, value) -> list[dict]:
    """Group points into lines along `x_key`: a line holds the points that
    agree on every other varying parameter, and its label names them.
    `value(point)` gives the fields collected per x."""
    group_keys = varying_params(points, exclude=(x_key,))
    lines: dict[str, dict] = {}
    for point in points:
        if x_key not in point["params"]:
            continue
        name = label(point["params"], group_keys)
        line = lines.setdefault(name, {"label": name, "params": {k: point["params"].get(k) for k in group_keys},
                                       "x": [], "ids": [], "values": []})
        line["x"].append(point["params"][x_key])
        line["ids"].append(point["id"])
        line["values"].append(value(point))
    result = []
    for line in lines.values():
        order = sorted(range(len(line["x"])), key=lambda i: sort_key(line["x"][i]))
        for field in ("x", "ids", "values"):
            line[field] = [line[field][i] for i in order]
        result.append(line)
    result.sort(key=lambda line: [sort_key(line["params"][k]) for k in sorted(line["params"])])
    return result


def best_line(name: str, points: list[dict], x_key: str) -> dict:
    """One line over `x_key`: at each x the point with the highest median
    throughput among the given points (the best configuration there)."""
    best: dict[Any, tuple[float, dict]] = {}
    for point in points:
        x = point["params"].get(x_key)
        med = median_or_none(point)
        if x is None or med is None:
            continue
        if x not in best or med > best[x][0]:
            best[x] = (med, point)
    xs = sorted(best, key=sort_key)
    return {"label": name, "x": xs, "ids": [best[x][1]["id"] for x in xs],
            "values": [throughput(best[x][1]) for x in xs]}


# ---------------------------------------------------------------- plotting

pyplot = plotting.pyplot
png = plotting.png
# Plots are drawn for a laptop screen: at most 9.6 x 5.4 inches at 100 dpi.
WIDE = (9.6, 4.6)
NARROW = (8.0, 4.2)


def axes(figsize: tuple[float, float] = NARROW):
    return pyplot().subplots(figsize=figsize)


def finish(fig, ax, title: str, ylabel: str, xlabel: str | None = None, xticks=None,
           ylim_zero: bool = False, grid_axis: str = "both", legend: bool = True, tight: bool = False) -> bytes:
    """Title, labels, ticks, y from 0, grid, legend, tight layout; PNG bytes."""
    ax.set_title(title, fontsize=10)
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
    return png(fig)


def error_bars(values: list[dict], scale: float):
    low = [max(0.0, (v["median"] - v["min"]) * scale) for v in values]
    high = [max(0.0, (v["max"] - v["median"]) * scale) for v in values]
    return [low, high]


def median_lines_png(lines: list[dict], title: str, xlabel: str, log2_x: bool = False,
                     figsize: tuple[float, float] = NARROW) -> bytes:
    """Median throughput (million items/s) per x with min/max error bars, one line each."""
    fig, ax = axes(figsize)
    for line in lines:
        medians = [v["median"] / 1e6 for v in line["values"]]
        ax.errorbar(line["x"], medians, yerr=error_bars(line["values"], 1e-6), marker="o",
                    capsize=3, label=line["label"])
    if log2_x:
        ax.set_xscale("log", base=2)
    xs = sorted({x for line in lines for x in line["x"]})
    return finish(fig, ax, title, "throughput (million items/s)\nhigher is better", xlabel=xlabel,
                  xticks=xs, ylim_zero=True)
