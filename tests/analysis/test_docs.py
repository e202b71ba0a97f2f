"""analysis/docs.py (`./bench docs`): every figure of a document sits in a
generated block that a generator rewrites from result files, and --check
fails on a block that drifted from its data.

The fixture tree is assembled in a temporary root: results/sample.json is
fixtures/docs/sample.json, the real sweep `bench_small.json` trimmed to what
the headline and the floors read (id, scenario, params, checks, and per
repetition seconds, items, items_per_second and checks; the metadata that
says where it comes from, and the floors), results/perf-runs/ six `./bench perf` runs
(fixtures/docs/perf-runs; the newest also keeps its hwloc topology, which names
its CPU), results/sample-gate-proof/ one prove_gate.py file
written before provenance was recorded and one after (fixtures/docs/gate-proof),
and results/sample-report/headline.png a 1-pixel PNG tagged with the
checksum of the sample. `fixtures/docs/doc.expected.md` is the golden
output for `fixtures/docs/doc.md`; after a deliberate change of a generator,
`/usr/bin/python3 tests/analysis/test_docs.py` writes it again (read the
diff before committing it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

import pytest

from conftest import FIXTURES, ROOT, run_cli

import browser_check
import docs
import prove_gate
import spill_results as sr

DOCS_FIXTURES = os.path.join(FIXTURES, "docs")
DOC = os.path.join(DOCS_FIXTURES, "doc.md")
EXPECTED = os.path.join(DOCS_FIXTURES, "doc.expected.md")
SAMPLE = os.path.join(DOCS_FIXTURES, "sample.json")
DOC_IN_ROOT = os.path.join("docs", "guide", "doc.md")   # two levels down: links must be relative to it


def tiny_png() -> bytes:
    """A valid 1x1 RGB PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def make_root(base, png: str = "matching") -> str:
    """The fixture tree under `base`; png: "matching", "other" (tagged with another checksum) or "none"."""
    root = str(base)
    results = os.path.join(root, "results")
    os.makedirs(os.path.join(results, "sample-report"))
    shutil.copy(SAMPLE, os.path.join(results, "sample.json"))
    shutil.copytree(os.path.join(DOCS_FIXTURES, "perf-runs"), os.path.join(results, "perf-runs"))
    shutil.copytree(os.path.join(DOCS_FIXTURES, "gate-proof"), os.path.join(results, "sample-gate-proof"))
    if png != "none":
        digest = sha256(SAMPLE) if png == "matching" else "0" * 64
        tag = json.dumps([{"path": "results/sample.json", "sha256": digest}])
        with open(os.path.join(results, "sample-report", "headline.png"), "wb") as handle:
            handle.write(browser_check.png_with_text(tiny_png(), {browser_check.PNG_INPUTS_KEY: tag}))
    os.makedirs(os.path.join(root, os.path.dirname(DOC_IN_ROOT)))
    shutil.copy(DOC, os.path.join(root, DOC_IN_ROOT))
    return root


def read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def block_text(name: str, root: str, doc_dir: str | None = None) -> str:
    return "\n".join(docs.GENERATORS[name](docs.Context(root, doc_dir or root)))


# ------------------------------------------------------------------ golden


def test_every_block_is_rewritten_from_the_fixture_data_as_the_golden_file_says(tmp_path):
    root = make_root(tmp_path)
    doc = os.path.join(root, DOC_IN_ROOT)
    result = run_cli("docs.py", "--root", root, doc)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("docs: rewrote") == 4
    assert read(doc) == read(EXPECTED)
    # Text outside the blocks is untouched.
    assert "Text outside the blocks stays as it is." in read(doc) and read(doc).endswith("The end.\n")


def test_check_names_every_stale_block_and_writes_nothing_then_passes_once_rewritten(tmp_path):
    root = make_root(tmp_path)
    doc = os.path.join(root, DOC_IN_ROOT)
    before = read(doc)
    result = run_cli("docs.py", "--check", "--root", root, doc)
    assert result.returncode == 1
    stale = [line for line in result.stdout.splitlines() if "is stale" in line]
    assert stale == [f"{doc}:5: block 'perf-targets' is stale (./bench docs rewrites it)",
                     f"{doc}:13: block 'headline' is stale (./bench docs rewrites it)",
                     f"{doc}:18: block 'floors' is stale (./bench docs rewrites it)",
                     f"{doc}:24: block 'gate-proof' is stale (./bench docs rewrites it)"]
    assert read(doc) == before
    assert run_cli("docs.py", "--root", root, doc).returncode == 0
    again = run_cli("docs.py", "--check", "--root", root, doc)
    assert again.returncode == 0, again.stdout
    # A figure edited by hand inside a block is caught.
    current = read(doc)
    with open(doc, "w", encoding="utf-8") as handle:
        handle.write(current.replace("| T1 |", "| T1 (edited) |", 1))
    edited = run_cli("docs.py", "--check", "--root", root, doc)
    assert edited.returncode == 1 and "'perf-targets' is stale" in edited.stdout


def test_the_documents_of_the_repository_are_current():
    result = run_cli("docs.py", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


# ----------------------------------------------------------- perf-targets


def test_the_perf_targets_table_covers_the_last_five_runs_and_applies_the_rule(tmp_path):
    text = block_text("perf-targets", make_root(tmp_path))
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in text.splitlines()
            if line.startswith("| T") or line.startswith("| H")}
    # Six runs on disk, the oldest left out: five run columns.
    assert "| run 5 | passed |" in text and "run 6" not in text and "20261118T090000Z" not in text
    assert rows["T1"][2:8] == ["pass", "pass", "pass", "pass", "pass", "5/5"]
    assert rows["T4"][2:8] == ["pass", "MISS", "pass", "MISS", "MISS", "2/5"]
    assert rows["T11"][2:8] == ["absent", "absent", "pass", "pass", "pass", "3/5"]
    assert rows["T6"][7:10] == ["4/5", "1", "<= 0"]          # latest measured value and bound
    assert rows["H"][10].startswith("P=1: 1.40x moodycamel \\| P=2")  # a | in a note is escaped
    assert "Not met by T4, T11." in text
    # Provenance: host, commit with its dirty flag, date of every run, and the command.
    assert "`20261120T090000Z-vm-3333333-dirty`: host `vm`, commit `3333333` (with uncommitted changes)" in text
    # The CPU, where the run kept its topology (hosts of one name are not always one machine).
    assert ("`20261123T090000Z-vm-6666666`: host `vm` (AMD EPYC, family 26, model 2), commit `6666666` (clean), "
            "2026-11-23T09:00:00+00:00") in text
    assert "`20261121T090000Z-vm-4444444`: host `vm`, commit" in text
    assert "`20261122T090000Z-ci-5555555`: host `ci`, commit not recorded" in text
    assert text.splitlines()[-1].startswith("<sub>Data: `results/perf-runs/<run>/targets.json`")
    assert "`./bench perf`" in text.splitlines()[-1]


def test_a_run_whose_cross_core_latency_changed_says_so_in_the_list_of_runs(tmp_path):
    root = make_root(tmp_path)
    path = os.path.join(root, "results", "perf-runs", "20261123T090000Z-vm-6666666", "targets.json")
    doc = json.loads(read(path))
    doc["cross_core_latency"] = {"metric": "ref_pingpong_pause real_time (ns)", "min_ns": 60.0, "max_ns": 470.0,
                                 "repetitions": 7, "changed": True, "near_repetitions": 5, "far_repetitions": 2}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)
    text = block_text("perf-targets", root)
    line = next(x for x in text.splitlines() if "20261123T090000Z-vm-6666666" in x)
    assert line.endswith("; a cache-line ping-pong took 60-470 ns across its repetitions "
                         "(the host moved the cores apart during the run)")
    # A run without the record (checked before it existed) says nothing of it.
    assert sum("the host moved the cores apart" in x for x in text.splitlines()) == 1


def test_with_fewer_than_five_runs_the_rule_is_not_met_yet(tmp_path):
    root = make_root(tmp_path)
    runs = os.path.join(root, "results", "perf-runs")
    for name in sorted(os.listdir(runs))[:3]:
        shutil.rmtree(os.path.join(runs, name))
    text = block_text("perf-targets", root)
    assert "There are 3 of the 5 runs the rule needs, so it is not met yet." in text
    assert "| run 3 | passed |" in text and "run 4" not in text


def test_inside_a_git_work_tree_only_the_runs_git_tracks_count(tmp_path):
    root = make_root(tmp_path)
    runs = sorted(os.listdir(os.path.join(root, "results", "perf-runs")))
    subprocess.run(["git", "init", "-q", root], check=True)
    subprocess.run(["git", "-C", root, "add", *[f"results/perf-runs/{r}/targets.json" for r in runs[:2]]], check=True)
    doc = os.path.join(root, DOC_IN_ROOT)
    result = run_cli("docs.py", "--root", root, doc)
    assert result.returncode == 0, result.stderr
    assert f"left out 4 run(s) of results/perf-runs that git does not track: {', '.join(runs[2:])}" in result.stderr
    text = read(doc)
    assert "| run 2 | passed |" in text and "run 3" not in text
    assert f"2. `{runs[1]}`" in text and runs[2] not in text
    assert "There are 2 of the 5 runs the rule needs" in text
    # Nothing tracked: no data.
    subprocess.run(["git", "-C", root, "rm", "-q", "--cached", "-r", "results"], check=True)
    assert run_cli("docs.py", "--root", root, doc).returncode == 0
    assert "No data: `results/perf-runs/<run>/targets.json` does not exist (or git does not track it)" in read(doc)


# ----------------------------------------------------------- headline and floors


def test_the_headline_block_is_the_report_s_headline_of_the_sample(tmp_path):
    from sections import headline

    root = make_root(tmp_path)
    doc = sr.load(os.path.join(root, "results", "sample.json"))
    data = headline.compute({"inputs": [("results/sample.json", doc)], "points": doc["points"]})
    text = block_text("headline", root)
    for job in data["jobs"]:
        assert f"- {job['sentence']}" in text
    spill_1to1 = next(e for job in data["jobs"] if job["label"] == "1 -> 1" for e in job["entries"]
                      if e["contender"] == "spill")
    assert f"| 1 -> 1 | spill | {spill_1to1['configuration']} | {spill_1to1['median'] / 1e6:.4g} |" in text
    prov = doc["metadata"]["provenance"]
    assert text.splitlines()[-1] == (
        f"<sub>Data: `results/sample.json` (host `{prov['host']}`, commit `{prov['commit']}` "
        f"({docs.dirty_text(prov['dirty'])}), {prov['date_utc']}); made by `{prov['command_line']}`. "
        "This block: `./bench docs`.</sub>")


@pytest.mark.parametrize("png,words", [
    ("matching", "![The headline section of the sample report](../../results/sample-report/headline.png)"),
    ("other", "`results/sample-report/headline.png` was not made from this `results/sample.json`"),
    ("none", "`results/sample-report/headline.png` does not exist"),
])
def test_the_screenshot_is_shown_only_when_it_was_made_from_the_sample_as_it_is(tmp_path, png, words):
    root = make_root(tmp_path, png=png)
    text = block_text("headline", root, os.path.join(root, "docs", "guide"))
    assert words in text
    assert ("![" in text) == (png == "matching")
    if png != "matching":
        assert "`/usr/bin/python3 analysis/report.py results/sample.json -o results/sample-report` makes it" in text


def test_the_floors_block_shows_the_sample_s_floors(tmp_path):
    root = make_root(tmp_path)
    floors = sr.load(os.path.join(root, "results", "sample.json"))["metadata"]["floors"]
    text = block_text("floors", root)
    line = floors["line_transfer"]["one_way_ns"]
    assert f"| ping-pong round trip (two threads bounce a cache line) | ns | " \
           f"{docs.fmt(floors['ping_pong']['round_trip_ns']['median'])} |" in text
    assert f"| ns | {docs.fmt(line)} | raw {docs.fmt(floors['line_transfer']['one_way_raw_ns'])}," in text
    assert f"{docs.fmt(2 * line / 100)} ns at 100 items per handoff" in text
    assert text.splitlines()[-1].startswith("<sub>Data: `results/sample.json` (host ")


def test_a_sweep_run_without_floors_says_why(tmp_path):
    root = make_root(tmp_path)
    path = os.path.join(root, "results", "sample.json")
    doc = json.loads(read(path))
    doc["metadata"]["floors"] = {"skipped": "--no-calibrate"}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)
    assert block_text("floors", root).startswith("No floors in `results/sample.json`: --no-calibrate.")


# -------------------------------------------------------------- gate-proof


def test_the_gate_proof_block_says_which_files_predate_provenance(tmp_path):
    text = block_text("gate-proof", make_root(tmp_path))
    assert ("| `ring --ring-size 1024 --items 4000000 --repetitions 4 --warmup 2 --no-calibrate` | paired, 8 sessions "
            "| cpu_seconds_per_item | 2 of 20 | 20 of 20 | NO | ring-old.json |") in text
    # A file held to the bar it records: 1 alarm where 0 are allowed.
    assert "| `pool --producers 1 --repetitions 32` | unpaired, one process per side | items_per_second | 1 of 10 " \
           "| 9 of 10 | NO | pool-new.json |" in text
    assert ("- `pool-new.json`: host `vm`, commit `abcdef0` (clean), 2026-11-25T10:00:00Z to 2026-11-25T10:20:00Z, "
            "`analysis/prove_gate.py --bench build/harness/spill-bench") in text
    assert "- `ring-old.json`: predates provenance in `prove_gate.py`" in text
    assert "--sessions 8 --slowdown 10 --max-regression 5 --json -- ring --ring-size 1024" in text
    assert "1 without host, commit or date: they predate their recording" in text.splitlines()[-1]


def test_prove_gate_records_its_provenance_and_bar(monkeypatch, capsys):
    def fake_prove(bench, bench_args, trials, slowdown, max_regression, alpha, metrics, sessions, paired, progress):
        return {"trials": trials, "paired": paired, "sessions": sessions, "slowdown_pct": slowdown,
                "max_regression_pct": max_regression, "alpha": alpha, "bench_args": bench_args,
                "metrics": {m: {"aa_alarms": 0, "slowdown_caught": trials} for m in metrics}}
    monkeypatch.setattr(prove_gate, "prove", fake_prove)
    status = prove_gate.main(["--bench", sys.executable, "--trials", "3", "--required-catches", "3", "--json",
                              "--", "ring", "--ring-size", "64"])
    assert status == 0
    doc = json.loads(capsys.readouterr().out)
    sr.validate_provenance(doc["provenance"], "prove_gate --json")
    assert doc["provenance"]["tool"] == "analysis/prove_gate.py"
    assert doc["provenance"]["command_line"].endswith("--json -- ring --ring-size 64")
    assert doc["provenance"]["finished_utc"] >= doc["provenance"]["date_utc"]
    assert doc["bar"] == {"allowed_false_alarms": prove_gate.DEFAULT_ALLOWED_FALSE_ALARMS, "required_catches": 3}


def test_load_proof_refuses_a_count_beyond_the_trials(tmp_path):
    doc = json.loads(read(os.path.join(DOCS_FIXTURES, "gate-proof", "ring-old.json")))
    doc["metrics"]["items_per_second"]["slowdown_caught"] = 21
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(prove_gate.ProofError, match="slowdown_caught 21 is not a count of 0..20"):
        prove_gate.load_proof(str(path))


# ------------------------------------------------------------ missing data


def test_a_missing_source_is_said_in_words_and_check_still_works(tmp_path):
    root = str(tmp_path)
    doc = os.path.join(root, "doc.md")
    shutil.copy(DOC, doc)
    assert run_cli("docs.py", "--root", root, doc).returncode == 0
    text = read(doc)
    assert ("No data: `results/perf-runs/<run>/targets.json` does not exist (or git does not track it); "
            "`./bench perf` writes one per run.") in text
    assert text.count("No data: `results/sample.json` does not exist") == 2
    assert "No data: `results/sample-gate-proof/*.json` does not exist" in text
    assert text.count("<sub>Data: none (") == 4
    check = run_cli("docs.py", "--check", "--root", root, doc)
    assert check.returncode == 0, check.stdout


# ---------------------------------------------------------------- bad input


def _doc_with(tmp_path, text: str) -> str:
    path = tmp_path / "bad.md"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text,words", [
    ("<!-- generated: nosuch (./bench docs) -->\n<!-- end generated: nosuch -->\n", "unknown generator 'nosuch'"),
    ("a\n<!-- generated: floors (./bench docs) -->\nx\n", "bad.md:2: block 'floors' has no end marker"),
    ("<!-- end generated: floors -->\n", "bad.md:1: end marker of 'floors' without its start marker"),
    ("<!-- generated: floors -->\n", "bad.md:1: malformed marker '<!-- generated: floors -->'"),
    ("<!-- generated: floors (./bench docs) -->\n<!-- generated: headline (./bench docs) -->\n",
     "bad.md:2: block 'headline' starts inside block 'floors'"),
])
def test_a_malformed_document_is_one_line_naming_it_and_exit_2(tmp_path, text, words):
    path = _doc_with(tmp_path, text)
    result = run_cli("docs.py", "--root", str(tmp_path), path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and words in result.stderr, result.stderr
    assert read(path) == text


def test_a_broken_data_file_is_one_line_naming_it_and_exit_2(tmp_path):
    root = make_root(tmp_path)
    bad = os.path.join(root, "results", "perf-runs", "20261123T090000Z-vm-6666666", "targets.json")
    with open(bad, "w", encoding="utf-8") as handle:
        handle.write('{"format": "something else"}')
    result = run_cli("docs.py", "--root", root, os.path.join(root, DOC_IN_ROOT))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and f"{bad}: not a perf_targets.py --json file" in result.stderr
    assert read(os.path.join(root, DOC_IN_ROOT)) == read(DOC)


@pytest.mark.parametrize("args,words", [
    (["/nonexistent/doc.md"], "/nonexistent/doc.md: cannot read: No such file or directory"),
    (["--root", "/nonexistent-root"], "--root /nonexistent-root: not a directory"),
])
def test_bad_arguments_are_one_line_and_exit_2(args, words):
    result = run_cli("docs.py", *args)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and words in result.stderr, result.stderr


def test_bench_docs_runs_the_generator():
    result = subprocess.run([os.path.join(ROOT, "bench"), "docs", "--check"], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "docs: every block of 3 file(s) is current" in result.stdout


# ------------------------------------------------------------ PNG text chunks


def test_png_text_chunks_round_trip_and_keep_the_image():
    png = tiny_png()
    tagged = browser_check.png_with_text(png, {"spill-inputs": '[{"sha256": "ab"}]', "other": "x"})
    assert browser_check.png_text(tagged) == {"spill-inputs": '[{"sha256": "ab"}]', "other": "x"}
    assert browser_check.png_size(tagged) == (1, 1)
    assert browser_check.png_text(png) == {}
    with pytest.raises(ValueError, match="not a PNG"):
        browser_check.png_text(b"GIF89a")


if __name__ == "__main__":
    # Writes the golden file from the fixtures (see the module docstring).
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        fixture_root = make_root(tmp)
        made = run_cli("docs.py", "--root", fixture_root, os.path.join(fixture_root, DOC_IN_ROOT))
        if made.returncode != 0:
            sys.exit(made.stderr)
        shutil.copy(os.path.join(fixture_root, DOC_IN_ROOT), EXPECTED)
        print(f"wrote {EXPECTED}")
