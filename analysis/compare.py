#!/usr/bin/python3
"""Compare two result files (spill-bench or Google Benchmark JSON) point by point.

usage: compare.py BASE.json CANDIDATE.json [--metric items_per_second]
                  [--confidence 0.95] [--seed N] [--json]

The output leads with what changed beyond noise: the points whose bootstrap
confidence interval of the ratio candidate/base excludes 1, largest effect
first (the effect is |log ratio|, so 2x faster and 2x slower weigh the
same).  Then the full table: for every point id present in both files, base
median, candidate median, ratio, its CI, two-sided Mann-Whitney p-value and
the CV of each side.  Points present in only one file are listed
separately.  A statistic that cannot be computed is shown as "undefined"
with its reason (JSON: null plus a reason field).  Exit status 2 and one
error line on bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gbench  # noqa: E402
import spill_results as sr  # noqa: E402
import stats  # noqa: E402

PROG = "compare.py"


def _changed(row: dict) -> bool:
    return row["ci_low"] is not None and (row["ci_low"] > 1.0 or row["ci_high"] < 1.0)


def compare(base: dict, cand: dict, metric: str = "items_per_second",
            confidence: float = 0.95, seed: int = stats.DEFAULT_SEED,
            resamples: int = stats.DEFAULT_RESAMPLES) -> dict:
    """Compare matching points of two validated documents.

    Returns {"metric", "higher_is_better", "confidence", "rows", "changed",
    "only_base", "only_candidate"}.  Each row has id, n_base, n_candidate,
    base_median, candidate_median, ratio, ci_low, ci_high, p_value, cv_base,
    cv_candidate (None when undefined), `reasons` (field -> why it is None),
    `effect` (|log ratio|, None without a ratio), `direction` ("better",
    "worse" or "same") and `changed` (the CI excludes 1).  `changed` lists
    the changed rows' ids, largest effect first.
    """
    pairs, only_base, only_cand = sr.match_points(base, cand)
    higher_better = sr.higher_is_better(metric)
    rows = []
    for base_point, cand_point in pairs:
        b = sr.metric_values(base_point, metric)
        c = sr.metric_values(cand_point, metric)
        cv_b, cv_c = stats.cv_outcome(b), stats.cv_outcome(c)
        ratio = stats.median_ratio(b, c)
        ci = stats.bootstrap_ratio_ci(b, c, confidence=confidence, resamples=resamples, seed=seed)
        test = stats.mann_whitney_u(c, b, alternative="two-sided")
        reasons = {}
        for field, value, why in (("ratio", ratio.value, ratio.reason), ("ci", ci.low, ci.reason),
                                  ("p_value", test.p_value, test.reason), ("cv_base", cv_b.value, cv_b.reason),
                                  ("cv_candidate", cv_c.value, cv_c.reason)):
            if value is None:
                reasons[field] = why
        if not b or not c:
            side = "base and candidate" if not b and not c else ("base" if not b else "candidate")
            reasons["ratio"] = f"{metric} unavailable in {side}"
        row = {"id": base_point["id"], "n_base": len(b), "n_candidate": len(c),
               "base_median": stats.median(b), "candidate_median": stats.median(c),
               "ratio": ratio.value, "ci_low": ci.low, "ci_high": ci.high, "p_value": test.p_value,
               "cv_base": cv_b.value, "cv_candidate": cv_c.value, "reasons": reasons,
               "effect": abs(math.log(ratio.value)) if ratio.value else None}
        row["changed"] = _changed(row)
        if ratio.value is None or ratio.value == 1.0:
            row["direction"] = "same"
        else:
            row["direction"] = "better" if (ratio.value > 1.0) == higher_better else "worse"
        rows.append(row)
    changed = sorted((r for r in rows if r["changed"]), key=lambda r: (-r["effect"], r["id"]))
    return {"metric": metric, "higher_is_better": higher_better, "confidence": confidence, "rows": rows,
            "changed": [r["id"] for r in changed], "only_base": only_base, "only_candidate": only_cand}


# --------------------------------------------------------------------------
# presentation


def _fmt(value, spec: str) -> str:
    return "undefined" if value is None else format(value, spec)


def _pct(fraction) -> str:
    return "undefined" if fraction is None else f"{fraction * 100:.1f}%"


def _ci(row: dict) -> str:
    return "undefined" if row["ci_low"] is None else f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def _times(ratio: float) -> str:
    return f"{ratio:.3g}x" if ratio >= 1.0 else f"1/{1.0 / ratio:.3g}x"


def format_changes(result: dict) -> list[str]:
    """The lead: what changed beyond noise, largest effect first."""
    conf = int(round(result["confidence"] * 100))
    by_id = {row["id"]: row for row in result["rows"]}
    if not result["changed"]:
        return [f"changed beyond noise: none ({sr.plural(len(result['rows']), 'point')} compared; no {conf}% CI "
                "of the ratio excludes 1)"]
    lines = [f"changed beyond noise ({len(result['changed'])} of {sr.plural(len(result['rows']), 'point')}: the "
             f"{conf}% CI of the ratio excludes 1), largest effect first:"]
    for ident in result["changed"]:
        row = by_id[ident]
        lines.append(f"  {row['direction'].upper():6} {_times(row['ratio']):>9}  CI {_ci(row)}  "
                     f"p={_fmt(row['p_value'], '.3g')}  {ident}")
    return lines


def format_table(result: dict, base_path: str = "base", cand_path: str = "candidate") -> str:
    """Render the comparison as plain text: the changes first, then every row."""
    metric = result["metric"]
    better = "higher" if result["higher_is_better"] else "lower"
    conf = int(round(result["confidence"] * 100))
    header = ["base median", "cand median", "ratio", f"{conf}% CI", "p (MWU)",
              "CV base", "CV cand", "n", "point id"]
    lines = [f"metric: {metric} ({better} is better); ratio = candidate/base",
             f"base: {base_path}", f"candidate: {cand_path}", ""]
    lines.extend(format_changes(result))
    lines.append("")
    table = []
    for row in result["rows"]:
        ident = row["id"]
        if row["reasons"]:
            ident += "  (" + "; ".join(f"{k} undefined: {v}" for k, v in row["reasons"].items()) + ")"
        table.append([_fmt(row["base_median"], ".4g"), _fmt(row["candidate_median"], ".4g"),
                      _fmt(row["ratio"], ".3f"), _ci(row), _fmt(row["p_value"], ".3g"),
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


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not in (0, 1)")
    return value


def build_parser() -> sr.OneLineArgumentParser:
    parser = sr.OneLineArgumentParser(prog=PROG, description="Compare two result files point by point "
                                                             "(spill-bench results or Google Benchmark JSON).")
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
        base, cand = gbench.load_pair(args.base, args.candidate)
    except sr.ResultError as err:
        sr.fail(PROG, str(err))
    result = compare(base, cand, metric=args.metric, confidence=args.confidence, seed=args.seed)
    if not result["rows"]:
        sr.fail(PROG, f"{args.candidate}: no point id matches any point of {args.base}")
    if all(row["n_base"] == 0 and row["n_candidate"] == 0 for row in result["rows"]):
        sr.fail(PROG, f"--metric {args.metric}: not present in any repetition of either file")
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        sys.stdout.write(format_table(result, args.base, args.candidate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
