#!/usr/bin/python3
"""CI regression gate over two result files (spill-bench or Google Benchmark JSON).

usage: gate.py --baseline B.json --candidate C.json --max-regression PCT
               [--alpha 0.05] [--metric NAME] [--mode wallclock|deterministic]
               [--ignore-checks] [--skip PATTERN ...]

Exit status: 0 pass, 1 a point regressed or could not be compared, 2 bad
input (one error line on stderr).

The gate refuses what it cannot compare.  Each of these fails the gate,
named on its own line, unless the point is skipped with `--skip PATTERN`
(an id or a shell-style pattern, repeatable; a pattern that matches no
point is bad input):

* MISSING: a baseline point the candidate lacks;
* EXTRA: a candidate point the baseline lacks;
* NULL: the metric is missing or null in some repetition of a side (it is
  never read as zero, and a point is not judged on part of its data);
* NOT COMPARABLE: the two points cannot be set against each other -- the
  scenario or the facts/config of the point differ, the baseline failed its
  correctness checks, the base median is zero, a change beyond the
  threshold cannot be tested (every value tied), or no interleaved pair has
  the metric on both sides;
* FAILED CHECKS: the candidate failed its correctness checks (unless
  --ignore-checks).

wallclock mode (default metric items_per_second): a point regresses when its
median ratio candidate/base is worse than the threshold (below 1 - PCT/100
for a higher-is-better metric, above 1 + PCT/100 otherwise) AND the one-sided
Mann-Whitney test "candidate is worse" gives p < alpha.  Both are required:
the threshold ignores real but small changes, the test ignores differences
the repetition noise explains.

paired wallclock mode (automatic when both files come from one run of
ab_run.py, which interleaves baseline and candidate processes): the ratio
is the median over sessions of the median pair ratio median(candidate) /
median(baseline), the test the one-sided Wilcoxon signed-rank test on the
log ratios; the unit is the session (fresh process pairs) when there are
several, because repetitions of one process are not independent.

deterministic mode (default metric instructions_per_item, read from that
counter or computed as PAPI_TOT_INS / items): the metric is a count that
does not depend on machine load (instructions, callgrind Ir, ...), lower is
better, and a point regresses when the candidate median exceeds the base
median by more than PCT percent (plus DETERMINISTIC_TOLERANCE for
rounding).  No statistics.
"""

from __future__ import annotations

import argparse
import fnmatch
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gbench  # noqa: E402
import measure_stats as ms  # noqa: E402
import spill_results as sr  # noqa: E402
import stats  # noqa: E402

PROG = "gate.py"
DEFAULT_METRIC = {"wallclock": "items_per_second", "deterministic": "instructions_per_item"}
DETERMINISTIC_TOLERANCE = 1e-6
# The facts that say what a point measures; the rest (descriptions, notes) may change between versions.
IDENTITY_FACTS = ("contender", "job", "hands_rings", "ordered")
# Statuses that fail the gate, in the order the verdict lists them.
FAILING = ("missing", "extra", "null", "not_comparable", "failed_checks", "regression")
STATUS_TEXT = {"missing": "MISSING", "extra": "EXTRA", "null": "NULL", "not_comparable": "NOT COMPARABLE",
               "failed_checks": "FAILED CHECKS", "regression": "REGRESSION"}
SUMMARY_TEXT = {"missing": "missing from the candidate", "extra": "only in the candidate",
                "null": "without the metric in every repetition", "not_comparable": "not comparable",
                "failed_checks": "failed correctness checks"}


class GateInputError(Exception):
    """The files are valid but give the gate nothing to decide on."""


def _worse(ratio: float, limit: float, higher_better: bool) -> bool:
    return ratio < 1.0 - limit if higher_better else ratio > 1.0 + limit


def _not_comparable(row: dict, why: str) -> None:
    row["status"] = "not_comparable"
    row["note"] = why


def _wallclock_row(row: dict, b: list[float], c: list[float], limit: float,
                   higher_better: bool, alpha: float, seed: int) -> None:
    ratio = stats.median_ratio(b, c)
    if ratio.value is None:
        _not_comparable(row, f"ratio undefined: {ratio.reason}")
        return
    row["ratio"] = ratio.value
    ci = stats.bootstrap_ratio_ci(b, c, seed=seed)
    row["ci_low"], row["ci_high"], row["ci_reason"] = ci
    test = stats.mann_whitney_u(c, b, alternative="less" if higher_better else "greater")
    row["p_value"] = test.p_value
    beyond = _worse(ratio.value, limit, higher_better)
    if test.p_value is None:
        if beyond:
            _not_comparable(row, f"the ratio is beyond the threshold but the rank test is undefined: {test.reason}")
        return
    row["status"] = "regression" if beyond and test.p_value < alpha else "pass"
    if stats.min_attainable_p(len(c), len(b)) >= alpha:
        row["note"] = (f"only {len(b)}/{len(c)} repetitions: the rank test cannot reach "
                       f"p < {alpha:g}, so no regression can be flagged")


def interleaved_run(base: dict, cand: dict) -> dict | None:
    """The shared `interleaved` block when both files come from one ab_run.py run."""
    b = base.get("metadata", {}).get("interleaved")
    c = cand.get("metadata", {}).get("interleaved")
    if not isinstance(b, dict) or not isinstance(c, dict):
        return None
    if b.get("run_id") != c.get("run_id") or b.get("side") == c.get("side"):
        return None
    return b


def pair_ratios(base_point: dict, cand_point: dict, metric: str) -> list[float]:
    """Per interleaved pair: median(candidate reps) / median(baseline reps).

    Pairs with the metric on one side only, or a zero baseline median, are left out.
    """
    return [ratio for _, ratio in _pair_ratios_by_session(base_point, cand_point, metric)]


def _pair_ratios_by_session(base_point: dict, cand_point: dict, metric: str) -> list[tuple[int, float]]:
    def by_pair(point: dict) -> dict[int, tuple[int, list[float]]]:
        groups: dict[int, tuple[int, list[float]]] = {}
        for rep in point["repetitions"]:
            value = sr.repetition_value(rep, metric)
            if value is not None and isinstance(rep.get("pair"), int):
                session = rep.get("session", 0) if isinstance(rep.get("session", 0), int) else 0
                groups.setdefault(rep["pair"], (session, []))[1].append(value)
        return groups
    b, c = by_pair(base_point), by_pair(cand_point)
    out = []
    for pair in sorted(set(b) & set(c)):
        base_median = stats.median(b[pair][1])
        if base_median:
            out.append((b[pair][0], stats.median(c[pair][1]) / base_median))
    return out


def unit_ratios(base_point: dict, cand_point: dict, metric: str) -> tuple[list[float], str]:
    """The observations the paired test runs on, and their unit.

    With several sessions (fresh processes) the unit is the session: the
    median of its pair ratios. Repetitions inside one process share that
    process's memory layout and placement, so treating each pair as
    independent would overstate the evidence when processes differ (they
    do here: analysis/README.md). With one session the unit is the pair.
    """
    tagged = _pair_ratios_by_session(base_point, cand_point, metric)
    sessions = sorted({session for session, _ in tagged})
    if len(sessions) < 2:
        return [ratio for _, ratio in tagged], "pair"
    return [stats.median([r for s, r in tagged if s == session]) for session in sessions], "session"


def _paired_row(row: dict, found: tuple[list[float], str], limit: float, higher_better: bool,
                alpha: float, seed: int) -> None:
    ratios, unit = found
    row["pairs"] = len(ratios)
    row["unit"] = unit
    if not ratios:
        _not_comparable(row, "no interleaved pair has the metric on both sides")
        return
    if any(r <= 0.0 for r in ratios):
        _not_comparable(row, "a pair ratio is zero: the log ratio is undefined")
        return
    row["ratio"] = stats.median(ratios)
    ci = ms.bootstrap_median_ci(ratios, seed=seed)
    row["ci_low"], row["ci_high"], row["ci_reason"] = ci.low, ci.high, ci.reason
    test = stats.wilcoxon_signed_rank([math.log(r) for r in ratios],
                                      alternative="less" if higher_better else "greater")
    row["p_value"] = test.p_value
    beyond = _worse(row["ratio"], limit, higher_better)
    if test.p_value is None:
        if beyond:
            _not_comparable(row, f"the ratio is beyond the threshold but the signed-rank test is undefined: {test.reason}")
        return
    row["status"] = "regression" if beyond and test.p_value < alpha else "pass"
    if stats.min_attainable_signed_rank_p(len(ratios)) >= alpha:
        row["note"] = (f"only {sr.plural(len(ratios), unit)}: the signed-rank test cannot reach "
                       f"p < {alpha:g}, so no regression can be flagged")


def _deterministic_row(row: dict, limit: float) -> None:
    base_median, cand_median = row["base_median"], row["candidate_median"]
    if base_median == 0.0:
        if cand_median == 0.0:
            row["ratio"] = 1.0
        else:
            _not_comparable(row, "the base median is zero and the candidate's is not: no ratio")
            return
    else:
        row["ratio"] = cand_median / base_median
    row["status"] = "regression" if row["ratio"] > 1.0 + limit + DETERMINISTIC_TOLERANCE else "pass"


def _missing_values(point: dict, metric: str) -> int:
    return sum(1 for rep in point["repetitions"] if sr.repetition_value(rep, metric) is None)


def _identity_difference(base_point: dict, cand_point: dict) -> str | None:
    """Why two points with one id measure different things, or None."""
    if base_point["scenario"] != cand_point["scenario"]:
        return f"scenario {base_point['scenario']!r} in the baseline, {cand_point['scenario']!r} in the candidate"
    for block, keys in (("facts", IDENTITY_FACTS), ("config", None)):
        b, c = base_point.get(block), cand_point.get(block)
        if isinstance(b, dict) and isinstance(c, dict):
            changed = [k for k in sorted(set(b) | set(c)) if (keys is None or k in keys) and b.get(k) != c.get(k)]
            if changed:
                return "; ".join(f"{block}.{k} {b.get(k)!r} in the baseline, {c.get(k)!r} in the candidate"
                                 for k in changed)
    return None


def _pattern_matcher(patterns: list[str]):
    def matched(ident: str) -> str | None:
        for pattern in patterns:
            if ident == pattern or fnmatch.fnmatchcase(ident, pattern):
                return pattern
        return None
    return matched


def gate(base: dict, cand: dict, max_regression_pct: float, alpha: float = 0.05,
         metric: str | None = None, mode: str = "wallclock", seed: int = stats.DEFAULT_SEED,
         ignore_checks: bool = False, skip: list[str] | tuple[str, ...] = (), base_label: str = "baseline",
         cand_label: str = "candidate") -> dict:
    """Decide whether `cand` regressed against `base`.

    Returns {"passed", "mode", "metric", "paired", "higher_is_better",
    "max_regression_pct", "alpha", "rows", "compared", "skipped", "by_status"}.
    Each row: id, status (one of FAILING, "pass" or "skipped"), medians,
    ratio, ci_low/ci_high (None with ci_reason when undefined), p_value
    (wallclock only; None when undefined), n_base, n_candidate, note (why).

    Raises ValueError on bad arguments, and GateInputError when no point id
    matches, no matching point has the metric on both sides, or a --skip
    pattern matches no point.
    """
    if mode not in DEFAULT_METRIC:
        raise ValueError(f"mode {mode!r} is not wallclock or deterministic")
    if not 0.0 < max_regression_pct < 100.0:
        raise ValueError(f"max_regression_pct {max_regression_pct!r} is not in (0, 100)")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha {alpha!r} is not in (0, 1)")
    metric = metric or DEFAULT_METRIC[mode]
    higher_better = sr.higher_is_better(metric) if mode == "wallclock" else False
    limit = max_regression_pct / 100.0
    paired = mode == "wallclock" and interleaved_run(base, cand) is not None
    pairs, only_base, only_cand = sr.match_points(base, cand)
    if not pairs:
        raise GateInputError(f"{cand_label}: no point id matches any point of {base_label}")
    skipped_by = _pattern_matcher(list(skip))
    used_patterns: set[str] = set()

    rows = []
    for ident in only_base:
        rows.append({"id": ident, "status": "missing", "note": f"in {base_label}, not in {cand_label}"})
    for ident in only_cand:
        rows.append({"id": ident, "status": "extra", "note": f"in {cand_label}, not in {base_label}"})
    for base_point, cand_point in pairs:
        b = sr.metric_values(base_point, metric)
        c = sr.metric_values(cand_point, metric)
        row = {"id": base_point["id"], "status": "pass", "n_base": len(b), "n_candidate": len(c),
               "base_median": stats.median(b), "candidate_median": stats.median(c),
               "ratio": None, "ci_low": None, "ci_high": None, "ci_reason": None, "p_value": None, "note": ""}
        holes = [(label, _missing_values(point, metric), len(point["repetitions"]))
                 for label, point in ((base_label, base_point), (cand_label, cand_point))]
        holes = [(label, k, n) for label, k, n in holes if k or not n]
        different = _identity_difference(base_point, cand_point)
        if different:
            _not_comparable(row, different)
        elif holes:
            row["status"] = "null"
            row["note"] = "; ".join(f"{metric} missing or null in {k} of {n} repetitions of the {label}"
                                    if n else f"the {label} has no repetitions" for label, k, n in holes)
        elif not ignore_checks and base_point["checks"].get("passed") is False:
            _not_comparable(row, "the baseline failed its correctness checks, so its measurement is not valid: "
                                 + (base_point["checks"].get("message") or "checks.passed is false"))
        elif paired:
            _paired_row(row, unit_ratios(base_point, cand_point, metric), limit, higher_better, alpha, seed)
        elif mode == "wallclock":
            _wallclock_row(row, b, c, limit, higher_better, alpha, seed)
        else:
            _deterministic_row(row, limit)
        if not ignore_checks and cand_point["checks"].get("passed") is False:
            row["status"] = "failed_checks"
            message = cand_point["checks"].get("message") or "checks.passed is false"
            row["note"] = f"the candidate failed its correctness checks: {message}"
        rows.append(row)
    for row in rows:
        pattern = skipped_by(row["id"])
        if pattern is not None:
            used_patterns.add(pattern)
            row["skipped_status"], row["status"] = row["status"], "skipped"
            row["note"] = f"--skip {pattern}" + (f" (would be {STATUS_TEXT.get(row['skipped_status'], row['skipped_status'])}: "
                                                 f"{row['note']})" if row["skipped_status"] != "pass" else "")
    unused = [p for p in skip if p not in used_patterns]
    if unused:
        raise GateInputError(f"--skip {unused[0]}: matches no point of {base_label} or {cand_label}")

    measured = [row for row in rows if row.get("n_base") and row.get("n_candidate")]
    if not measured:
        reasons = sr.unavailable_counters([(base_label, base), (cand_label, cand)])
        known = [f"{name}: {reasons[name]}" for name in sr.metric_sources(metric) if name in reasons]
        why = f" ({'; '.join(known)})" if known else ""
        raise GateInputError(f"--metric {metric}: unavailable in every matching point{why}")
    by_status = {status: [row for row in rows if row["status"] == status] for status in FAILING + ("pass", "skipped")}
    failing = [row for status in FAILING for row in by_status[status]]
    compared = len(by_status["pass"]) + len(by_status["regression"])
    return {"passed": not failing, "mode": mode, "metric": metric, "paired": paired,
            "higher_is_better": higher_better, "max_regression_pct": max_regression_pct,
            "alpha": alpha, "rows": rows, "compared": compared, "by_status": by_status,
            "skipped": by_status["skipped"], "regressions": by_status["regression"],
            "failed_checks": by_status["failed_checks"]}


# --------------------------------------------------------------------------
# presentation


def _f(value, spec: str) -> str:
    return "undefined" if value is None else format(value, spec)


def _regression_detail(result: dict, row: dict) -> str:
    detail = (f"{result['metric']} median {row['base_median']:.6g} -> {row['candidate_median']:.6g} "
              f"(ratio {row['ratio']:.4f}")
    ci = (f"95% CI [{row['ci_low']:.4f}, {row['ci_high']:.4f}]" if row["ci_low"] is not None
          else f"95% CI undefined: {row['ci_reason']}")
    if result.get("paired"):
        detail += (f" median over {sr.plural(row['pairs'], 'interleaved ' + row['unit'])}, {ci}, "
                   f"signed-rank p={_f(row['p_value'], '.3g')}")
    elif result["mode"] == "wallclock":
        detail += f", {ci}, p={_f(row['p_value'], '.3g')}, n={row['n_base']}/{row['n_candidate']}"
    return detail + ")"


def format_result(result: dict) -> str:
    """Human-readable verdict; the last line is the summary."""
    lines = []
    for row in result["rows"]:
        if row["status"] == "pass" and row["note"]:
            lines.append(f"gate: note: {row['id']}: {row['note']}")
    for row in result["skipped"]:
        lines.append(f"gate: skipped {row['id']}: {row['note']}")
    for status in FAILING:
        for row in result["by_status"][status]:
            detail = _regression_detail(result, row) if status == "regression" else row["note"]
            lines.append(f"gate: {STATUS_TEXT[status]} {row['id']}: {detail}")
    pct = f"{result['max_regression_pct']:g}%"
    how = " compared pair by pair over interleaved processes" if result.get("paired") else ""
    skipped = f", {len(result['skipped'])} skipped by --skip" if result["skipped"] else ""
    if result["passed"]:
        lines.append(f"gate: pass ({sr.plural(result['compared'], 'point')}{how}{skipped})")
    else:
        parts = []
        if result["regressions"]:
            parts.append(f"{len(result['regressions'])} of {sr.plural(result['compared'], 'point')} "
                         f"regressed by more than {pct}")
        for status in FAILING[:-1]:
            count = len(result["by_status"][status])
            if count:
                parts.append(f"{sr.plural(count, 'point')} {SUMMARY_TEXT[status]}")
        lines.append(f"gate: FAIL ({'; '.join(parts)}{skipped})")
    return "\n".join(lines) + "\n"


def _number_in(low: float, high: float, what: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (low < value < high):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value
    return parse


def build_parser() -> sr.OneLineArgumentParser:
    parser = sr.OneLineArgumentParser(prog=PROG, description="Fail CI when the candidate regressed against the "
                                                             "baseline, or cannot be compared with it.")
    parser.add_argument("--baseline", required=True, metavar="B.json",
                        help="spill-bench results or Google Benchmark JSON")
    parser.add_argument("--candidate", required=True, metavar="C.json")
    parser.add_argument("--max-regression", required=True, metavar="PCT",
                        type=_number_in(0.0, 100.0, "a percentage in (0, 100)"),
                        help="allowed regression in percent")
    parser.add_argument("--alpha", default=0.05, type=_number_in(0.0, 1.0, "in (0, 1)"),
                        help="significance level of the rank test (wallclock mode; default 0.05)")
    parser.add_argument("--metric", default=None,
                        help="items_per_second (wallclock default) or a counter such as "
                             "instructions_per_item (deterministic default) or Ir")
    parser.add_argument("--mode", choices=sorted(DEFAULT_METRIC), default="wallclock")
    parser.add_argument("--ignore-checks", action="store_true",
                        help="do not fail on points whose correctness checks failed")
    parser.add_argument("--skip", action="append", default=[], metavar="PATTERN",
                        help="do not gate the points whose id matches (exact or shell pattern; repeatable). "
                             "Without it a missing, extra, null or non-comparable point fails the gate")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        base, cand = gbench.load_pair(args.baseline, args.candidate, base_label="baseline")
    except sr.ResultError as err:
        sr.fail(PROG, str(err))
    try:
        result = gate(base, cand, args.max_regression, alpha=args.alpha, metric=args.metric,
                      mode=args.mode, ignore_checks=args.ignore_checks, skip=args.skip,
                      base_label=args.baseline, cand_label=args.candidate)
    except GateInputError as err:
        sr.fail(PROG, str(err))
    sys.stdout.write(format_result(result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
