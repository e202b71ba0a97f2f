"""What a point measured, in the terms the report's headline compares: the
contender, the job shape and the configuration.

A point's `facts` object (harness/SCHEMA.md: `contender` -- `spill` or a
queue's name --, `hands_rings`, `roles`, `job` such as `1->1`, `P->1`,
`P->M`, `handoffs_per_round`) and its `config` object (`capacity_items`,
`batch_items`) are used when the file has them.  Files without them (older
sweeps) get the same facts derived from the scenario and its parameters:

* contender: `baseline_<queue>` -> `<queue>`, a spill scenario -> `spill`;
* job: `facts.job` as spill-bench records it (`1->1`, `P->1`, `P->M`; jobs
  without an arrow, such as `1 thread` or `pipeline`, are not compared);
  without it, only for the scenarios that run the contenders' common job
  (`fan_in` and the baselines: `1->1` with one producer, else `P->1`;
  `backpressure`: the same with its consumer delay; `mpsm`: `P->M`); other
  scenarios measure a part of spill (a ring, a pool round) and have no job;
* slow consumer: `consumer_delay_ns` > 0, named with its delay and mode
  (points are compared only at the same delay); busy neighbours:
  `facts.busy_neighbours` (spill-bench's `--contend`, also `params.contend`)
  > 0; more producers than CPUs: `facts.producers_exceed_cpus` (the
  oversubscribed shape: producers beyond the machine's logical CPUs).

Pure functions over plain dicts.
"""

from __future__ import annotations

from typing import Any

BASELINE_PREFIX = "baseline_"
SPILL = "spill"
# spill-bench scenarios that run the job every contender runs, when the file
# has no facts.job: scenario -> fixed job, or None (derived from producers).
JOB_SCENARIOS = {"fan_in": None, "backpressure": None, "mpsm": "P->M"}
JOB_ORDER = ("1->1", "P->1", "P->M")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def contender(point: dict) -> str:
    facts = point.get("facts") if isinstance(point.get("facts"), dict) else {}
    if isinstance(facts.get("contender"), str) and facts["contender"]:
        return facts["contender"]
    scenario = point["scenario"]
    if scenario.startswith(BASELINE_PREFIX):
        return scenario[len(BASELINE_PREFIX):]
    return SPILL


def _job_from_params(point: dict) -> str | None:
    scenario = point["scenario"]
    if scenario.startswith(BASELINE_PREFIX) or scenario in JOB_SCENARIOS:
        fixed = JOB_SCENARIOS.get(scenario)
        if fixed:
            return fixed
        params = point.get("params", {})
        producers, mergers = _int(params.get("producers")), _int(params.get("mergers")) or 1
        if producers is None:
            return None
        if mergers > 1:
            return "P->M"
        return "1->1" if producers == 1 else "P->1"
    return None


def point_facts(point: dict) -> dict:
    """{"contender", "job", "slow_consumer", "busy_neighbours", "producers",
    "capacity_items", "batch_items", "hands_rings", "handoffs_per_round",
    "derived"}; job None when the point is not one of the common jobs;
    `derived` says whether facts came from the scenario name and parameters
    (no facts object in the file)."""
    facts = point.get("facts") if isinstance(point.get("facts"), dict) else {}
    config = point.get("config") if isinstance(point.get("config"), dict) else {}
    params = point.get("params", {})
    job = facts.get("job") if "job" in facts else _job_from_params(point)
    delay = _number(config.get("consumer_delay_ns", params.get("consumer_delay_ns")))
    neighbours = _number(facts.get("busy_neighbours", params.get("contend", params.get("busy_neighbours"))))
    mode = params.get("delay_mode")
    return {
        "contender": contender(point),
        "job": job if isinstance(job, str) and job else None,
        "slow_consumer": bool(delay and delay > 0),
        "consumer_delay_ns": delay,
        "delay_mode": mode if isinstance(mode, str) else None,
        "busy_neighbours": int(neighbours) if neighbours else 0,
        "producers_exceed_cpus": facts.get("producers_exceed_cpus") is True,
        "producers": _int(facts.get("producers", params.get("producers"))),
        "capacity_items": _int(config.get("capacity_items", params.get("ring_size"))),
        "batch_items": _int(config.get("batch_items", params.get("batch"))),
        "hands_rings": facts.get("hands_rings"),
        "handoffs_per_round": facts.get("handoffs_per_round"),
        "derived": "contender" not in facts,
    }


def job_label(facts: dict) -> str | None:
    """`1 -> 1`, `P -> 1 (slow consumer)`, ...; None without a job."""
    job = facts["job"]
    if job is None or "->" not in job:
        return None   # "1 thread", "pipeline": no other contender runs these jobs
    label = job.replace("->", " -> ")
    extras = []
    if facts["producers_exceed_cpus"]:
        extras.append("more producers than CPUs")
    if facts["slow_consumer"]:
        extras.append("slow consumer " + delay_text(facts["consumer_delay_ns"], facts.get("delay_mode")))
    if facts["busy_neighbours"]:
        n = facts["busy_neighbours"]
        extras.append("busy neighbour" if n == 1 else f"{n} busy neighbours")
    return label + (f" ({', '.join(extras)})" if extras else "")


def delay_text(delay_ns: float, mode: str | None) -> str:
    """`100 ns/item`, `20000 ns/batch blocking`: a consumer delay and how it is
    spent (spill-bench's delay modes), so only equal delays share a job."""
    per = "batch" if mode and mode.endswith("_batch") else "item"
    return f"{delay_ns:g} ns/{per}" + (" blocking" if mode and mode.startswith("block_") else "")


def job_sort_key(label: str) -> tuple:
    """The headline's order: 1 -> 1, P -> 1, P -> M, each before its variants."""
    base = label.split(" (")[0].replace(" ", "")
    rank = JOB_ORDER.index(base) if base in JOB_ORDER else len(JOB_ORDER)
    return (" (" in label, rank, label)


def configuration_label(point: dict) -> str:
    """The parameters that tell a contender's configurations apart."""
    f = point_facts(point)
    parts = []
    for key, name in (("producers", "P"), ("capacity_items", "capacity"), ("batch_items", "batch")):
        if f[key] is not None:
            parts.append(f"{name}={f[key]}")
    params = point.get("params", {})
    consumer = params.get("consumer")
    if consumer == "alone" or params.get("consumer_alone") == 1:
        # spill-micro's /consumer=alone, spill-bench's --consumer-alone 1: the consumer pinned to a CPU of its own
        parts.append("consumer alone")
    elif consumer == "with_producer":
        parts.append("consumer with producer")  # spill-micro: consumer and producer pinned to one CPU
    if params.get("one_cpu") == 1:
        parts.append("one CPU")  # spill-bench's --one-cpu 1: the point's threads pinned to one CPU
    if f["consumer_delay_ns"]:
        parts.append(f"delay={f['consumer_delay_ns']:g} ns")
    mode = params.get("delay_mode")
    if f["slow_consumer"] and isinstance(mode, str):
        parts.append(mode)
    mergers = _int(params.get("mergers"))
    if f["job"] == "P->M" and mergers is not None:
        parts.append(f"M={mergers}")
    return ", ".join(parts) or point["id"]
