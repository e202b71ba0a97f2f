#!/usr/bin/python3
"""Write a Markdown and a self-contained HTML report of benchmark results.

usage: report.py RESULTS.json [MORE.json ...] -o DIR [--title TEXT] [--no-headline-png]

RESULTS.json is a spill-bench result file or the JSON of a Google Benchmark
run (spill-micro --benchmark_out=...; gbench.py reads it).  Writes
DIR/report.md (plots referenced as DIR/plots/*.png) and DIR/report.html
(a table of contents, the same plots embedded as base64 data URIs, sticky
table headers).  Several input files are read as parts of one run (e.g.
shards): their points are pooled, so a point id may appear only once.

The report opens with the headline (every contender on each job at its best
configuration, the ratio to the best peer with its CI, one sentence per job
saying what the run shows); then the points whose checks failed (in red) and
the bimodal points (a warning); then the sections of sections/SECTIONS, one
module each.  Exit status 2 and one error line on bad input, and nothing is
written then.

Beside the report, DIR/headline.png: the headline section as a reader sees
it, captured in headless Chromium (browser_check.capture_headline) and
tagged with the SHA-256 of every input file, so a document that shows it
can tell whether it still shows its data.  When the browser cannot run,
a warning says so and the report is written all the same;
--no-headline-png skips it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import browser_check  # noqa: E402
import gbench  # noqa: E402
import spill_results as sr  # noqa: E402
from sections import SECTIONS  # noqa: E402
from sections import common, headline, latency, noise  # noqa: E402

PROG = "report.py"

# Pure functions other tools and the tests call by these names.
noise_section = noise.noise_section
latency_section = latency.latency_section
_num = common.num
BIMODAL_WARNING = noise.BIMODAL_WARNING


# --------------------------------------------------------------------------
# loading


def load_inputs(paths: list[str]) -> list[tuple[str, dict]]:
    """Load every file (either format); they must share a schema version and not repeat ids."""
    inputs: list[tuple[str, dict]] = []
    owner: dict[str, str] = {}
    for path in paths:
        if inputs:
            doc = gbench.load_results(path, expect_schema_version=inputs[0][1]["schema_version"],
                                      base_label=inputs[0][0])
        else:
            doc = gbench.load_results(path)
        for point in doc["points"]:
            if point["id"] in owner:
                raise sr.ResultError(f"{path}: point id {point['id']!r} is also in {owner[point['id']]}")
            owner[point["id"]] = path
        inputs.append((path, doc))
    return inputs


# --------------------------------------------------------------------------
# data


def build_report(inputs: list[tuple[str, dict]], title: str = "spill benchmark report") -> dict:
    """All data the report shows, as plain values (nothing rendered yet):
    the title, files, failed points, and one entry per section under its KEY
    (sections/__init__.py)."""
    points = [point for _, doc in inputs for point in doc["points"]]
    ctx = {"inputs": inputs, "points": points}
    data = {"title": title, "files": [path for path, _ in inputs], "n_points": len(points),
            "failed": [dict(f, file=path) for path, doc in inputs for f in sr.failed_points(doc)],
            "section_keys": [section.KEY for section in SECTIONS]}
    for section in SECTIONS:
        data[section.KEY] = section.compute(ctx)
    # Older names of parts of a section's data, kept for readers of build_report.
    data["mergers"] = data["throughput"]["mergers"]
    data["counters"] = data["floors_cost"]["counters"]
    data["unavailable"] = data["floors_cost"]["unavailable"]
    data["notes"] = data["points"]["notes"]
    return data


def render_figures(data: dict) -> dict[str, dict]:
    """name -> {"title", "png"} for every plot the data allows."""
    figures: dict[str, dict] = {}
    for section in SECTIONS:
        figures.update(section.render_figures(data[section.KEY]))
    return figures


# --------------------------------------------------------------------------
# document assembly: a neutral list of blocks rendered to Markdown or HTML


def _top_blocks(data: dict) -> list[tuple]:
    """Failed checks and bimodal points: right after the headline."""
    blocks: list[tuple] = []
    if data["failed"]:
        items = []
        for f in data["failed"]:
            detail = f["message"] or "checks.passed is false"
            if f["failed_repetitions"]:
                detail += f" (failed repetitions: {', '.join(str(i) for i in f['failed_repetitions'])})"
            items.append((f["id"], detail, f["file"]))
        blocks.append(("failed", f"FAILED CHECKS: {sr.plural(len(items), 'point')} failed correctness checks; "
                                 "their measurements are not valid", items))
    else:
        blocks.append(("p", f"All {sr.plural(data['n_points'], 'point')} passed their correctness checks."))
    flagged = data["noise"].get("flagged")
    if flagged:
        blocks.append(("warning", f"WARNING ({sr.plural(len(flagged), 'point')}): {BIMODAL_WARNING}.",
                       [(r["id"], f"{noise._noise_groups(r)}; median {common.num(r['median'])} items/s", r["scenario"])
                        for r in flagged]))
    blocks.append(("p", "Input: " + ", ".join(data["files"]) + f" ({sr.plural(data['n_points'], 'point')})."))
    return blocks


def document_blocks(data: dict, figures: dict[str, dict]) -> list[tuple]:
    """The report as blocks: ("h1"|"h2"|"h3"|"p"|"failed"|"warning"|"table"|"img"|"list", ...).

    With failed points the failed-checks box comes first (their numbers are
    not valid, and the headline leaves them out); then the headline."""
    blocks: list[tuple] = [("h1", data["title"])]
    top = _top_blocks(data)
    sections = [section.document_blocks(data[section.KEY], figures) for section in SECTIONS]
    if data["failed"]:
        blocks.extend(top)
        blocks.extend(sections[0])
    else:
        blocks.extend(sections[0])
        blocks.extend(top)
    for part in sections[1:]:
        blocks.extend(part)
    return blocks


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: list[tuple], plot_dir: str = "plots") -> str:
    out: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind == "h1":
            out.append(f"# {block[1]}\n")
        elif kind == "h2":
            out.append(f"## {block[1]}\n")
        elif kind == "h3":
            out.append(f"### {block[1]}\n")
        elif kind == "p":
            out.append(f"{block[1]}\n")
        elif kind == "failed":
            out.append("## FAILED CHECKS\n")
            out.append(f"**{block[1]}**\n")
            out.extend(f"- **FAILED** `{ident}`: {detail} (in {path})" for ident, detail, path in block[2])
            out.append("")
        elif kind == "warning":
            out.append("## WARNING: BIMODAL POINTS\n")
            out.append(f"**{block[1]}**\n")
            out.extend(f"- **BIMODAL** `{ident}`: {detail} (scenario `{scenario}`)" for ident, detail, scenario in block[2])
            out.append("")
        elif kind == "list":
            out.extend(f"- {item}" for item in block[1])
            out.append("")
        elif kind == "table":
            header, rows = block[1], block[2]
            out.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
            out.append("|" + "---|" * len(header))
            out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows)
            out.append("")
        elif kind == "img":
            name, figures = block[1], block[2]
            out.append(f"![{figures[name]['title']}]({plot_dir}/{name}.png)\n")
    return "\n".join(out)


HTML_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 1.5em auto; padding: 0 1em; color: #222;
       line-height: 1.45; }
h1 { margin-bottom: 0.3em; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
nav.toc { background: #f6f6f6; border: 1px solid #ddd; padding: 0.5em 1.2em; margin: 1em 0; columns: 2; }
nav.toc .toc-title { font-weight: bold; margin: 0.2em 0; column-span: all; }
nav.toc ol { margin: 0; padding-left: 1.2em; }
.table-wrap { max-height: 70vh; overflow: auto; margin: 0.5em 0 1.5em; border: 1px solid #ccc; }
table { border-collapse: separate; border-spacing: 0; font-size: 0.85em; }
th, td { border-right: 1px solid #ccc; border-bottom: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left;
         vertical-align: top; white-space: nowrap; }
th { background: #eee; position: sticky; top: 0; z-index: 1; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 0.8em 0; }
img { max-width: 100%; width: 960px; height: auto; }
code { font-size: 0.9em; }
.failed-checks { border: 3px solid #c00000; background: #ffe6e6; color: #c00000; padding: 0.5em 1em; margin: 1em 0; }
.failed-checks h2 { color: #c00000; margin-top: 0.3em; border: none; }
.failed-row td { color: #c00000; font-weight: bold; }
.noise-warning { border: 3px solid #b36b00; background: #fff4e0; color: #7a4a00; padding: 0.5em 1em; margin: 1em 0; }
.noise-warning h2 { color: #7a4a00; margin-top: 0.3em; border: none; }
.bimodal-row td { color: #7a4a00; font-weight: bold; }
"""


def _slug(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, k = base, 2
    while slug in used:
        slug, k = f"{base}-{k}", k + 1
    used.add(slug)
    return slug


def input_digests(paths: list[str]) -> list[dict]:
    """[{"path", "sha256"}] of the input files, as the page records them."""
    out = []
    for path in paths:
        with open(path, "rb") as handle:
            out.append({"path": path, "sha256": hashlib.sha256(handle.read()).hexdigest()})
    return out


def render_html(blocks: list[tuple], inputs: list[dict] | None = None) -> str:
    """One page: a table of contents of the h2 sections, each section a
    <section> element, tables in scrolling boxes with sticky headers, plots
    inline as data URIs (nothing is loaded from elsewhere).  The headline's
    section has the id browser_check.HEADLINE_ID; `inputs` (input_digests)
    goes into a <meta name="spill-inputs"> element."""
    esc = html.escape
    title = next(block[1] for block in blocks if block[0] == "h1")
    used: set[str] = {browser_check.HEADLINE_ID}
    anchors = {i: browser_check.HEADLINE_ID if block[1] == headline.TITLE else _slug(block[1], used)
               for i, block in enumerate(blocks) if block[0] == "h2"}
    body: list[str] = []
    open_section = False
    for index, block in enumerate(blocks):
        kind = block[0]
        if kind == "h1":
            body.append(f"<h1>{esc(block[1])}</h1>")
        elif kind == "h2":
            if open_section:
                body.append("</section>")
            if not open_section:
                body.append("<!--toc-->")
            body.append(f'<section id="{anchors[index]}"><h2>{esc(block[1])}</h2>')
            open_section = True
        elif kind == "h3":
            body.append(f"<h3>{esc(block[1])}</h3>")
        elif kind == "p":
            body.append(f"<p>{esc(block[1])}</p>")
        elif kind == "failed":
            body.append('<div class="failed-checks" style="border:3px solid #c00000;background:#ffe6e6;color:#c00000">')
            body.append("<h2>FAILED CHECKS</h2>")
            body.append(f"<p><strong>{esc(block[1])}</strong></p><ul>")
            body.extend(f'<li style="color:#c00000"><strong>FAILED</strong> <code>{esc(ident)}</code>: '
                        f'{esc(detail)} (in {esc(path)})</li>' for ident, detail, path in block[2])
            body.append("</ul></div>")
        elif kind == "warning":
            body.append('<div class="noise-warning" style="border:3px solid #b36b00;background:#fff4e0;color:#7a4a00">')
            body.append("<h2>WARNING: BIMODAL POINTS</h2>")
            body.append(f"<p><strong>{esc(block[1])}</strong></p><ul>")
            body.extend(f'<li><strong>BIMODAL</strong> <code>{esc(ident)}</code>: {esc(detail)} '
                        f'(scenario <code>{esc(scenario)}</code>)</li>' for ident, detail, scenario in block[2])
            body.append("</ul></div>")
        elif kind == "list":
            body.append("<ul>" + "".join(f"<li>{esc(item)}</li>" for item in block[1]) + "</ul>")
        elif kind == "table":
            header, rows = block[1], block[2]
            body.append('<div class="table-wrap"><table><thead><tr>'
                        + "".join(f"<th>{esc(str(h))}</th>" for h in header) + "</tr></thead><tbody>")
            for row in rows:
                cls = ' class="failed-row"' if "FAILED" in row else (' class="bimodal-row"' if "BIMODAL" in row else "")
                body.append(f"<tr{cls}>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>")
            body.append("</tbody></table></div>")
        elif kind == "img":
            name, figures = block[1], block[2]
            encoded = base64.b64encode(figures[name]["png"]).decode("ascii")
            body.append(f'<figure><img alt="{esc(figures[name]["title"])}" '
                        f'src="data:image/png;base64,{encoded}"></figure>')
    if open_section:
        body.append("</section>")
    toc = ('<nav class="toc"><p class="toc-title">Contents</p><ol>'
           + "".join(f'<li><a href="#{anchors[i]}">{esc(blocks[i][1])}</a></li>' for i in sorted(anchors))
           + "</ol></nav>")
    head = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)}</title><style>{HTML_STYLE}</style></head><body>"]
    if inputs is not None:
        head.insert(3, f'<meta name="{browser_check.INPUTS_META}" content="{esc(json.dumps(inputs))}">')
    text = "\n".join(head + body + ["</body></html>"]) + "\n"
    return text.replace("<!--toc-->", toc, 1)


def write_report(out_dir: str, markdown: str, html_text: str, figures: dict[str, dict]) -> list[str]:
    """Write report.md, report.html and plots/*.png; each file atomically."""
    plot_dir = os.path.join(out_dir, "plots")
    os.makedirs(plot_dir, exist_ok=True)
    written = []
    for name, figure in figures.items():
        path = os.path.join(plot_dir, f"{name}.png")
        sr.write_atomic(path, figure["png"])
        written.append(path)
    for name, text in (("report.md", markdown), ("report.html", html_text)):
        path = os.path.join(out_dir, name)
        sr.write_atomic(path, text)
        written.append(path)
    return written


def build_parser() -> sr.OneLineArgumentParser:
    parser = sr.OneLineArgumentParser(prog=PROG, description="Write report.md and report.html from spill-bench "
                                                             "results or Google Benchmark JSON.")
    parser.add_argument("results", nargs="+", metavar="RESULTS.json")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--title", default="spill benchmark report")
    parser.add_argument("--no-headline-png", action="store_true",
                        help="do not capture DIR/headline.png in headless Chromium")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        sr.fail(PROG, f"-o {args.output}: exists and is not a directory")
    parent = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(parent):
        sr.fail(PROG, f"-o {args.output}: parent directory {parent} does not exist")
    try:
        inputs = load_inputs(args.results)
    except sr.ResultError as err:
        sr.fail(PROG, str(err))
    data = build_report(inputs, title=args.title)
    figures = render_figures(data)
    blocks = document_blocks(data, figures)
    markdown = render_markdown(blocks)
    try:
        digests = input_digests(args.results)
    except OSError as err:
        sr.fail(PROG, f"{err.filename}: cannot read file: {err.strerror or err}")
    html_text = render_html(blocks, digests)
    try:
        written = write_report(args.output, markdown, html_text, figures)
    except OSError as err:
        sr.fail(PROG, f"-o {args.output}: cannot write: {err.strerror or err}")
    sys.stdout.write(f"report: wrote {written[-2]} and {written[-1]} ({sr.plural(len(figures), 'plot')})\n")
    if not args.no_headline_png:
        try:
            shot = browser_check.capture_headline(written[-1])
        except browser_check.BrowserError as err:
            sys.stderr.write(f"{PROG}: warning: no headline.png ({err}); the report is complete without it\n")
        else:
            sys.stdout.write(f"report: wrote {shot}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
