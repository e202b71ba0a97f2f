"""Hosts: which points ran where, when the input holds points from more
than one host (shards of a sweep run on several machines and merged, or
several files given together).  The section appears only then, and warns
that figures from different hosts are not directly comparable.

Where a point's host comes from (harness/SCHEMA.md, "Provenance"):

* a file that is not a merge: its `metadata.provenance.host` (a version 1
  file: `metadata.hostname`) for every point, unless a `--resume` on
  another host (`metadata.resumed[].host`) makes that unknown;
* a merged file, from `metadata.merged_from` (one entry per shard file):
  an entry that lists its `points` puts them on its `host` (or its
  `provenance.host`); a shard resumed on other hosts (`hosts`, or its
  `resumed` entries) leaves its points' host unknown.  Points no entry
  lists (a merge that records only each shard's provenance) are on the one
  host every shard ran on, or unknown when the shards ran on several.

A point whose host is unknown is listed as "not recorded", with a note
saying why; the section never guesses.
"""

from __future__ import annotations

import spill_results as sr

KEY = "hosts"
TITLE = "Hosts: which points ran where"

UNKNOWN = "not recorded"

WARNING = ("figures from different hosts are not directly comparable: the CPUs, caches, memory, kernel and "
           "load differ, and the run metadata, the floors and the manifest this report shows are one host's "
           "(for a merged file, its first shard's). Compare points of one host with each other; read a "
           "difference across hosts as partly the hosts' difference")


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _hosts_of(provenance: dict, resumed, fallback: str | None = None) -> list[str]:
    """The distinct hosts a file's sessions ran on: the one that started it
    (provenance.host, or a version 1 file's hostname) and each --resume."""
    hosts = [provenance.get("host") or fallback or UNKNOWN]
    hosts += [_dict(r).get("host") or UNKNOWN for r in (resumed if isinstance(resumed, list) else [])]
    return list(dict.fromkeys(str(h) for h in hosts))


def file_hosts(path: str, doc: dict) -> dict:
    """Where one input's points ran: {"point_host" {id: host or UNKNOWN},
    "hosts" (every host the file names), "sources" [(what, host, commit)],
    "notes" [why some points have no host]}."""
    metadata = _dict(doc.get("metadata"))
    ids = [point["id"] for point in doc.get("points") or []]
    merged = metadata.get("merged_from")
    notes: list[str] = []
    if not (isinstance(merged, list) and merged):
        provenance = _dict(metadata.get("provenance"))
        hosts = _hosts_of(provenance, metadata.get("resumed"), metadata.get("hostname"))
        host = hosts[0] if len(hosts) == 1 else UNKNOWN
        if len(hosts) > 1:
            notes.append(f"{path} was resumed on another host ({', '.join(hosts)}) and does not record which "
                         f"point ran where: its {sr.plural(len(ids), 'point')} are listed as '{UNKNOWN}'")
        elif host == UNKNOWN:
            notes.append(f"{path} does not record its host")
        commit = provenance.get("commit") or metadata.get("commit")
        return {"point_host": {i: host for i in ids}, "hosts": hosts,
                "sources": [(path, h, commit) for h in hosts], "notes": notes}
    point_host: dict[str, str] = {}
    sources = []
    all_hosts: list[str] = []
    for entry in map(_dict, merged):
        provenance = _dict(entry.get("provenance"))
        listed = entry.get("hosts") if isinstance(entry.get("hosts"), list) else []
        hosts = list(dict.fromkeys([str(h) for h in listed] + _hosts_of(
            {"host": entry.get("host") or provenance.get("host")}, entry.get("resumed"))))
        all_hosts += hosts
        name = str(entry.get("file") or "?")
        sources += [(f"{path}: shard {name}", h, entry.get("commit") or provenance.get("commit")) for h in hosts]
        if isinstance(entry.get("points"), list):
            host = hosts[0] if len(hosts) == 1 else UNKNOWN
            point_host.update({str(i): host for i in entry["points"]})
            if len(hosts) > 1:
                notes.append(f"{path}: shard {name} was resumed on another host ({', '.join(hosts)}); which of its "
                             f"{sr.plural(len(entry['points']), 'point')} ran where is not recorded")
    all_hosts = list(dict.fromkeys(all_hosts))
    rest = [i for i in ids if i not in point_host]
    if rest:
        only = all_hosts[0] if len(all_hosts) == 1 and all_hosts[0] != UNKNOWN else None
        point_host.update({i: only or UNKNOWN for i in rest})
        if only is None:
            notes.append(f"{path} merges {sr.plural(len(merged), 'shard')} from {len(all_hosts)} hosts "
                         f"({', '.join(all_hosts)}) and does not record which shard "
                         f"{sr.plural(len(rest), 'point')} came from: they are listed as '{UNKNOWN}'")
    return {"point_host": {i: point_host[i] for i in ids}, "hosts": all_hosts, "sources": sources, "notes": notes}


def hosts_section(inputs: list[tuple[str, dict]]) -> dict:
    """The section's data: {"shown", "names" (the known hosts), "hosts"
    [{"host", "points", "sources", "commits"}], "rows" [{"id", "scenario",
    "host", "file"}], "notes"}.  Shown only when the input names more than
    one host."""
    per_file = [(path, doc, file_hosts(path, doc)) for path, doc in inputs]
    names = sorted({host for _, _, f in per_file for host in f["hosts"] if host != UNKNOWN})
    rows = [{"id": point["id"], "scenario": point.get("scenario", "?"), "host": f["point_host"][point["id"]],
             "file": path} for path, doc, f in per_file for point in doc.get("points") or []]
    hosts = []
    for name in names + ([UNKNOWN] if any(r["host"] == UNKNOWN for r in rows) else []):
        sources = [what for _, _, f in per_file for what, host, _ in f["sources"] if host == name]
        commits = sorted({str(commit) for _, _, f in per_file for _, host, commit in f["sources"]
                          if host == name and commit})
        hosts.append({"host": name, "points": sum(1 for r in rows if r["host"] == name),
                      "sources": sources, "commits": commits})
    rows.sort(key=lambda r: (r["host"] == UNKNOWN, r["host"], r["scenario"], r["id"]))
    return {"shown": len(names) > 1, "names": names, "hosts": hosts, "rows": rows,
            "notes": [note for _, _, f in per_file for note in f["notes"]]}


def compute(ctx: dict) -> dict:
    return hosts_section(ctx["inputs"])


def render_figures(data: dict) -> dict[str, dict]:
    return {}


def document_blocks(data: dict, figures: dict[str, dict]) -> list[tuple]:
    if not data["shown"]:
        return []
    blocks: list[tuple] = [("h2", TITLE),
                           ("p", f"WARNING: these points ran on {len(data['names'])} hosts "
                                 f"({', '.join(data['names'])}); {WARNING}.")]
    if data["notes"]:
        blocks.append(("list", data["notes"]))
    blocks.append(("table", ["host", "points", "from", "commit"],
                   [[h["host"], str(h["points"]), "; ".join(h["sources"]) or "-", ", ".join(h["commits"]) or ("-" if h["host"] == UNKNOWN else "unknown")]
                    for h in data["hosts"]]))
    blocks.append(("table", ["host", "scenario", "point id", "file"],
                   [[r["host"], r["scenario"], r["id"], r["file"]] for r in data["rows"]]))
    return blocks
