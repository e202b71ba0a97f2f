#!/usr/bin/python3
"""Every figure in the docs, written by a generator from committed result files.

usage: docs.py [--check] [--root DIR] [FILES ...]       (./bench docs [--check] [FILES ...])

A document holds figures only inside generated blocks:

    <!-- generated: NAME (./bench docs) -->
    ...Markdown written by the generator NAME...
    <!-- end generated: NAME -->

docs.py rewrites the inside of every block of FILES (default: README.md,
harness/micro/README.md, analysis/README.md; paths relative to the
repository root) from the result files under the root.  With --check it
writes nothing and exits 1 when a block differs from what its generator
writes now, naming each stale block (FILE:LINE: NAME); the analysis test
suite runs it on the repository, so a document cannot drift from its data.

Every block ends with a provenance line: the host, commit (and whether the
tree had uncommitted changes) and date of the data, and the command that
produced it.  When a source file is missing, the block says so in words
(and --check compares those words like any others).

Generators (data read through the module named):

  perf-targets  results/perf-runs/<run>/targets.json, the last 5 runs of
                `./bench perf` (perf_targets.py): every target, pass/MISS
                per run, passes, the latest measured value, bound and note,
                and the rule that each target passes in 4 of the last 5.
                Inside a git work tree only runs whose targets.json git
                tracks count (results/ is ignored but for committed
                samples; a run left out is named on stderr).
  headline      results/sample.json (spill_results.py): the report's
                headline (sections/headline.py compute) as a table and its
                sentences, and the screenshot
                results/sample-report/headline.png when it was made from
                this very file (its PNG text chunk names the input's SHA-256).
  floors        results/sample.json: metadata.floors (ping-pong round trip,
                one-way cache-line transfer, masked store).
  gate-proof    results/sample-gate-proof/*.json (prove_gate.py --json): A/A
                false alarms and slowdowns caught per workload and metric.

Exit status: 0 done (--check: every block is current); 1 --check found a
stale block; 2 bad input (an unknown generator, a block without its end
marker, an unreadable document or data file), one line on stderr naming it.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import browser_check  # noqa: E402
import perf_targets  # noqa: E402
import prove_gate  # noqa: E402
import spill_results as sr  # noqa: E402

PROG = "docs.py"
ROOT = os.path.dirname(HERE)
DEFAULT_FILES = ("README.md", "harness/micro/README.md", "analysis/README.md")

START = re.compile(r"^<!-- generated: (?P<name>[A-Za-z0-9_.-]+) \(\./bench docs\) -->$")
END = re.compile(r"^<!-- end generated: (?P<name>[A-Za-z0-9_.-]+) -->$")

# Where the generators find their data, relative to the root.
PERF_RUNS = "results/perf-runs"
SAMPLE = "results/sample.json"
SAMPLE_REPORT = "results/sample-report"
HEADLINE_PNG = "results/sample-report/headline.png"
GATE_PROOF = "results/sample-gate-proof"
# The rule of `./bench perf-history`.
LAST_RUNS = 5
NEED_PASSES = 4


class DocsError(Exception):
    """Bad input: reported as one line, exit status 2."""


@dataclass(frozen=True)
class Context:
    """What a generator knows: the root its data paths are relative to, and
    the directory of the document it writes into (for relative links)."""

    root: str
    doc_dir: str

    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def link(self, rel: str) -> str:
        """A link from the document to `rel` (a path under the root)."""
        return os.path.relpath(os.path.realpath(self.path(rel)), os.path.realpath(self.doc_dir))


# --------------------------------------------------------------- formatting


def fmt(x: float | None, digits: int = 3) -> str:
    """A number with `digits` significant digits (integers in full); None is "-"."""
    if x is None:
        return "-"
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits:
        return f"{x:.0f}"
    return f"{x:.{digits}g}"


def cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list]) -> list[str]:
    return (["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows])


def dirty_text(dirty) -> str:
    return {True: "with uncommitted changes", False: "clean"}.get(dirty, "dirty flag not recorded")


def provenance_text(prov: dict) -> str:
    """host, commit (dirty flag) and date of a metadata.provenance block."""
    return (f"host `{prov.get('host', 'unknown')}`, commit `{prov.get('commit', 'unknown')}` "
            f"({dirty_text(prov.get('dirty'))}), {prov.get('date_utc', 'unknown')}")


def provenance_line(data: str, command: str) -> str:
    """The last line of every block."""
    return f"<sub>Data: {data}; made by {command}. This block: `./bench docs`.</sub>"


def missing(rel: str, command: str, how: str, words: str = "does not exist") -> list[str]:
    """The block of a generator whose data file is missing: says so, and what makes it."""
    return [f"No data: `{rel}` {words}; {how}.", "",
            provenance_line(f"none (`{rel}` is missing)", command)]


# ------------------------------------------------------------- perf-targets


def _run_context(doc: dict) -> dict:
    ctx = doc.get("context")
    return ctx if isinstance(ctx, dict) else {}


def run_cpu(run_dir: str) -> str | None:
    """The CPU a perf run measured, from the hwloc topology its spill-bench
    sweep saved beside perf.json: "AMD EPYC, family 26, model 2"; None when
    the file is missing or names no CPU. Hosts of one name can be different
    machines from one run to the next, so the table says which ran each."""
    try:
        with open(os.path.join(run_dir, "perf.json.topology.xml"), encoding="utf-8", errors="replace") as handle:
            xml = handle.read()
    except OSError:
        return None
    info = {}
    for name, value in re.findall(r'<info name="(CPUModel|CPUFamilyNumber|CPUModelNumber)" value="([^"]*)"', xml):
        info.setdefault(name, value)
    if "CPUModel" not in info:
        return None
    parts = [info["CPUModel"]]
    parts += [f"{label} {info[key]}" for key, label in (("CPUFamilyNumber", "family"), ("CPUModelNumber", "model"))
              if key in info]
    return ", ".join(parts)


def _commit_text(commit) -> str:
    """`./bench perf` records the short commit, with `-dirty` when the tree had uncommitted changes."""
    if not isinstance(commit, str) or not commit:
        return "commit not recorded"
    if commit.endswith("-dirty"):
        return f"commit `{commit[:-len('-dirty')]}` ({dirty_text(True)})"
    return f"commit `{commit}` ({dirty_text(False)})"


def tracked(root: str, rel_dir: str) -> set[str] | None:
    """Paths (relative to `root`) git tracks under `rel_dir`; None when `root` is not in a git work tree."""
    try:
        proc = subprocess.run(["git", "-C", root, "ls-files", "-z", "--full-name", "--", rel_dir],
                              capture_output=True, timeout=60)
        top = subprocess.run(["git", "-C", root, "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0 or top.returncode != 0:
        return None
    prefix = os.path.relpath(os.path.realpath(root), os.path.realpath(top.stdout.strip()))
    names = [n for n in proc.stdout.decode("utf-8", "replace").split("\0") if n]
    return {os.path.relpath(n, prefix) if prefix != "." else n for n in names}


def committed_runs(ctx: Context) -> tuple[str, list[str]]:
    """(a directory holding the runs the block may show, the runs left out).

    Only runs whose targets.json git tracks (a block shows committed data, and
    `./bench perf` writes into a directory git ignores); outside a git work
    tree, every run.  The kept runs are linked into a temporary directory
    when some are left out, so perf_targets.run_documents sees only them."""
    runs_dir = ctx.path(PERF_RUNS)
    runs = sorted(d for d in os.listdir(runs_dir) if os.path.isfile(os.path.join(runs_dir, d, "targets.json")))
    known = tracked(ctx.root, PERF_RUNS)
    if known is None:
        return runs_dir, []
    kept = [d for d in runs if f"{PERF_RUNS}/{d}/targets.json" in known]
    left = [d for d in runs if d not in kept]
    if not left:
        return runs_dir, []
    view = tempfile.mkdtemp(prefix="spill-docs-runs-")
    for d in kept:
        os.symlink(os.path.join(runs_dir, d), os.path.join(view, d))
    return view, left


def perf_targets_block(ctx: Context) -> list[str]:
    runs_dir = ctx.path(PERF_RUNS)
    none = missing(f"{PERF_RUNS}/<run>/targets.json", "`./bench perf`", "`./bench perf` writes one per run",
                   "does not exist (or git does not track it)")
    if not os.path.isdir(runs_dir):
        return none
    view, left = committed_runs(ctx)
    try:
        if left:
            sys.stderr.write(f"{PROG}: perf-targets: left out {len(left)} run(s) of {PERF_RUNS} that git does not "
                             f"track: {', '.join(left)}\n")
        if not any(os.path.isfile(os.path.join(view, d, "targets.json")) for d in os.listdir(view)):
            return none
        loaded = perf_targets.run_documents(view, LAST_RUNS)
        runs, passed, what = perf_targets.history(loaded)
        docs = [doc for _, doc in loaded]
    except perf_targets.InputError as err:
        raise DocsError(str(err).replace(view, runs_dir)) from None
    finally:
        if view != runs_dir:
            shutil.rmtree(view, ignore_errors=True)
    present = [{t["id"] for t in doc["targets"]} for doc in docs]
    latest = {t["id"]: t for t in docs[-1]["targets"]}
    rows = []
    for tid, ps in passed.items():
        marks = [("pass" if p else "MISS") if tid in present[i] else "absent" for i, p in enumerate(ps)]
        t = latest.get(tid)
        measured = "not in the latest run" if t is None else (fmt(t["measured"]) if t["measured"] is not None
                                                              else "not measured")
        bound = "-" if t is None else f"{t['op']} {fmt(t['bound'])}"
        rows.append([tid, what[tid], *marks, f"{sum(ps)}/{len(ps)}", measured, bound, "" if t is None else t["note"]])
    header = ["target", "what", *[f"run {i + 1}" for i in range(len(runs))], "passed", "latest measured", "bound",
              "note (latest run)"]
    out = table(header, rows)
    short = [tid for tid, ps in passed.items() if sum(ps) < NEED_PASSES]
    out += ["", f"The rule (`./bench perf-history`): each target must pass in at least {NEED_PASSES} of the last "
                f"{LAST_RUNS} runs; a target absent from a run counts as a miss there."]
    if len(runs) < LAST_RUNS:
        out.append(f"There are {len(runs)} of the {LAST_RUNS} runs the rule needs, so it is not met yet.")
    elif short:
        out.append(f"Not met by {', '.join(short)}.")
    else:
        out.append("Every target meets it.")
    out += ["", "Runs, oldest first (`results/perf-runs/`):", ""]
    for i, (run, doc) in enumerate(zip(runs, docs)):
        c = _run_context(doc)
        load, before = c.get("load_avg"), c.get("load_before_run")
        if isinstance(before, (int, float)):
            load_text = f", load average {fmt(before)} on {c.get('num_cpus')} CPUs before the run"
        elif isinstance(load, list) and load and isinstance(load[0], (int, float)):
            # Older runs kept only Google Benchmark's reading, taken when the
            # measured pass starts, after the tuning pass has kept every CPU busy.
            load_text = (f", load average {fmt(load[0])} on {c.get('num_cpus')} CPUs when the measured pass started "
                         "(right after the tuning pass)")
        else:
            load_text = ""
        lat = doc.get("cross_core_latency")  # runs checked before it was recorded have none
        if isinstance(lat, dict) and lat.get("changed"):
            load_text += (f"; a cache-line ping-pong took {fmt(lat.get('min_ns'))}-{fmt(lat.get('max_ns'))} ns across "
                          "its repetitions (the host moved the cores apart during the run)")
        cpu = run_cpu(os.path.join(runs_dir, run))
        host = f"host `{c.get('host_name') or 'not recorded'}`" + (f" ({cpu})" if cpu else "")
        out.append(f"{i + 1}. `{run}`: {host}, {_commit_text(c.get('commit'))}, "
                   f"{c.get('date') or 'date not recorded'}{load_text}")
    out += ["", provenance_line(f"`{PERF_RUNS}/<run>/targets.json` of the runs listed",
                                "`./bench perf` (its last step, `perf_targets.py check ... --json`)")]
    return out


# ----------------------------------------------------------- sample.json


def _load_sample(ctx: Context) -> dict | None:
    path = ctx.path(SAMPLE)
    if not os.path.exists(path):
        return None
    try:
        return sr.load(path)
    except sr.ResultError as err:
        raise DocsError(str(err)) from None


def _sample_provenance(doc: dict) -> str:
    prov = doc["metadata"]["provenance"]
    return provenance_line(f"`{SAMPLE}` ({provenance_text(prov)})", f"`{prov.get('command_line', 'unknown')}`")


def _sha256(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def headline_image(ctx: Context) -> list[str]:
    """The screenshot, if it shows results/sample.json as it is now; else why not."""
    remake = f"`/usr/bin/python3 analysis/report.py {SAMPLE} -o {SAMPLE_REPORT}` makes it"
    png_path = ctx.path(HEADLINE_PNG)
    if not os.path.exists(png_path):
        return [f"No screenshot: `{HEADLINE_PNG}` does not exist; {remake}."]
    try:
        with open(png_path, "rb") as handle:
            tags = browser_check.png_text(handle.read())
    except (OSError, ValueError) as err:
        raise DocsError(f"{png_path}: {getattr(err, 'strerror', None) or err}") from None
    try:
        inputs = json.loads(tags.get(browser_check.PNG_INPUTS_KEY, "[]"))
    except json.JSONDecodeError:
        raise DocsError(f"{png_path}: its {browser_check.PNG_INPUTS_KEY} text chunk is not JSON") from None
    digest = _sha256(ctx.path(SAMPLE))
    if not any(isinstance(i, dict) and i.get("sha256") == digest for i in inputs):
        return [f"No screenshot: `{HEADLINE_PNG}` was not made from this `{SAMPLE}` "
                f"(its input checksums differ); {remake} again."]
    return [f"![The headline section of the sample report]({ctx.link(HEADLINE_PNG)})", "",
            f"(The headline section of `{SAMPLE_REPORT}/report.html` in headless Chromium; {remake}.)"]


def headline_block(ctx: Context) -> list[str]:
    from sections import common, headline  # numpy and scipy: only when this block is made

    doc = _load_sample(ctx)
    if doc is None:
        return missing(SAMPLE, "`./bench demo`", "it is a copy of `results/latest.json`, which `./bench demo` writes")
    data = headline.compute({"inputs": [(SAMPLE, doc)], "points": doc["points"]})
    if data.get("skip"):
        out = [f"No headline: {data['skip']}."]
    else:
        out = [f"- {job['sentence']}" for job in data["jobs"]]
        rows = []
        for job in data["jobs"]:
            for e in job["entries"]:
                ci = (f"{common.num(e['ci_low'] / 1e6)} .. {common.num(e['ci_high'] / 1e6)}" if e["ci_low"] is not None
                      else f"undefined: {e['ci_reason']}")
                if e["ratio"] is None:
                    ratio, ratio_ci = "no peer", "-"
                else:
                    ratio = common.num(e["ratio"], ".3f")
                    ratio_ci = (f"{e['ratio_ci_low']:.2f} .. {e['ratio_ci_high']:.2f}" if e["ratio_ci_low"] is not None
                                else f"undefined: {e['ratio_ci_reason']}")
                rows.append([job["label"], e["contender"], e["configuration"], common.num(e["median"] / 1e6), ci,
                             ratio, ratio_ci, e["peer"] or "-", e["n"]])
        out += [""] + table(["job", "contender", "best configuration", "median (M items/s)", "95% CI of the median",
                             "ratio to best peer", "95% CI of the ratio", "best peer", "n"], rows)
        notes = ["Each contender at its best configuration (highest median throughput over the configurations it "
                 "ran for the job); the ratio is its median over the best peer's, with a 95% percentile-bootstrap "
                 "interval. Higher is better."]
        lossy = sum(n for job in data["jobs"] for n in job["excluded"].values())
        if lossy:
            notes.append(f"{sr.plural(lossy, 'configuration')} that lost items to overflow are not ranked.")
        if data["left_out_failed"]:
            notes.append(f"{sr.plural(data['left_out_failed'], 'point')} failed their checks and are left out.")
        out += ["", " ".join(notes)]
    out += [""] + headline_image(ctx)
    out += ["", _sample_provenance(doc)]
    return out


def _dig(block, *keys):
    for key in keys:
        if not isinstance(block, dict) or key not in block:
            return None
        block = block[key]
    return block


def _num(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _status(part: dict) -> str:
    status = part.get("status") if isinstance(part, dict) else None
    if not isinstance(status, dict):
        return "not recorded"
    words = ["ok" if status.get("ok") is True else "FAILED (not used)"]
    if status.get("contended") is True:
        words.append("contended")
    if status.get("pinned") is False:
        words.append("not pinned")
    return ", ".join(words)


def _spread(stat) -> str:
    lo, hi, n = _num(_dig(stat, "min")), _num(_dig(stat, "max")), _dig(stat, "n")
    return f"{fmt(lo)} .. {fmt(hi)} (n={n})" if lo is not None and hi is not None else "-"


def floors_block(ctx: Context) -> list[str]:
    doc = _load_sample(ctx)
    if doc is None:
        return missing(SAMPLE, "`./bench demo`", "it is a copy of `results/latest.json`, which `./bench demo` writes")
    floors = doc["metadata"].get("floors")
    if not isinstance(floors, dict) or not floors or "skipped" in floors:
        why = floors.get("skipped") if isinstance(floors, dict) and floors.get("skipped") else "no metadata.floors"
        return [f"No floors in `{SAMPLE}`: {why}.", "", _sample_provenance(doc)]
    pp, lt, ms = floors.get("ping_pong"), floors.get("line_transfer"), floors.get("masked_store")
    line = _num(_dig(lt, "one_way_ns"))
    rows = [
        ["ping-pong round trip (two threads bounce a cache line)", "ns", fmt(_num(_dig(pp, "round_trip_ns", "median"))),
         _spread(_dig(pp, "round_trip_ns")), _status(pp)],
        ["one-way cache-line transfer (clock read subtracted)", "ns", fmt(line),
         f"raw {fmt(_num(_dig(lt, 'one_way_raw_ns')))}, clock read {fmt(_num(_dig(lt, 'clock_read_ns')))}",
         _status(lt)],
        ["masked store (`a[i & mask] = x`, one core)", "ns per store", fmt(_num(_dig(ms, "ns_per_store", "median")), 2),
         _spread(_dig(ms, "ns_per_store")), _status(ms)],
    ]
    cpus = ",".join(str(c) for c in floors.get("cpus", [])) or "not recorded"
    out = table(["floor", "unit", "median", "spread", "status"], rows)
    out += ["", f"Measured on CPUs {cpus} before the first point (`metadata.floors`, harness/SCHEMA.md)."]
    if line is not None:
        out.append(f"A handoff moves at least two lines, so its floor per item is 2 x {fmt(line)} ns / items per "
                   f"handoff: {fmt(2 * line / 100)} ns at 100 items per handoff, {fmt(2 * line / 1000)} ns at 1000.")
    out += ["", _sample_provenance(doc)]
    return out


# --------------------------------------------------------------- gate-proof


def _proof_command(doc: dict) -> str:
    """The prove_gate.py command line a file's parameters call for (BENCH: the spill-bench used)."""
    args = ["/usr/bin/python3", prove_gate.TOOL, "--bench", "BENCH", "--trials", str(doc["trials"])]
    if doc["paired"]:
        args += ["--sessions", str(doc.get("sessions"))]
    else:
        args.append("--unpaired")
    args += ["--slowdown", f"{doc['slowdown_pct']:g}", "--max-regression", f"{doc['max_regression_pct']:g}"]
    if list(doc["metrics"]) != prove_gate.DEFAULT_METRICS:
        for metric in doc["metrics"]:
            args += ["--metric", metric]
    return shlex.join(args + ["--json", "--", *map(str, doc["bench_args"])])


def _workload(doc: dict) -> str:
    return " ".join(map(str, doc["bench_args"]))


def gate_proof_block(ctx: Context) -> list[str]:
    paths = sorted(glob.glob(os.path.join(ctx.path(GATE_PROOF), "*.json")))
    if not paths:
        return missing(f"{GATE_PROOF}/*.json", "`analysis/prove_gate.py --json`",
                       "`analysis/prove_gate.py --json` prints one per workload")
    docs = []
    for path in paths:
        try:
            docs.append((os.path.basename(path), prove_gate.load_proof(path)))
        except prove_gate.ProofError as err:
            raise DocsError(str(err)) from None
    rows = []
    default_bar = False
    for name, doc in docs:
        bar = doc["bar"]
        if bar is None:
            default_bar = True
            bar = {"allowed_false_alarms": prove_gate.DEFAULT_ALLOWED_FALSE_ALARMS,
                   "required_catches": prove_gate.DEFAULT_REQUIRED_CATCHES}
        design = (f"paired, {doc['sessions']} sessions" if doc["paired"] else "unpaired, one process per side")
        for metric, c in doc["metrics"].items():
            met = ("yes" if c["aa_alarms"] <= bar["allowed_false_alarms"]
                   and c["slowdown_caught"] >= bar["required_catches"] else "NO")
            rows.append([f"`{_workload(doc)}`", design, metric, f"{c['aa_alarms']} of {doc['trials']}",
                         f"{c['slowdown_caught']} of {doc['trials']}", met, name])
    slowdowns = sorted({f"{d['slowdown_pct']:g}%" for _, d in docs})
    thresholds = sorted({f"{d['max_regression_pct']:g}%" for _, d in docs})
    out = table(["workload (spill-bench run)", "design", "metric", "A/A false alarms",
                 f"{'/'.join(slowdowns)} slowdown caught", "bar met", "file"], rows)
    out += ["", f"Each trial gates an A/A pair and a pair whose candidate is slowed by the hidden "
                f"`--inject-slowdown` ({', '.join(slowdowns)}) with `gate.py --max-regression` "
                f"{', '.join(thresholds)}."]
    defaults = (f"the defaults of `prove_gate.py`: at most "
                f"{sr.plural(prove_gate.DEFAULT_ALLOWED_FALSE_ALARMS, 'false alarm')} and at least "
                f"{prove_gate.DEFAULT_REQUIRED_CATCHES} catches")
    if default_bar and all(d["bar"] is None for _, d in docs):
        out.append(f"The files do not record their bar; they are held to {defaults}.")
    elif default_bar:
        out.append(f"A file that does not record its bar is held to {defaults}; the others to the bar they record.")
    else:
        out.append("Each file is held to the bar it records.")
    with_prov = [(n, d) for n, d in docs if d["provenance"] is not None]
    without = [(n, d) for n, d in docs if d["provenance"] is None]
    out += ["", "Provenance:", ""]
    for name, doc in with_prov:
        p = doc["provenance"]
        until = f" to {p['finished_utc']}" if p.get("finished_utc") else ""
        out.append(f"- `{name}`: host `{p['host']}`, commit `{p['commit']}` ({dirty_text(p['dirty'])}), "
                   f"{p['date_utc']}{until}, `{p['command_line']}`")
    for name, doc in without:
        out.append(f"- `{name}`: predates provenance in `prove_gate.py`, so its host, commit and date are not "
                   f"recorded until it is made again with `{_proof_command(doc)} > {GATE_PROOF}/{name}`")
    command = "`analysis/prove_gate.py --json`, one run per file"
    if without:
        data = (f"`{GATE_PROOF}/*.json` ({sr.plural(len(docs), 'file')}; {len(without)} without host, commit or "
                "date: they predate their recording)")
    else:
        data = f"`{GATE_PROOF}/*.json` ({sr.plural(len(docs), 'file')}; host, commit and date of each above)"
    out += ["", provenance_line(data, command)]
    return out


GENERATORS: dict[str, Callable[[Context], list[str]]] = {
    "perf-targets": perf_targets_block,
    "headline": headline_block,
    "floors": floors_block,
    "gate-proof": gate_proof_block,
}


# ------------------------------------------------------------------ blocks


@dataclass(frozen=True)
class Block:
    name: str
    line: int        # 1-based line of the start marker
    first: int       # index of the first line inside the block
    end: int         # index of the end marker line


def find_blocks(lines: list[str], where: str) -> list[Block]:
    """The generated blocks of a document; DocsError on a marker out of place or an unknown generator."""
    blocks: list[Block] = []
    open_block: tuple[str, int] | None = None
    for i, text in enumerate(lines):
        start, end = START.match(text.rstrip()), END.match(text.rstrip())
        if start:
            if open_block:
                raise DocsError(f"{where}:{i + 1}: block {start['name']!r} starts inside block "
                                f"{open_block[0]!r} (line {open_block[1] + 1}), which has no end marker")
            if start["name"] not in GENERATORS:
                raise DocsError(f"{where}:{i + 1}: unknown generator {start['name']!r} "
                                f"(known: {', '.join(GENERATORS)})")
            open_block = (start["name"], i)
        elif end:
            if not open_block or end["name"] != open_block[0]:
                raise DocsError(f"{where}:{i + 1}: end marker of {end['name']!r} without its start marker")
            blocks.append(Block(open_block[0], open_block[1] + 1, open_block[1] + 1, i))
            open_block = None
        elif "<!-- generated:" in text or "<!-- end generated:" in text:
            raise DocsError(f"{where}:{i + 1}: malformed marker {text.strip()!r} (expected "
                            "'<!-- generated: NAME (./bench docs) -->' or '<!-- end generated: NAME -->')")
    if open_block:
        raise DocsError(f"{where}:{open_block[1] + 1}: block {open_block[0]!r} has no end marker "
                        f"'<!-- end generated: {open_block[0]} -->'")
    return blocks


def regenerate(text: str, where: str, ctx: Context) -> tuple[str, list[Block]]:
    """(the document with every block rewritten, the blocks whose content changed)."""
    lines = text.split("\n")
    blocks = find_blocks(lines, where)
    cache: dict[str, list[str]] = {}
    stale: list[Block] = []
    out: list[str] = []
    pos = 0
    for block in blocks:
        if block.name not in cache:
            cache[block.name] = GENERATORS[block.name](ctx)
        new = cache[block.name]
        out += lines[pos:block.first] + new
        if lines[block.first:block.end] != new:
            stale.append(block)
        pos = block.end
    out += lines[pos:]
    return "\n".join(out), stale


def process(paths: list[str], root: str, check: bool) -> list[tuple[str, Block]]:
    """Rewrite (or with `check`, only compare) every block of every file; the stale blocks."""
    stale_all = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as err:
            raise DocsError(f"{path}: cannot read: {err.strerror or err}") from None
        except UnicodeDecodeError as err:
            raise DocsError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
        new, stale = regenerate(text, path, Context(root, os.path.dirname(os.path.abspath(path))))
        stale_all += [(path, block) for block in stale]
        if stale and not check:
            sr.write_atomic(path, new)
    return stale_all


def build_parser() -> sr.OneLineArgumentParser:
    parser = sr.OneLineArgumentParser(prog=PROG, description="Regenerate the figures of the docs from result files.")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help=f"documents to process [{', '.join(DEFAULT_FILES)} under the root]")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming every stale block")
    parser.add_argument("--root", default=ROOT, help="where the results/ the generators read are [the repository]")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not os.path.isdir(args.root):
        sr.fail(PROG, f"--root {args.root}: not a directory")
    paths = args.files or [os.path.join(args.root, f) for f in DEFAULT_FILES]
    try:
        stale = process(paths, args.root, args.check)
    except DocsError as err:
        sr.fail(PROG, str(err))
    for path, block in stale:
        if args.check:
            print(f"{path}:{block.line}: block {block.name!r} is stale (./bench docs rewrites it)")
        else:
            print(f"docs: rewrote {path}:{block.line}: {block.name}")
    if args.check:
        print(f"docs: {len(stale)} stale block(s)" if stale else f"docs: every block of {len(paths)} file(s) is current")
        return 1 if stale else 0
    if not stale:
        print(f"docs: every block of {len(paths)} file(s) was current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
