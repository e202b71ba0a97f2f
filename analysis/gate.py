#!/usr/bin/python3
"""CI regression gate over two spill-bench result files.

usage: gate.py --baseline B.json --candidate C.json --max-regression PCT
               [--alpha 0.05] [--metric NAME] [--mode wallclock|deterministic]
               [--ignore-checks]

Exit status: 0 pass, 1 a point regressed (or failed its correctness checks),
2 bad input (one error line on stderr).

wallclock mode (default metric items_per_second): a point regresses when its
median ratio candidate/base is worse than the threshold (below 1 - PCT/100
for a higher-is-better metric, above 1 + PCT/100 otherwise) AND the one-sided
Mann-Whitney test "candidate is worse" gives p < alpha.  Both are required:
the threshold ignores real but small changes, the test ignores differences
the repetition noise explains.

paired wallclock mode (automatic when both files come from one run of
ab_run.py, which interleaves baseline and candidate processes): the ratio
is the median over pairs of median(candidate)/median(baseline) within the
pair, the test the one-sided Wilcoxon signed-rank test on the log pair
ratios; a point regresses when both conditions above hold. With several
sessions (fresh process pairs) the unit is the session, the median of its
pair ratios: repetitions of one process are not independent of each other. This is the mode
to gate with on a shared machine, where whole processes speed up and slow
down together with the neighbours' load (see stats.py).

deterministic mode (default metric instructions_per_item, read from that
counter or computed as PAPI_TOT_INS / items): the metric is a
count that does not depend on machine load (hardware instruction count,
callgrind Ir, ...), lower is better, and a point regresses when the
candidate median exceeds the base median by more than PCT percent (plus a
relative tolerance of DETERMINISTIC_TOLERANCE for rounding).  No statistics.

A metric that is missing or null in a point is ignored with a note; it is
never read as zero.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import measure_stats as ms  # noqa: E402
import spill_results as sr  # noqa: E402
import stats  # noqa: E402

PROG = "gate.py"
DEFAULT_METRIC = {"wallclock": "items_per_second", "deterministic": "instructions_per_item"}
DETERMINISTIC_TOLERANCE = 1e-6


class GateInputError(Exception):
    """The files are valid but give the gate nothing to decide on."""


def _wallclock_row(row: dict, b: list[float], c: list[float], limit: float,
                   higher_better: bool, alpha: float, seed: int) -> None:
    row["ratio"] = stats.median_ratio(b, c)
    row["ci_low"], row["ci_high"] = stats.bootstrap_ratio_ci(b, c, seed=seed)
    alternative = "less" if higher_better else "greater"
    row["p_value"] = stats.mann_whitney_u(c, b, alternative=alternative)[1]
    if math.isnan(row["ratio"]):
        row["status"] = "unavailable"
        row["note"] = "base median is zero, ignored"
        return
    beyond = row["ratio"] < 1.0 - limit if higher_better else row["ratio"] > 1.0 + limit
    row["status"] = "regression" if beyond and row["p_value"] < alpha else "pass"
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
        if base_median != 0.0:
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
        row["status"] = "unavailable"
        row["note"] = "no interleaved pair has the metric on both sides, ignored"
        return
    row["ratio"] = stats.median(ratios)
    ci = ms.bootstrap_median_ci(ratios, seed=seed)
    row["ci_low"], row["ci_high"] = ci.low, ci.high
    if any(r <= 0.0 for r in ratios):
        row["p_value"] = 1.0
    else:
        alternative = "less" if higher_better else "greater"
        row["p_value"] = stats.wilcoxon_signed_rank([math.log(r) for r in ratios], alternative=alternative)[1]
    beyond = row["ratio"] < 1.0 - limit if higher_better else row["ratio"] > 1.0 + limit
    row["status"] = "regression" if beyond and row["p_value"] < alpha else "pass"
    if stats.min_attainable_signed_rank_p(len(ratios)) >= alpha:
        row["note"] = (f"only {sr.plural(len(ratios), unit)}: the signed-rank test cannot reach "
                       f"p < {alpha:g}, so no regression can be flagged")


def _deterministic_row(row: dict, b: list[float], c: list[float], limit: float) -> None:
    base_median, cand_median = row["base_median"], row["candidate_median"]
    if base_median == 0.0:
        row["ratio"] = 1.0 if cand_median == 0.0 else math.inf
    else:
        row["ratio"] = cand_median / base_median
    row["status"] = "regression" if row["ratio"] > 1.0 + limit + DETERMINISTIC_TOLERANCE else "pass"


def gate(base: dict, cand: dict, max_regression_pct: float, alpha: float = 0.05,
         metric: str | None = None, mode: str = "wallclock", seed: int = stats.DEFAULT_SEED,
         ignore_checks: bool = False, base_label: str = "baseline",
         cand_label: str = "candidate") -> dict:
    """Decide whether `cand` regressed against `base`.

    Returns {"passed", "mode", "metric", "max_regression_pct", "alpha",
    "rows", "compared", "regressions", "failed_checks", "only_base",
    "only_candidate"}.  Each row: id, status ("pass", "regression",
    "unavailable", "failed_checks"), medians, ratio, ci_low/ci_high and
    p_value (wallclock only), n_base, n_candidate, note.

    Raises GateInputError when no point id matches or no matching point has
    the metric on both sides.
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

    rows = []
    for base_point, cand_point in pairs:
        b = sr.metric_values(base_point, metric)
        c = sr.metric_values(cand_point, metric)
        row = {"id": base_point["id"], "status": "pass", "n_base": len(b), "n_candidate": len(c),
               "base_median": stats.median(b), "candidate_median": stats.median(c),
               "ratio": math.nan, "ci_low": math.nan, "ci_high": math.nan,
               "p_value": math.nan, "note": ""}
        if not b or not c:
            row["status"] = "unavailable"
            side = "baseline and candidate" if not b and not c else ("baseline" if not b else "candidate")
            row["note"] = f"{metric} unavailable in {side}, ignored"
        elif paired:
            _paired_row(row, unit_ratios(base_point, cand_point, metric), limit, higher_better, alpha, seed)
        elif mode == "wallclock":
            _wallclock_row(row, b, c, limit, higher_better, alpha, seed)
        else:
            _deterministic_row(row, b, c, limit)
        if not ignore_checks and cand_point["checks"].get("passed") is False:
            row["status"] = "failed_checks"
            message = cand_point["checks"].get("message") or "checks.passed is false"
            row["note"] = f"candidate failed its correctness checks: {message}"
        rows.append(row)

    measured = [row for row in rows if row["n_base"] and row["n_candidate"]]
    if not measured:
        reasons = sr.unavailable_counters([(base_label, base), (cand_label, cand)])
        known = [f"{name}: {reasons[name]}" for name in sr.metric_sources(metric) if name in reasons]
        why = f" ({'; '.join(known)})" if known else ""
        raise GateInputError(f"--metric {metric}: unavailable in every matching point{why}")
    regressions = [row for row in rows if row["status"] == "regression"]
    failed_checks = [row for row in rows if row["status"] == "failed_checks"]
    compared = sum(1 for row in rows if row["status"] != "unavailable")
    return {"passed": not regressions and not failed_checks, "mode": mode, "metric": metric, "paired": paired,
            "higher_is_better": higher_better, "max_regression_pct": max_regression_pct,
            "alpha": alpha, "rows": rows, "compared": compared, "regressions": regressions,
            "failed_checks": failed_checks, "only_base": only_base, "only_candidate": only_cand}


# --------------------------------------------------------------------------
# presentation


def format_result(result: dict) -> str:
    """Human-readable verdict; the last line is the summary."""
    lines = []
    metric = result["metric"]
    for ident in result["only_base"]:
        lines.append(f"gate: note: {ident}: only in baseline, not gated")
    for ident in result["only_candidate"]:
        lines.append(f"gate: note: {ident}: only in candidate, not gated")
    for row in result["rows"]:
        if row["status"] in ("unavailable", "pass") and row["note"]:
            lines.append(f"gate: note: {row['id']}: {row['note']}")
    for row in result["rows"]:
        if row["status"] == "regression":
            detail = (f"{metric} median {row['base_median']:.6g} -> {row['candidate_median']:.6g} "
                      f"(ratio {row['ratio']:.4f}")
            if result.get("paired"):
                detail += (f" median over {sr.plural(row['pairs'], 'interleaved ' + row['unit'])}, 95% CI [{row['ci_low']:.4f}, "
                           f"{row['ci_high']:.4f}], signed-rank p={row['p_value']:.3g}")
            elif result["mode"] == "wallclock":
                detail += (f", 95% CI [{row['ci_low']:.4f}, {row['ci_high']:.4f}], "
                           f"p={row['p_value']:.3g}, n={row['n_base']}/{row['n_candidate']}")
            detail += ")"
            lines.append(f"gate: REGRESSION {row['id']}: {detail}")
        elif row["status"] == "failed_checks":
            lines.append(f"gate: FAILED CHECKS {row['id']}: {row['note']}")
    pct = f"{result['max_regression_pct']:g}%"
    how = " compared pair by pair over interleaved processes" if result.get("paired") else ""
    if result["passed"]:
        lines.append(f"gate: pass ({sr.plural(result['compared'], 'point')}{how})")
    else:
        parts = []
        if result["regressions"]:
            parts.append(f"{len(result['regressions'])} of {sr.plural(result['compared'], 'point')} "
                         f"regressed by more than {pct}")
        if result["failed_checks"]:
            parts.append(f"{sr.plural(len(result['failed_checks']), 'point')} failed correctness checks")
        lines.append(f"gate: FAIL ({'; '.join(parts)})")
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
    parser = sr.OneLineArgumentParser(prog=PROG, description="Fail CI when the candidate regressed against the baseline.")
    parser.add_argument("--baseline", required=True, metavar="B.json")
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
                        help="do not fail on candidate points whose correctness checks failed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        base, cand = sr.load_pair(args.baseline, args.candidate, base_label="baseline")
    except sr.ResultError as err:
        sr.fail(PROG, str(err))
    try:
        result = gate(base, cand, args.max_regression, alpha=args.alpha, metric=args.metric,
                      mode=args.mode, ignore_checks=args.ignore_checks,
                      base_label=args.baseline, cand_label=args.candidate)
    except GateInputError as err:
        sr.fail(PROG, str(err))
    sys.stdout.write(format_result(result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
