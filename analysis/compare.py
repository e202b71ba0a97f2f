#!/usr/bin/python3
"""Compare two spill-bench result files point by point.

usage: compare.py BASE.json CANDIDATE.json [--metric items_per_second]
                  [--confidence 0.95] [--seed N] [--json]

For every point id present in both files: base median, candidate median,
ratio candidate/base, bootstrap CI of the ratio, two-sided Mann-Whitney
p-value and the CV of each side.  Points present in only one file are listed
separately.  Exit status 2 and one error line on bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import spill_results as sr  # noqa: E402
import stats  # noqa: E402

PROG = "compare.py"


def compare(base: dict, cand: dict, metric: str = "items_per_second",
            confidence: float = 0.95, seed: int = stats.DEFAULT_SEED,
            resamples: int = stats.DEFAULT_RESAMPLES) -> dict:
    """Compare matching points of two validated documents.

    Returns {"metric", "higher_is_better", "confidence", "rows", "only_base",
    "only_candidate"}; each row has id, n_base, n_candidate, base_median,
    candidate_median, ratio, ci_low, ci_high, p_value, cv_base, cv_candidate
    and `note` (why some fields are nan, else "").
    """
    pairs, only_base, only_cand = sr.match_points(base, cand)
    rows = []
    for base_point, cand_point in pairs:
        b = sr.metric_values(base_point, metric)
        c = sr.metric_values(cand_point, metric)
        row = {"id": base_point["id"], "n_base": len(b), "n_candidate": len(c),
               "base_median": stats.median(b), "candidate_median": stats.median(c),
               "ratio": math.nan, "ci_low": math.nan, "ci_high": math.nan,
               "p_value": math.nan, "cv_base": stats.cv(b), "cv_candidate": stats.cv(c),
               "note": ""}
        if not b or not c:
            side = "base" if not b else "candidate"
            row["note"] = f"{metric} unavailable in {side}"
        else:
            row["ratio"] = stats.median_ratio(b, c)
            row["ci_low"], row["ci_high"] = stats.bootstrap_ratio_ci(
                b, c, confidence=confidence, resamples=resamples, seed=seed)
            row["p_value"] = stats.mann_whitney_u(c, b, alternative="two-sided")[1]
            if math.isnan(row["ratio"]):
                row["note"] = "base median is zero"
        rows.append(row)
    return {"metric": metric, "higher_is_better": sr.higher_is_better(metric),
            "confidence": confidence, "rows": rows,
            "only_base": only_base, "only_candidate": only_cand}


# --------------------------------------------------------------------------
# presentation


def _fmt(value: float, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


def _pct(fraction: float) -> str:
    return "n/a" if math.isnan(fraction) else f"{fraction * 100:.1f}%"


def format_table(result: dict, base_path: str = "base", cand_path: str = "candidate") -> str:
    """Render the comparison as plain text."""
    metric = result["metric"]
    better = "higher" if result["higher_is_better"] else "lower"
    conf = int(round(result["confidence"] * 100))
    header = ["base median", "cand median", "ratio", f"{conf}% CI", "p (MWU)",
              "CV base", "CV cand", "n", "point id"]
    lines = [f"metric: {metric} ({better} is better); ratio = candidate/base",
             f"base: {base_path}", f"candidate: {cand_path}", ""]
    table = []
    for row in result["rows"]:
        ci = "n/a" if math.isnan(row["ci_low"]) else f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
        ident = row["id"] + (f"  ({row['note']})" if row["note"] else "")
        table.append([_fmt(row["base_median"], ".4g"), _fmt(row["candidate_median"], ".4g"),
                      _fmt(row["ratio"], ".3f"), ci, _fmt(row["p_value"], ".3g"),
                      _pct(row["cv_base"]), _pct(row["cv_candidate"]),
                      f"{row['n_base']}/{row['n_candidate']}", ident])
    widths = [max(len(header[i]), *(len(r[i]) for r in table)) if table else len(header[i])
              for i in range(len(header))]
    def line(cells):
        return "  ".join(cell.rjust(widths[i]) if i < len(cells) - 1 else cell
                         for i, cell in enumerate(cells)).rstrip()
    lines.append(line(header))
    lines.append(line(["-" * w for w in widths]))
    lines.extend(line(r) for r in table)
    for title, ids in (("only in base", result["only_base"]),
                       ("only in candidate", result["only_candidate"])):
        if ids:
            lines.append("")
            lines.append(f"{title} ({len(ids)}):")
            lines.extend(f"  {ident}" for ident in ids)
    return "\n".join(lines) + "\n"


def _json_safe(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not in (0, 1)")
    return value


def build_parser() -> sr.OneLineArgumentParser:
    parser = sr.OneLineArgumentParser(prog=PROG, description="Compare two spill-bench result files point by point.")
    parser.add_argument("base", metavar="BASE.json")
    parser.add_argument("candidate", metavar="CANDIDATE.json")
    parser.add_argument("--metric", default="items_per_second",
                        help="repetition field or counter to compare (default: items_per_second)")
    parser.add_argument("--confidence", type=_confidence, default=0.95,
                        help="confidence level of the bootstrap interval (default: 0.95)")
    parser.add_argument("--seed", type=int, default=stats.DEFAULT_SEED, help="bootstrap RNG seed")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        base, cand = sr.load_pair(args.base, args.candidate)
    except sr.ResultError as err:
        sr.fail(PROG, str(err))
    result = compare(base, cand, metric=args.metric, confidence=args.confidence, seed=args.seed)
    if not result["rows"]:
        sr.fail(PROG, f"{args.candidate}: no point id matches any point of {args.base}")
    if all(row["n_base"] == 0 and row["n_candidate"] == 0 for row in result["rows"]):
        sr.fail(PROG, f"--metric {args.metric}: not present in any repetition of either file")
    if args.json:
        sys.stdout.write(json.dumps(_json_safe(result), indent=2) + "\n")
    else:
        sys.stdout.write(format_table(result, args.base, args.candidate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
