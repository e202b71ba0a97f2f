#!/usr/bin/python3
"""Convert a spill-bench result file to Google Benchmark's JSON format.

usage: to_gbench.py RESULTS.json -o OUT.json

One `run_type: iteration` entry per point and repetition (time per item as
real_time/cpu_time in ns, items_per_second, ns_per_item and the
repetition's counters), then mean/median/stddev/cv aggregates per point
with 2 or more repetitions; gbench.py documents the mapping.  Google
Benchmark's tools/compare.py then compares two sweeps as it compares two
micro-benchmark runs:

    compare.py benchmarks base.gbench.json candidate.gbench.json

Exit status 2 and one error line on bad input; nothing is written then.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gbench  # noqa: E402
import spill_results as sr  # noqa: E402

PROG = "to_gbench.py"


def build_parser() -> sr.OneLineArgumentParser:
    parser = sr.OneLineArgumentParser(prog=PROG, description="Convert spill-bench results to Google Benchmark JSON.")
    parser.add_argument("results", metavar="RESULTS.json")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.json")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    parent = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(parent):
        sr.fail(PROG, f"-o {args.output}: directory {parent} does not exist")
    try:
        doc = sr.load(args.results)
        converted = gbench.to_gbench(doc, args.results)
    except sr.ResultError as err:
        sr.fail(PROG, str(err))
    try:
        sr.write_atomic(args.output, json.dumps(converted, indent=1) + "\n")
    except OSError as err:
        sr.fail(PROG, f"-o {args.output}: cannot write: {err.strerror or err}")
    iterations = sum(1 for e in converted["benchmarks"] if e["run_type"] == "iteration")
    sys.stdout.write(f"to_gbench: wrote {args.output} ({iterations} repetitions of "
                     f"{sr.plural(len(doc['points']), 'point')}, "
                     f"{len(converted['benchmarks']) - iterations} aggregates)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
