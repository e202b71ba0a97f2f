#!/usr/bin/python3
"""Does a document show a committed script verbatim?

usage: readme_script.py DOCUMENT.md SCRIPT

The document shows SCRIPT in the first fenced code block after the line

    <!-- verbatim: harness/spill-sweep.sbatch -->

where the name is SCRIPT's path relative to the repository root.  Exit status
0 when the block is the file, byte for byte; 1 when it differs (a unified
diff on stdout) or the marker or its block is missing; 2 on bad input.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys

PROG = "readme_script.py"
ROOT = os.environ.get("SPILL_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def marker(name: str) -> str:
    return f"<!-- verbatim: {name} -->"


def shown_block(document: str, name: str) -> str | None:
    """The text of the first fenced block after the marker for NAME, or None."""
    lines = document.splitlines(keepends=True)
    try:
        start = next(k for k, line in enumerate(lines) if line.strip() == marker(name))
    except StopIteration:
        return None
    fence = next((k for k in range(start + 1, len(lines)) if lines[k].startswith("```")), None)
    if fence is None:
        return None
    end = next((k for k in range(fence + 1, len(lines)) if lines[k].rstrip() == "```"), None)
    return None if end is None else "".join(lines[fence + 1:end])


def differences(document: str, name: str, script: str) -> list[str]:
    """Empty when the document shows SCRIPT verbatim; else the lines saying how not."""
    shown = shown_block(document, name)
    if shown is None:
        return [f"no fenced code block after the line {marker(name)}"]
    if shown == script:
        return []
    return list(difflib.unified_diff(script.splitlines(keepends=True), shown.splitlines(keepends=True),
                                     fromfile=name, tofile="the document's block"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Check that a document shows a script verbatim.")
    parser.add_argument("document")
    parser.add_argument("script")
    args = parser.parse_args(argv)
    texts = []
    for path in (args.document, args.script):
        try:
            with open(path, encoding="utf-8") as handle:
                texts.append(handle.read())
        except OSError as err:
            sys.stderr.write(f"{PROG}: {path}: cannot read: {err.strerror or err}\n")
            return 2
    name = os.path.relpath(os.path.abspath(args.script), ROOT)
    problems = differences(texts[0], name, texts[1])
    if problems:
        print(f"{PROG}: {args.document} does not show {name} verbatim:")
        sys.stdout.write("".join(line if line.endswith("\n") else line + "\n" for line in problems))
        return 1
    print(f"{PROG}: {args.document} shows {name} verbatim")
    return 0


if __name__ == "__main__":
    sys.exit(main())
