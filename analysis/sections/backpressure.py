"""Backpressure: where the produced items went (delivered, overflowed, merged
back) as the consumer slows down, one line per delay mode and producer count."""

from __future__ import annotations

import math

import spill_results as sr
import stats
from sections import common

KEY = "backpressure"
TITLE = "Backpressure"

BACKPRESSURE_SCENARIO = "backpressure"


BACKPRESSURE_FIELDS = ("delivered", "overflowed", "merged_back")
# Where each share is read from: the item count of merge backs is `merged_items`
# in current files and `merged_back` in older ones.
CHECK_KEYS = {"merged_back": ("merged_items", "merged_back")}


def backpressure_section(points: list[dict]) -> dict:
    members = [p for p in points if p["scenario"] == BACKPRESSURE_SCENARIO]
    if not members:
        return {"skip": f"no points of scenario `{BACKPRESSURE_SCENARIO}` in the input"}
    members = [p for p in members if "consumer_delay_ns" in p["params"]]
    if not members or not common.numeric([p["params"]["consumer_delay_ns"] for p in members]):
        return {"skip": f"the `{BACKPRESSURE_SCENARIO}` points have no numeric `consumer_delay_ns` parameter"}

    def shares(point: dict) -> dict:
        checks = point["checks"]
        produced = checks.get("produced")
        out = {}
        for field in BACKPRESSURE_FIELDS:
            value = next((checks[k] for k in CHECK_KEYS.get(field, (field,)) if k in checks), None)
            ok = isinstance(value, (int, float)) and isinstance(produced, (int, float)) and produced > 0
            out[field] = 100.0 * value / produced if ok else math.nan
        return out

    lines = common.line_series(members, "consumer_delay_ns", shares)
    if all(math.isnan(v[f]) for line in lines for v in line["values"] for f in BACKPRESSURE_FIELDS):
        return {"skip": f"the `{BACKPRESSURE_SCENARIO}` points have no produced/delivered/overflowed/merged_back check totals"}
    return {"lines": lines}


def _maybe_log_x(ax, xs: list[float]) -> None:
    positive = [x for x in xs if x > 0]
    if positive and max(positive) / min(positive) >= 100:
        ax.set_xscale("symlog", linthresh=min(positive))


def plot_backpressure(section: dict) -> bytes:
    plt = common.pyplot()
    fig, axes = plt.subplots(1, len(BACKPRESSURE_FIELDS), figsize=(9.6, 3.6), sharex=True)
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
    return common.png(fig)



def compute(ctx: dict) -> dict:
    return backpressure_section(ctx["points"])


def render_figures(data: dict) -> dict[str, dict]:
    if "lines" not in data:
        return {}
    return {"backpressure": {"title": "Backpressure", "png": plot_backpressure(data)}}


def document_blocks(data: dict, figures: dict[str, dict]) -> list[tuple]:
    blocks: list[tuple] = [("h2", TITLE)]
    if "lines" in data:
        blocks.append(("p", f"Totals over all repetitions of scenario `{BACKPRESSURE_SCENARIO}`, as a share "
                            "of produced items, against the consumer's delay per item; one line per delay mode "
                            "and producer count. A higher delivered share is better."))
        blocks.append(("img", "backpressure", figures))
    else:
        blocks.append(("p", f"No backpressure plot: {data['skip']}."))
    return blocks
