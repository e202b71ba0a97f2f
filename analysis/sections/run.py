"""The run: machine, topology, kernel, commit, compiler, flags, date, command
line, seed, pinning, shard and requested counters, one column per file."""

from __future__ import annotations

import math

import spill_results as sr
import stats
from sections import common

KEY = "metadata"
TITLE = "Run metadata"

METADATA_FIELDS = (
    ("machine", ("cpu_model", "logical_cpus", "hostname")),
    ("topology", ("topology",)),
    ("kernel", ("kernel",)),
    ("commit", ("commit", "dirty")),
    ("compiler", ("compiler",)),
    ("flags", ("flags",)),
    ("build type", ("build_type",)),
    ("date (UTC)", ("date_utc",)),
    ("command line", ("command_line",)),
    ("seed", ("seed",)),
    ("pinning", ("pin_policy", "pinning_available", "pinning_reason")),
    ("shard", ("shard",)),
    ("counters requested", ("counters",)),
)


def metadata_rows(inputs: list[tuple[str, dict]]) -> list[tuple[str, list[str]]]:
    """(label, one value per input file) for the metadata block."""
    def text(meta: dict, key: str) -> str:
        value = meta.get(key)
        if key == "counters" and isinstance(value, dict):
            return ", ".join(str(v) for v in value.get("requested") or []) or "none"
        if key == "shard" and isinstance(value, dict):
            return f"{value.get('index')} of {value.get('count')}"
        if key == "dirty":
            return "(uncommitted changes)" if value else ""
        if key == "pinning_available":
            return "" if value is None else ("available" if value else "NOT available")
        if key == "logical_cpus" and value is not None:
            return f"{value} logical CPUs"
        if key == "hostname" and value:
            return f"host {value}"
        return "" if value is None else str(value)
    rows = []
    for label, keys in METADATA_FIELDS:
        cells = []
        for _, doc in inputs:
            parts = [text(doc["metadata"], key) for key in keys]
            cells.append(", ".join(p for p in parts if p) or "unknown")
        rows.append((label, cells))
    return rows



def compute(ctx: dict) -> dict:
    return {"rows": metadata_rows(ctx["inputs"]), "files": [path for path, _ in ctx["inputs"]]}


def render_figures(data: dict) -> dict[str, dict]:
    return {}


def document_blocks(data: dict, figures: dict[str, dict]) -> list[tuple]:
    header = ["field"] + (data["files"] if len(data["files"]) > 1 else ["value"])
    return [("h2", TITLE), ("table", header, [[name] + cells for name, cells in data["rows"]])]
