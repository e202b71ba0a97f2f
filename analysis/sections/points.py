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
    over: dict[str, int] = {}
    for p in points:
        if p.get("oversubscribed"):
            over[p["scenario"]] = over.get(p["scenario"], 0) + 1
    if over:
        # Counted per scenario: a sweep can have hundreds; the table marks each one.
        per = ", ".join(f"{name} {n}" for name, n in sorted(over.items(), key=lambda kv: (-kv[1], kv[0])))
        notes.append(f"{sr.plural(sum(over.values()), 'point')} ran more threads than logical CPUs (oversubscribed, "
                     f"marked in the table below; {per}): their throughput measures time-sharing as well as the queue")
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
    blocks.append(("table", ["scenario", "median items/s", "min", "max", "CV", "n", "checks", "oversubscribed", "point id"],
                   [[r["scenario"], common.num(r["median"]), common.num(r["min"]), common.num(r["max"]),
                     common.pct(r["cv"]), str(r["n"]), "passed" if r["passed"] else "FAILED",
                     "yes" if r["oversubscribed"] else "", r["id"]]
                    for r in data["rows"]]))
    return blocks
