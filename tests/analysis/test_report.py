"""Specification of the report generator (analysis/report.py)."""

from __future__ import annotations

import base64
import os
import re

import pytest

import report
import spill_results as sr
import synth
from conftest import BASE, FAILED_ID, MINIMAL

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    """The report of the base fixture, generated once through the CLI."""
    from conftest import run_cli
    out = tmp_path_factory.mktemp("full") / "report"
    result = run_cli("report.py", BASE, "-o", str(out))
    assert result.returncode == 0, result.stderr
    return {"dir": out, "stdout": result.stdout,
            "md": (out / "report.md").read_text(encoding="utf-8"),
            "html": (out / "report.html").read_text(encoding="utf-8")}


@pytest.fixture(scope="module")
def minimal_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("minimal")
    data = report.build_report(report.load_inputs([MINIMAL]))
    figures = report.render_figures(data)
    blocks = report.document_blocks(data, figures)
    report.write_report(str(out), report.render_markdown(blocks), report.render_html(blocks), figures)
    return {"data": data, "md": (out / "report.md").read_text(), "html": (out / "report.html").read_text()}


def test_report_writes_markdown_and_html(full_report):
    assert (full_report["dir"] / "report.md").is_file()
    assert (full_report["dir"] / "report.html").is_file()
    assert "report.md" in full_report["stdout"] and "report.html" in full_report["stdout"]


def test_markdown_starts_with_the_failed_checks_section_naming_the_failed_point(full_report):
    sections = [line for line in full_report["md"].splitlines() if line.startswith("## ")]
    assert sections[0] == "## FAILED CHECKS"
    failed_section = full_report["md"].split("## FAILED CHECKS", 1)[1].split("\n## ", 1)[0]
    assert FAILED_ID in failed_section and "fifo violated" in failed_section


def test_html_shows_the_failed_point_in_a_red_box_before_anything_else(full_report):
    page = full_report["html"]
    box_start = page.index('<div class="failed-checks"')
    box = page[box_start: page.index("</div>", box_start)]
    assert "#c00000" in page[box_start: box_start + 200]         # red border/text inline
    assert FAILED_ID in box
    body = page[page.index("<body>"):]
    first_h2 = body.index("<h2>")
    assert body.index('<div class="failed-checks"') < first_h2       # the box comes first
    assert body[first_h2:].startswith("<h2>FAILED CHECKS</h2>")       # and holds the first heading
    assert body.index("FAILED CHECKS") < body.index("Run metadata")


def test_html_is_self_contained_with_every_plot_embedded_as_png(full_report):
    page = full_report["html"]
    sources = re.findall(r'src="([^"]*)"', page)
    plot_files = sorted(os.listdir(full_report["dir"] / "plots"))
    assert len(sources) == len(plot_files) == 9
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)
    assert "<link" not in page and "<script" not in page


def test_markdown_references_the_written_plot_files(full_report):
    referenced = re.findall(r"!\[[^\]]*\]\((plots/[^)]+\.png)\)", full_report["md"])
    assert len(referenced) == 9
    for rel in referenced:
        assert (full_report["dir"] / rel).read_bytes().startswith(PNG_MAGIC)


def test_report_has_every_required_plot(full_report):
    names = set(os.listdir(full_report["dir"] / "plots"))
    # The headline; scaling holds the common-job contenders on one plot and every line's speedup on another.
    for expected in ("headline.png", "scaling_job.png", "scaling_part.png", "speedup.png", "backpressure.png", "mergers.png",
                     "baselines.png", "ring_ring_size.png", "counters_per_item.png"):
        assert expected in names


def test_metadata_block_shows_machine_topology_commit_flags_kernel_and_date(full_report):
    md = full_report["md"]
    for label, value in (("machine", "Synthetic CPU @ 2.0GHz"), ("topology", "1 package, 1 NUMA node"),
                         ("commit", "0123abc"), ("flags", "-O2 -g -std=c++20"),
                         ("kernel", "Linux 6.1.0-synthetic"), ("date (UTC)", "2026-11-24T12:00:00Z")):
        assert re.search(rf"^\| {re.escape(label)} \| .*{re.escape(value)}", md, re.M), label


def test_unavailable_counters_are_listed_with_their_reason(full_report):
    section = full_report["md"].split("### Unavailable counters", 1)[1].split("\n## ", 1)[0]
    assert "PAPI_TOT_CYC" in section and "perf_event exposes no hardware counters" in section
    counters = full_report["md"].split("### Counters per item", 1)[1].split("\n### ", 1)[0]
    assert "PAPI_TOT_CYC" not in counters


def test_plots_say_which_way_is_better():
    data = report.build_report(report.load_inputs([BASE]))
    blocks = report.document_blocks(data, report.render_figures(data))
    text = report.render_markdown(blocks)
    assert text.count("Higher is better") >= 3 and "Lower is better" in text


def test_baselines_are_compared_with_fan_in_at_the_same_producers_and_ring_size():
    data = report.build_report(report.load_inputs([BASE]))["baselines"]
    assert data["names"] == ["fan_in", "baseline_moodycamel_cq", "baseline_tbb_bounded_blocking"]
    assert [g["label"] for g in data["groups"]] == ["producers=1, ring_size=1024", "producers=2, ring_size=1024",
                                                    "producers=4, ring_size=1024"]
    for row in data["rows"]:
        base_params = sr.points_by_id(sr.load(BASE))[row["baseline_id"]]["params"]
        ref_params = sr.points_by_id(sr.load(BASE))[row["reference_id"]]["params"]
        assert ref_params["producers"] == base_params["producers"]
        assert ref_params["ring_size"] == base_params["ring_size"]
        assert row["matched_on"] == "all shared parameters"
    tbb = [row["speedup"] for row in data["rows"] if row["baseline"] == "baseline_tbb_bounded_blocking"]
    assert all(1.5 < s < 2.5 for s in tbb)       # the fixture's TBB runs at ~55-70% of fan_in


def test_backpressure_shares_are_percent_of_produced_items():
    line = report.build_report(report.load_inputs([BASE]))["backpressure"]["lines"][0]
    assert line["x"] == [0, 100, 1000, 10000]
    first, last = line["values"][0], line["values"][-1]
    assert first["delivered"] == 100.0 and first["overflowed"] == 0.0
    assert last["delivered"] + last["overflowed"] == pytest.approx(100.0)
    assert last["merged_back"] > 0


def test_mergers_plot_has_one_line_per_producer_count():
    lines = report.build_report(report.load_inputs([BASE]))["mergers"]["lines"]
    assert [line["label"] for line in lines] == ["producers=2", "producers=4"]
    assert all(line["x"] == [1, 2, 4] for line in lines)


def test_speedup_is_relative_to_one_producer_on_the_same_line():
    speed = report.build_report(report.load_inputs([BASE]))["throughput"]["speedup"]
    fan_in = next(entry for entry in speed if entry["scenario"] == "fan_in")
    for line in fan_in["lines"]:
        assert line["speedup"][0] == 1.0 and line["x"][0] == 1


def test_counters_per_item_divides_totals_by_items_and_skips_null_counters():
    values = report.build_report(report.load_inputs([BASE]))["counters"]["values"]
    assert "PAPI_TOT_CYC" not in values
    assert values["PAPI_TOT_INS"]["fan_in"] == pytest.approx(values["instructions_per_item"]["fan_in"])
    assert values["allocations"]["fan_in"] == 0.0


def test_absent_data_skips_plots_with_a_sentence_saying_why(minimal_report):
    md = minimal_report["md"]
    assert "No throughput-vs-producers line for `fan_in`: only producers=1 was measured." in md
    assert "No ring-size plot: no scenario was measured at two or more ring sizes or batch sizes." in md
    assert "- 1 -> 1: only spill ran this job" in md
    assert "No backpressure plot: no points of scenario `backpressure` in the input." in md
    assert "No mergers plot: no points of scenario `mpsm` in the input." in md
    assert "No baseline comparison: no `baseline_*` scenarios in the input." in md
    assert "No mergers plot" in minimal_report["html"]


def test_report_without_failures_has_no_failed_section(minimal_report):
    assert "FAILED CHECKS" not in minimal_report["md"]
    assert "failed-checks\"" not in minimal_report["html"]
    assert "All 1 point passed" in minimal_report["md"]


def test_report_pools_shards_into_one_report(tmp_path, cli):
    doc = sr.load(BASE)
    half = len(doc["points"]) // 2
    first = dict(doc, points=doc["points"][:half], metadata=dict(doc["metadata"], shard={"index": 0, "count": 2}))
    second = dict(doc, points=doc["points"][half:], metadata=dict(doc["metadata"], shard={"index": 1, "count": 2}))
    a, b = synth.write(tmp_path / "a.json", first), synth.write(tmp_path / "b.json", second)
    result = cli("report.py", a, b, "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "out" / "report.md").read_text()
    assert f"({len(doc['points'])} points)" in md
    assert re.search(r"^\| shard \| 0 of 2 \| 1 of 2 \|$", md, re.M)
    assert FAILED_ID in md.split("## FAILED CHECKS", 1)[1].split("\n## ", 1)[0]


def test_oversubscribed_points_are_counted_per_scenario_and_marked_in_the_table():
    inputs = report.load_inputs([BASE])
    over = [p for _, doc in inputs for p in doc["points"] if p.get("oversubscribed")]
    assert over, "the fixture has oversubscribed points"
    data = report.build_report(inputs)
    [note] = [n for n in data["notes"] if "oversubscribed" in n]
    assert note.startswith(f"{len(over)} point")
    for scenario in {p["scenario"] for p in over}:
        assert f"{scenario} {sum(p['scenario'] == scenario for p in over)}" in note
    assert over[0]["id"] not in note  # counted, not listed: the table marks each point
    md = report.render_markdown(report.document_blocks(data, report.render_figures(data)))
    table = md.split("## All points", 1)[1]
    marked = [line for line in table.splitlines() if line.startswith("| ") and "| yes |" in line]
    assert len(marked) == len(over)


def test_report_escapes_html_in_metadata(tmp_path):
    doc = synth.simple_doc({"a": [1e6, 1.1e6]})
    doc["metadata"]["cpu_model"] = "<script>alert(1)</script>"
    data = report.build_report([("x.json", doc)])
    page = report.render_html(report.document_blocks(data, report.render_figures(data)))
    assert "<script>" not in page and "&lt;script&gt;" in page


def _with_floors_and_cost(doc: dict) -> dict:
    """Adds the floors and cost fields, as spill-bench writes them, to a synthetic document."""
    doc["metadata"]["floors"] = {
        "cpus": [0, 1],
        "ping_pong": {"status": {"ok": True}, "round_trip_ns": {"median": 340.0}},
        "line_transfer": {"status": {"ok": True}, "one_way_ns": 200.0},
        "masked_store": {"status": {"ok": True}, "ns_per_store": {"median": 0.5}},
    }
    for index, point in enumerate(doc["points"]):
        ns = 1e9 / point["summary"]["items_per_second"]["median"]
        floor = 2 * 200.0 / 500.0
        point["summary"]["floor_multiples"] = {"ns_per_item": ns, "items_per_handoff": 500.0,
                                               "handoff_floor_per_item_ns": floor, "item_over_handoff_floor": ns / floor}
        point["cost"] = {"roles": {"producer": {"cpu_seconds_per_million_items": 2.0 + index},
                                   "consumer": {"cpu_seconds_per_million_items": 1.0}},
                         "items": 1000, "handoffs": 2, "allocations_per_round": 0.0}
    return doc


def test_floors_and_cost_section_shows_floors_multiples_and_cost_per_role():
    doc = _with_floors_and_cost(synth.simple_doc({"a": [1e6, 1e6], "b": [2e6, 2e6]}))
    data = report.build_report([("x.json", doc)])
    fc = data["floors_cost"]
    assert fc["floors"][0]["line_ns"] == 200.0 and fc["floors"][0]["ok"]
    assert [m["multiple"] for m in fc["multiples"]] == pytest.approx([1000.0 / 0.8, 500.0 / 0.8])
    assert fc["cost"]["fan_in"] == {"producer": 2.5, "consumer": 1.0}     # median over the two points
    figures = report.render_figures(data)
    assert figures["cost_per_role"]["png"].startswith(PNG_MAGIC)
    md = report.render_markdown(report.document_blocks(data, figures))
    section = md.split("## Cost: floors, CPU per role, counters", 1)[1].split("\n## ", 1)[0]
    assert "one-way line transfer" in section and "| 200 |" in section and "1250" in section
    assert "Lower is better" in section


def test_floors_and_cost_section_is_skipped_for_files_without_them(minimal_report):
    assert minimal_report["data"]["floors_cost"]["skip"]
    section = minimal_report["md"].split("## Cost: floors, CPU per role, counters", 1)[1].split("\n## ", 1)[0]
    assert section.strip().startswith("No floors or cost:")


def test_floors_skipped_by_no_calibrate_still_show_cost():
    doc = _with_floors_and_cost(synth.simple_doc({"a": [1e6]}))
    doc["metadata"]["floors"] = {"skipped": "--no-calibrate"}
    data = report.build_report([("x.json", doc)])
    md = report.render_markdown(report.document_blocks(data, report.render_figures(data)))
    section = md.split("## Cost: floors, CPU per role, counters", 1)[1].split("\n## ", 1)[0]
    assert "No floors table" in section and "cost_per_role" in section


def test_scaling_puts_every_contender_of_the_n_to_1_job_on_one_plot():
    groups = report.build_report(report.load_inputs([BASE]))["throughput"]["groups"]
    job = next(g for g in groups if g["kind"] == "job")
    # The fixture's points carry facts, so each line names its contender too.
    assert {line["label"] for line in job["lines"]} == {"fan_in/spill", "baseline_moodycamel_cq/moodycamel_cq",
                                                         "baseline_tbb_bounded_blocking/tbb_bounded_blocking"}
    part = next(g for g in groups if g["kind"] == "part")
    assert "mpsm/spill" in {line["label"] for line in part["lines"]}
    for line in job["lines"]:        # at each producer count, the best configuration of that scenario
        assert line["x"] == sorted(line["x"]) and len(line["ids"]) == len(line["x"])
