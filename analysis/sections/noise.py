"""Noise: per point, the median with a bootstrap CI, the CV, and whether the
repetitions fall into two groups (bimodality), with a strip plot of the
flagged points."""

from __future__ import annotations

import math

import measure_stats as ms
import spill_results as sr
import stats
from sections import common

KEY = "noise"
TITLE = "Noise: medians, confidence intervals, bimodal points"

NOISE_CONFIDENCE = 0.95


NOISE_METRIC = "items_per_second"


BIMODAL_WARNING = "repetitions fall into two groups: the median hides which one a rerun would see"


def noise_section(points: list[dict], confidence: float = NOISE_CONFIDENCE,
                  seed: int = ms.DEFAULT_SEED, resamples: int = ms.DEFAULT_RESAMPLES) -> dict:
    """Per point: median items/s, the percentile-bootstrap CI of that median
    (seeded, so the same input gives the same report), CV, n, and whether the
    repetitions fall into two groups (measure_stats.bimodality, which needs
    n >= BIMODALITY_MIN_N).  `status` is "bimodal", "unimodal" or "too few";
    a flagged row also has the two groups (split at the largest gap) with their
    medians and sizes, and its sorted values for the strip plot.  Points are
    labelled by scenario and the parameters that vary within that scenario."""
    if not points:
        return {"skip": "the input has no points"}
    keys = {scenario: common.varying_params([p for p in points if p["scenario"] == scenario])
            for scenario in {p["scenario"] for p in points}}
    keyed = []
    for point in points:
        values = [v for v in sr.metric_values(point, NOISE_METRIC) if math.isfinite(v)]
        ci = ms.bootstrap_median_ci(values, confidence, resamples=resamples, seed=seed)
        bim = ms.bimodality(values)
        row = {"id": point["id"], "scenario": point["scenario"],
               "label": common.label(point["params"], keys[point["scenario"]]) if keys[point["scenario"]]
               else "(the scenario's only point)",
               "median": ci.median, "ci_low": ci.low, "ci_high": ci.high,
               "cv": sr.summarize(values)["cv"], "n": len(values),
               "status": "bimodal" if bim.flag else ("too few" if bim.n < ms.BIMODALITY_MIN_N else "unimodal"),
               "reason": bim.reason, "groups": []}
        if bim.flag:
            row["groups"] = [{"median": stats.median([float(v) for v in group]), "n": int(len(group))}
                             for group in ms.split_at_largest_gap(values)]
            row["values"] = sorted(values)
        keyed.append(((point["scenario"], [common.sort_key(point["params"].get(k)) for k in keys[point["scenario"]]],
                       point["id"]), row))
    rows = [row for _, row in sorted(keyed, key=lambda kr: kr[0])]
    return {"rows": rows, "flagged": [r for r in rows if r["status"] == "bimodal"],
            "too_few": sum(1 for r in rows if r["status"] == "too few"),
            "tested": sum(1 for r in rows if r["status"] != "too few"),
            "confidence": confidence, "seed": seed, "resamples": resamples, "min_n": ms.BIMODALITY_MIN_N}


def plot_noise_bimodal(section: dict) -> bytes:
    """Strip plot of each flagged point's repetitions (one row per point):
    dots = repetitions, | = median, bar = bootstrap CI of the median,
    diamonds = the medians of the two groups."""
    flagged = section["flagged"]
    fig, ax = common.axes((8, max(2.4, 0.7 * len(flagged) + 1.4)))
    for row_index, row in enumerate(flagged):
        y = len(flagged) - 1 - row_index
        jitter = [((i % 5) - 2) * 0.06 for i in range(len(row["values"]))]
        ax.plot([v / 1e6 for v in row["values"]], [y + j for j in jitter], "o", color="C0", alpha=0.7,
                label="repetition" if row_index == 0 else None)
        ax.plot([row["ci_low"] / 1e6, row["ci_high"] / 1e6], [y - 0.3, y - 0.3], color="C1", linewidth=3,
                label=f"{section['confidence']:.0%} CI of the median" if row_index == 0 else None)
        ax.plot([row["median"] / 1e6], [y - 0.3], "|", color="black", markersize=14, markeredgewidth=2,
                label="median" if row_index == 0 else None)
        ax.plot([g["median"] / 1e6 for g in row["groups"]], [y + 0.3] * len(row["groups"]), "D", color="C3",
                label="group medians" if row_index == 0 else None)
    ax.set_yticks(range(len(flagged)))
    ax.set_yticklabels([f"{r['scenario']}: {r['label']}" for r in reversed(flagged)], fontsize=8)
    ax.set_ylim(-0.8, len(flagged) - 0.2)
    return common.finish(fig, ax, "bimodal points: every repetition", "",
                   xlabel="throughput (million items/s), higher is better", grid_axis="x", tight=True)


def _noise_groups(row: dict) -> str:
    """"groups at A items/s (k of n) and B items/s (n-k of n)", or "" when not flagged."""
    if not row["groups"]:
        return ""
    return "groups at " + " and ".join(f"{common.num(g['median'])} items/s ({g['n']} of {row['n']})" for g in row["groups"])


NOISE_STATUS_TEXT = {"bimodal": "BIMODAL", "unimodal": "no", "too few": "too few repetitions to test"}


def noise_blocks(noise: dict, figures: dict[str, dict]) -> list[tuple]:
    """The "Noise" section: CI table, bimodality flags, strip plot of flagged points."""
    blocks: list[tuple] = [("h2", "Noise: medians, confidence intervals, bimodal points")]
    if "skip" in noise:
        blocks.append(("p", f"No noise table: {noise['skip']}."))
        return blocks
    level = f"{noise['confidence']:.0%}"
    blocks.append(("p", f"Per point: the median items/s of the repetitions with a {level} percentile-bootstrap "
                        f"confidence interval of the median ({noise['resamples']} resamples, seed {noise['seed']}: "
                        "the same input always gives the same interval; with few repetitions it is coarse), "
                        "the CV, and whether the repetitions fall into two groups (Sarle's bimodality "
                        "coefficient plus a gap of at least "
                        f"{ms.BIMODALITY_MIN_GAP_SD:g} within-group standard deviations with at least 2 "
                        f"repetitions on each side; the test needs n >= {noise['min_n']})."))
    flagged = len(noise["flagged"])
    parts = []
    if noise["tested"]:
        parts.append(f"bimodal: {flagged} of the {sr.plural(noise['tested'], 'point')} with at least "
                     f"{noise['min_n']} repetitions")
    if noise["too_few"]:
        parts.append(f"{sr.plural(noise['too_few'], 'point')} with fewer than {noise['min_n']} repetitions: "
                     "too few repetitions to test, which says nothing either way (10 or more detect "
                     "well-separated groups reliably)")
    text = "; ".join(parts)
    blocks.append(("p", text[:1].upper() + text[1:] + "."))
    if "noise_bimodal" in figures:
        blocks.append(("p", f"Bimodal points, every repetition: {BIMODAL_WARNING}."))
        blocks.append(("img", "noise_bimodal", figures))
    blocks.append(("table", ["scenario", "point", "median items/s", f"{level} CI of the median", "CV", "n",
                             "bimodal", "groups (median, repetitions)"],
                   [[r["scenario"], r["label"], common.num(r["median"]),
                     f"{common.num(r['ci_low'])} .. {common.num(r['ci_high'])}", common.pct(r["cv"]), str(r["n"]),
                     NOISE_STATUS_TEXT[r["status"]], _noise_groups(r) or "-"] for r in noise["rows"]]))
    return blocks



def compute(ctx: dict) -> dict:
    return noise_section(ctx["points"])


def render_figures(data: dict) -> dict[str, dict]:
    if not data.get("flagged"):
        return {}
    return {"noise_bimodal": {"title": "Bimodal points", "png": plot_noise_bimodal(data)}}


def document_blocks(data: dict, figures: dict[str, dict]) -> list[tuple]:
    return noise_blocks(data, figures)
