"""Every point: notes (oversubscribed points, summaries that disagree with
their repetitions) and the table of all points."""

from __future__ import annotations

import spill_results as sr
from sections import common

KEY = "points"
TITLE = "All points"


def compute(ctx: dict) -> dict:
    points = ctx["points"]
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
        t = common.throughput(point)
        table.append({"id": point["id"], "scenario": point["scenario"], "n": t["n"],
                      "median": t["median"], "min": t["min"], "max": t["max"], "cv": t["cv"],
                      "passed": point["checks"].get("passed") is not False,
                      "oversubscribed": bool(point.get("oversubscribed"))})
    return {"notes": notes, "rows": table}


def render_figures(data: dict) -> dict[str, dict]:
    return {}


def document_blocks(data: dict, figures: dict[str, dict]) -> list[tuple]:
    blocks: list[tuple] = [("h2", TITLE)]
    if data["notes"]:
        blocks.append(("h3", "Notes"))
        blocks.append(("list", data["notes"]))
    blocks.append(("table", ["scenario", "median items/s", "min", "max", "CV", "n", "checks", "point id"],
                   [[r["scenario"], common.num(r["median"]), common.num(r["min"]), common.num(r["max"]),
                     common.pct(r["cv"]), str(r["n"]), "passed" if r["passed"] else "FAILED", r["id"]]
                    for r in data["rows"]]))
    return blocks
