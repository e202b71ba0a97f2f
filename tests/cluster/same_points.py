#!/usr/bin/python3
"""Does a merged sweep hold exactly the points of the same sweep run in one process?

usage: same_points.py --merged MERGED.json --single SINGLE.json [--host HOST] SHARD.json...

SHARD.json are the shard files in shard order (shard i of n is the i-th).
Checks, each problem one line on stdout, exit 1 if any:

* SINGLE.json (one process, grid order) and MERGED.json have the same point
  ids, each once, with the same scenario and parameters, and every point of
  both passed its checks (checks.passed);
* shard i holds exactly the points p % n == i of the one-process run (its
  points in grid order), and says so (metadata.shard);
* MERGED.json records one merged_from entry per shard; with --host, every
  shard ran on HOST, and the report's hosts section (analysis/sections/
  hosts.py) puts every point on HOST and stays hidden (one host).

Exit status 0 when all hold, 1 when one does not, 2 on bad input (one line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

ROOT = os.environ.get("SPILL_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "analysis"))

from sections import hosts  # noqa: E402

PROG = "same_points.py"


def _ids(doc: dict) -> list[str]:
    return [point["id"] for point in doc["points"]]


def _duplicates(ids: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({i for i in ids if i in seen or seen.add(i)})


def compare(merged: dict, single: dict, shards: list[dict], host: str | None = None) -> list[str]:
    """Every way MERGED differs from SINGLE (and the shards from the sharding
    rule), as one line each; empty when they agree."""
    problems: list[str] = []
    if not single["points"]:
        problems.append("the one-process run has no points")
    for name, doc in (("merged", merged), ("one-process", single)):
        for dup in _duplicates(_ids(doc)):
            problems.append(f"{name} file holds point {dup} more than once")
        for point in doc["points"]:
            if point.get("checks", {}).get("passed") is not True:
                problems.append(f"{name} file: point {point['id']} did not pass its checks")
    by_id = {point["id"]: point for point in merged["points"]}
    want = {point["id"]: point for point in single["points"]}
    for ident in sorted(want.keys() - by_id.keys()):
        problems.append(f"merged file lacks point {ident}")
    for ident in sorted(by_id.keys() - want.keys()):
        problems.append(f"merged file has point {ident}, which the one-process run does not")
    for ident in sorted(want.keys() & by_id.keys()):
        for key in ("scenario", "params"):
            if by_id[ident].get(key) != want[ident].get(key):
                problems.append(f"point {ident}: {key} {by_id[ident].get(key)!r} in the merged file, "
                                f"{want[ident].get(key)!r} in the one-process run")
    n = len(shards)
    for i, shard in enumerate(shards):
        expect = [ident for p, ident in enumerate(_ids(single)) if p % n == i]
        if sorted(_ids(shard)) != sorted(expect):
            problems.append(f"shard {i}/{n} holds {sorted(_ids(shard))}, the points p % {n} == {i} are {sorted(expect)}")
        meta = shard["metadata"].get("shard")
        if meta != {"index": i, "count": n}:
            problems.append(f"shard {i}/{n} records metadata.shard {meta!r}")
    merged_from = merged["metadata"].get("merged_from")
    if not isinstance(merged_from, list) or len(merged_from) != n:
        problems.append(f"merged file records metadata.merged_from {merged_from!r}, expected {n} entries")
    elif host is not None:
        for entry in merged_from:
            got = (entry.get("provenance") or {}).get("host")
            if got != host:
                problems.append(f"merged_from {entry.get('file')!r} ran on host {got!r}, expected {host!r}")
        section = hosts.hosts_section([("merged.json", merged)])
        placed = {row["host"] for row in section["rows"]}
        if section["shown"] or placed != {host}:
            problems.append(f"the report's hosts section puts the points on {sorted(placed)} "
                            f"(shown: {section['shown']}), expected all on {host!r} and hidden")
    return problems


def _load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError) as err:
        sys.stderr.write(f"{PROG}: {path}: cannot read a result file: {err}\n")
        sys.exit(2)
    if not isinstance(doc, dict) or not isinstance(doc.get("points"), list) or not isinstance(doc.get("metadata"), dict):
        sys.stderr.write(f"{PROG}: {path}: not a spill-bench result file (no points or metadata)\n")
        sys.exit(2)
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Check a merged sweep against the same sweep in one process.")
    parser.add_argument("--merged", required=True, metavar="MERGED.json")
    parser.add_argument("--single", required=True, metavar="SINGLE.json")
    parser.add_argument("--host", help="the host every shard must have run on")
    parser.add_argument("shards", nargs="+", metavar="SHARD.json")
    args = parser.parse_args(argv)
    single = _load(args.single)
    problems = compare(_load(args.merged), single, [_load(path) for path in args.shards], args.host)
    for line in problems:
        print(f"{PROG}: {line}")
    if problems:
        return 1
    print(f"{PROG}: the merged file holds exactly the {len(single['points'])} points of the one-process run, "
          f"all passed; {len(args.shards)} shards, each its p % n share")
    return 0


if __name__ == "__main__":
    sys.exit(main())
