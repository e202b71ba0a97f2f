"""The headline: per job shape, every contender at its best configuration.

For each job shape (1 -> 1, P -> 1, P -> M, and each with a slow consumer
or a busy neighbour; facts.py says how a point's job and contender are
found), every contender that ran it is shown at its best configuration
(the one with the highest median throughput), with a bootstrap CI of that
median, and its ratio to the best peer (the fastest other contender) with
a bootstrap CI of the ratio.  One sentence per job, computed from those
numbers, says what the run shows: who wins, by how much, and whether the
interval excludes a tie -- including when spill loses.

Points that failed their checks are left out (their numbers are not valid).
A configuration that lost items to overflow ranks on the items its consumer
received: spill-bench records `items_per_second` as delivered items per
second (its repetitions then also carry `produced_items_per_second`), and
the entry says what share overflowed.  A file without that field (older
spill-bench, spill-micro) counted produced items, so its lossy
configurations are left out, as their rate counts items the consumer never
got.
"""

from __future__ import annotations

import facts
import measure_stats as ms
import spill_results as sr
import stats
from sections import common

KEY = "headline"
TITLE = "Headline: every contender on each job"
METRIC = "items_per_second"


def lost_items(point: dict) -> float:
    """Items that did not reach the consumer: overflowed (evicted into the
    overflow spout) or dropped; from the check totals, else from an
    `overflowed` counter (spill-micro)."""
    checks = point["checks"]
    total = 0.0
    found = False
    for key in ("overflowed", "dropped"):
        value = checks.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            total += value
            found = True
    if not found:
        for rep in point["repetitions"]:
            value = (rep.get("counters") or {}).get("overflowed")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                total += value
    return total


def delivered_rate_recorded(point: dict) -> bool:
    """Whether the point's `items_per_second` counts delivered items: every
    repetition also records `produced_items_per_second` (spill-bench since
    the delivered rate; harness/SCHEMA.md, version history)."""
    reps = point["repetitions"]
    return bool(reps) and all(isinstance(rep, dict) and "produced_items_per_second" in rep for rep in reps)


def _overflow_note(point: dict) -> str:
    lost, produced = lost_items(point), point["checks"].get("produced")
    if lost <= 0:
        return ""
    if isinstance(produced, (int, float)) and not isinstance(produced, bool) and produced > 0:
        return f", {100.0 * lost / produced:.3g}% overflowed"
    return ", items overflowed"


def _entry(contender: str, candidates: list[dict], seed: int) -> dict | None:
    measured = [(common.median_or_none(p, METRIC), p) for p in candidates]
    measured = [(m, p) for m, p in measured if m is not None]
    if not measured:
        return None
    med, best = max(measured, key=lambda mp: (mp[0], mp[1]["id"]))
    values = sr.metric_values(best, METRIC)
    ci = ms.bootstrap_median_ci(values, seed=seed)
    return {"contender": contender, "id": best["id"], "configuration": facts.configuration_label(best) + _overflow_note(best),
            "configurations": len(measured), "values": values, "median": med, "n": len(values),
            "ci_low": ci.low, "ci_high": ci.high, "ci_reason": ci.reason}


def _times(x: float) -> str:
    return f"{x:.2f}x"


def _ci_text(low, high, reason) -> str:
    return f"95% CI {low:.2f}-{high:.2f}" if low is not None else f"CI undefined: {reason}"


def sentence(job: dict) -> str:
    """What the run shows for one job, from its entries only."""
    label, entries = job["label"], job["entries"]
    if len(entries) == 1:
        only = entries[0]
        return (f"{label}: only {only['contender']} ran this job ({common.num(only['median'] / 1e6, '.3g')} M items/s "
                f"at {only['configuration']}); there is no peer to compare with.")
    spill = next((e for e in entries if e["contender"] == facts.SPILL), None)
    if spill is None:
        top, second = entries[0], entries[1]
        absent = ("every spill configuration lost items to overflow" if facts.SPILL in job.get("excluded", {})
                  else "spill did not run this job")
        return (f"{label}: {absent}; {top['contender']} is fastest at "
                f"{_times(top['ratio'])} the next, {second['contender']} "
                f"({_ci_text(top['ratio_ci_low'], top['ratio_ci_high'], top['ratio_ci_reason'])}).")
    r, peer = spill["ratio"], spill["peer"]
    ci = _ci_text(spill["ratio_ci_low"], spill["ratio_ci_high"], spill["ratio_ci_reason"])
    where = f"spill at {spill['configuration']}, {peer} at {spill['peer_configuration']}"
    if spill["ratio_ci_low"] is None:
        verb = "is ahead of" if r > 1.0 else "is behind"
        return (f"{label}: spill {verb} the best peer, {peer}, at {_times(r)} ({ci}; {where}); "
                "the run cannot say whether that is beyond noise.")
    if spill["ratio_ci_low"] > 1.0:
        return f"{label}: spill wins: {_times(r)} the throughput of the best peer, {peer} ({ci}; {where})."
    if spill["ratio_ci_high"] < 1.0:
        return (f"{label}: spill loses: {peer} is {_times(1.0 / r)} faster; spill reaches {_times(r)} of it "
                f"({ci}; {where}).")
    return (f"{label}: no clear winner: spill is at {_times(r)} the best peer, {peer}, and the interval "
            f"includes a tie ({ci}; {where}).")


def compute(ctx: dict) -> dict:
    """{"jobs": [{"label", "entries", "sentence"}], "left_out_failed", "without_job"} or {"skip"}."""
    seed = stats.DEFAULT_SEED
    valid = [p for p in ctx["points"] if p["checks"].get("passed") is not False]
    groups: dict[str, dict[str, list[dict]]] = {}
    without_job = 0
    lossy: dict[str, dict[str, list[str]]] = {}
    for point in valid:
        f = facts.point_facts(point)
        job = facts.job_label(f)
        if job is None:
            without_job += 1
            continue
        if lost_items(point) > 0 and not delivered_rate_recorded(point):
            # Its items per second count items the consumer never got: not the same job.
            lossy.setdefault(job, {}).setdefault(f["contender"], []).append(point["id"])
            continue
        groups.setdefault(job, {}).setdefault(f["contender"], []).append(point)
    jobs = []
    for job in sorted(set(groups) | set(lossy), key=facts.job_sort_key):
        entries = [e for e in (_entry(c, pts, seed) for c, pts in sorted(groups.get(job, {}).items()))
                   if e is not None]
        excluded = {c: len(ids) for c, ids in sorted(lossy.get(job, {}).items())}
        if not entries:
            jobs.append({"label": job, "entries": [], "excluded": excluded,
                         "sentence": f"{job}: every configuration lost items to overflow "
                                     f"({', '.join(f'{c}: {n}' for c, n in excluded.items())}); nothing to rank."})
            continue
        entries.sort(key=lambda e: (-e["median"], e["contender"]))
        for entry in entries:
            peers = [e for e in entries if e is not entry]
            entry.update(peer=None, peer_configuration=None, ratio=None, ratio_ci_low=None, ratio_ci_high=None,
                         ratio_ci_reason="no peer ran this job")
            if not peers:
                continue
            peer = peers[0]
            ratio = stats.median_ratio(peer["values"], entry["values"])
            ci = stats.bootstrap_ratio_ci(peer["values"], entry["values"], seed=seed)
            entry.update(peer=peer["contender"], peer_configuration=peer["configuration"], ratio=ratio.value,
                         ratio_ci_low=ci.low, ratio_ci_high=ci.high, ratio_ci_reason=ci.reason or ratio.reason)
        record = {"label": job, "entries": entries, "excluded": excluded}
        record["sentence"] = sentence(record)
        gone = [c for c in excluded if c not in {e["contender"] for e in entries} and c != facts.SPILL]
        if gone:
            record["sentence"] += (f" Not ranked: {', '.join(gone)} (every configuration of it lost items to "
                                   "overflow).")
        jobs.append(record)
    out = {"jobs": jobs, "left_out_failed": len(ctx["points"]) - len(valid), "without_job": without_job,
           "derived": any(facts.point_facts(p)["derived"] for p in valid)}
    if not jobs:
        out["skip"] = ("no point runs a job two contenders can share (fan_in, the baseline_* queues, backpressure, "
                       "mpsm in a sweep; fanin/<contender>/P=... in spill-micro)")
    return out


def render_figures(data: dict) -> dict[str, dict]:
    jobs = [job for job in data.get("jobs", []) if job["entries"]]
    if not jobs:
        return {}
    plt = common.pyplot()
    # A fixed height per bar (no cap on the figure): every label stays legible
    # however many contenders and jobs the run has.
    heights = [0.6 + 0.24 * len(job["entries"]) for job in jobs]
    fig, axes = plt.subplots(len(jobs), 1, figsize=(9.6, 0.9 + sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for ax, job in zip(axes[:, 0], jobs):
        entries = list(reversed(job["entries"]))
        ys = range(len(entries))
        medians = [e["median"] / 1e6 for e in entries]
        low = [(e["median"] - e["ci_low"]) / 1e6 if e["ci_low"] is not None else 0.0 for e in entries]
        high = [(e["ci_high"] - e["median"]) / 1e6 if e["ci_high"] is not None else 0.0 for e in entries]
        colors = ["tab:red" if e["contender"] == facts.SPILL else "tab:gray" for e in entries]
        ax.barh(list(ys), medians, xerr=[low, high], color=colors, capsize=3, height=0.6)
        ax.set_yticks(list(ys))
        ax.set_yticklabels([f"{e['contender']} ({e['configuration']})" for e in entries], fontsize=8)
        ax.set_title(job["label"], fontsize=10, loc="left")
        ax.grid(True, axis="x", alpha=0.3)
        ax.set_xlim(left=0)
    axes[-1, 0].set_xlabel("throughput at the best configuration (million items/s, median)\n"
                           "bars: 95% CI of the median; higher is better")
    fig.tight_layout()
    return {"headline": {"title": "Every contender at its best configuration, per job", "png": common.png(fig)}}


def document_blocks(data: dict, figures: dict[str, dict]) -> list[tuple]:
    blocks: list[tuple] = [("h2", TITLE)]
    if data.get("skip"):
        blocks.append(("p", f"No headline: {data['skip']}."))
        return blocks
    blocks.append(("list", [job["sentence"] for job in data["jobs"]]))
    blocks.append(("p", "Each contender at its best configuration (highest median throughput over the "
                        "configurations it ran for the job); the ratio is its median over the best peer's "
                        "median, with a 95% percentile-bootstrap interval over both sides' repetitions "
                        f"(seed {stats.DEFAULT_SEED}). Spill is red. Higher is better."))
    notes = []
    lossy = sum(n for job in data["jobs"] for n in job["excluded"].values())
    if lossy:
        notes.append(f"{sr.plural(lossy, 'configuration')} that lost items to overflow (evicted into the overflow "
                     "spout or dropped) are not eligible: their file records produced items per second, which count "
                     "items the consumer never got.")
    if data["left_out_failed"]:
        notes.append(f"{sr.plural(data['left_out_failed'], 'point')} failed their checks and are left out.")
    if data["derived"]:
        notes.append("Contender and job come from the scenario names and parameters (the input has no facts "
                     "objects): baseline_<queue> is <queue>; fan_in, backpressure and mpsm are spill.")
    if notes:
        blocks.append(("p", " ".join(notes)))
    if "headline" in figures:
        blocks.append(("img", "headline", figures))
    rows = []
    for job in data["jobs"]:
        for e in job["entries"]:
            ratio_ci = (f"{e['ratio_ci_low']:.2f} .. {e['ratio_ci_high']:.2f}" if e["ratio_ci_low"] is not None
                        else f"undefined: {e['ratio_ci_reason']}")
            ci = (f"{common.num(e['ci_low'] / 1e6)} .. {common.num(e['ci_high'] / 1e6)}" if e["ci_low"] is not None
                  else f"undefined: {e['ci_reason']}")
            rows.append([job["label"], e["contender"], e["configuration"], common.num(e["median"] / 1e6), ci,
                         common.num(e["ratio"], ".3f") if e["ratio"] is not None else "no peer",
                         ratio_ci if e["ratio"] is not None else "-", e["peer"] or "-", str(e["n"]), e["id"]])
    blocks.append(("table", ["job", "contender", "best configuration", "median (M items/s)", "95% CI of the median",
                             "ratio to best peer", "95% CI of the ratio", "best peer", "n", "point id"], rows))
    return blocks
