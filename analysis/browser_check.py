#!/usr/bin/python3
"""Load a report.html in headless Chromium and check what a reader sees.

usage: browser_check.py DIR/report.html [--headline] [--browser chromium] [--timeout 60]

Fails (exit 1, one line per problem) on a broken image (not loaded, or zero
natural size), a console error or uncaught exception, a failed resource
load, or an empty section (a <section> with nothing but its heading).
Saves a screenshot of the whole page next to the report (report.png); with
--headline also one of the headline section alone (the element whose id is
HEADLINE_ID), as headline.png.  report.py writes headline.png itself
(`capture_headline`).

A headline.png carries, in a PNG text chunk (key PNG_INPUTS_KEY), what the
page says it was made from: the <meta name="spill-inputs"> of the report,
a JSON list of {"path", "sha256"} of its input files.  `png_text` reads it
back, so a document that shows the picture can tell whether it still shows
its data (analysis/docs.py does).
Exit 2 when the browser cannot be run (it is not installed, or does not
answer): a check that cannot run fails, it is not skipped.

The browser is driven with the Chrome DevTools protocol over a pipe
(`--remote-debugging-pipe`: commands in on fd 3, replies out on fd 4, each
a JSON message ended by a NUL byte), so only the standard library is
needed.  Run as root, Chromium needs --no-sandbox; each run gets a fresh
profile directory.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import struct
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import spill_results as sr  # noqa: E402

PROG = "browser_check.py"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio")
WINDOW = (1366, 900)   # a laptop screen
# The id of the report's headline section (report.py gives it), and the PNG
# text key under which a headline screenshot records the report's inputs.
HEADLINE_ID = "headline"
INPUTS_META = "spill-inputs"
PNG_INPUTS_KEY = "spill-inputs"
# Space kept around the clipped element, in CSS pixels.
CLIP_MARGIN = 8

# Where an element is on the page (document coordinates), and the report's inputs.
ELEMENT_PROBE = """((id) => {
  const e = document.getElementById(id);
  const meta = document.querySelector('meta[name="%s"]');
  if (!e) return {found: false, inputs: meta ? meta.content : null};
  const r = e.getBoundingClientRect();
  return {found: true, x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height,
          inputs: meta ? meta.content : null};
})""" % INPUTS_META

# What the page is asked once it has loaded.
PAGE_PROBE = """(() => {
  const images = [...document.images].map(img => ({alt: img.alt, complete: img.complete,
      width: img.naturalWidth, height: img.naturalHeight, shownWidth: img.getBoundingClientRect().width}));
  const sections = [...document.querySelectorAll('section')].map(s => {
      const heading = s.querySelector('h2');
      const rest = [...s.children].filter(c => c !== heading);
      const text = rest.map(c => c.innerText || '').join('').trim();
      const media = s.querySelectorAll('img, table').length;
      return {id: s.id, title: heading ? heading.innerText : '', empty: !text && media === 0};
  });
  const tocLinks = [...document.querySelectorAll('nav.toc a')].map(a => a.getAttribute('href'));
  const brokenLinks = tocLinks.filter(h => !document.querySelector(h));
  return {title: document.title, images, sections, tocLinks: tocLinks.length, brokenLinks,
          width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight};
})()"""


class BrowserError(Exception):
    """The browser could not be started or did not answer."""


class DevTools:
    """A minimal DevTools protocol client over Chromium's debugging pipe."""

    def __init__(self, browser: str, timeout: float):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="spill-browser-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds():   # in the child: the protocol's fds 3 and 4 (moved out of the way first)
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(high_r, 3)   # inheritable: the only descriptors besides 0-2 the browser gets
            os.dup2(high_w, 4)

        command = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe",
                   f"--window-size={WINDOW[0]},{WINDOW[1]}", "about:blank"]
        try:
            # Not pass_fds=(3, 4): whatever the parent has at 3 and 4 may be
            # closed in the child before wire_fds runs (matplotlib closes its
            # open font files after a fork), and keeping them then fails with
            # EBADF. Descriptors Python opens are close-on-exec, so without
            # close_fds the browser gets 0-2, the two wired here and only what
            # this process itself inherited open across exec.
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, preexec_fn=wire_fds, close_fds=False)
        except OSError as err:
            self._close_fds(to_browser_r, from_browser_w, self._to_browser, self._from_browser)
            shutil.rmtree(self.profile, ignore_errors=True)
            raise BrowserError(f"cannot start {browser}: {err.strerror or err}") from None
        self._close_fds(to_browser_r, from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    @staticmethod
    def _close_fds(*fds: int) -> None:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer from the browser within {self.timeout:g} s")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError(f"the browser closed its pipe (exit status {self.process.poll()})")
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message', reply['error'])}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._read_message(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                try:
                    self.send("Browser.close")
                except BrowserError:
                    pass
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            self._close_fds(self._to_browser, self._from_browser)
            shutil.rmtree(self.profile, ignore_errors=True)


def _console_problems(events: list[dict]) -> list[str]:
    problems = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            problems.append(f"console error: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            problems.append(f"uncaught exception: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            problems.append(f"browser log error: {entry.get('text')} {entry.get('url', '')}".rstrip())
        elif method == "Network.loadingFailed":
            problems.append(f"failed to load a resource: {params.get('errorText')}")
    return problems


# ------------------------------------------------------------------ PNG text chunks


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunks(png: bytes):
    """(type, data, start, end) of every chunk; ValueError if `png` is not a PNG."""
    if not png.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file (bad signature)")
    pos = len(_PNG_SIGNATURE)
    while pos < len(png):
        if pos + 8 > len(png):
            raise ValueError(f"truncated PNG chunk header at byte {pos}")
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        end = pos + 12 + length
        if end > len(png):
            raise ValueError(f"truncated PNG chunk {kind!r} at byte {pos}")
        yield kind, png[pos + 8:pos + 8 + length], pos, end
        pos = end


def png_with_text(png: bytes, items: dict[str, str]) -> bytes:
    """`png` with one tEXt chunk per item (Latin-1 key and text) after its header chunk."""
    first = next(_png_chunks(png))
    if first[0] != b"IHDR":
        raise ValueError("PNG does not start with IHDR")
    extra = b""
    for key, text in items.items():
        data = key.encode("latin-1") + b"\0" + text.encode("latin-1")
        extra += struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    return png[:first[3]] + extra + png[first[3]:]


def png_text(png: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG as {key: text}; ValueError if it is not a PNG."""
    out = {}
    for kind, data, _, _ in _png_chunks(png):
        if kind == b"tEXt" and b"\0" in data:
            key, _, text = data.partition(b"\0")
            out[key.decode("latin-1")] = text.decode("latin-1")
    return out


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels from the header chunk."""
    kind, data, _, _ = next(_png_chunks(png))
    if kind != b"IHDR" or len(data) < 8:
        raise ValueError("PNG does not start with IHDR")
    return struct.unpack(">II", data[:8])


# ------------------------------------------------------------------ loading a page


def _open_page(html_path: str, browser: str, timeout: float) -> tuple[DevTools, str]:
    """A browser with the page loaded: (tools, session). Raises BrowserError."""
    if shutil.which(browser) is None and not os.path.isfile(browser):
        raise BrowserError(f"{browser}: not found (Debian package chromium; ./bench installs it)")
    url = "file://" + os.path.abspath(html_path)
    tools = DevTools(browser, timeout)
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.send(f"{domain}.enable", session=session)
        tools.send("Emulation.setDeviceMetricsOverride", {"width": WINDOW[0], "height": WINDOW[1],
                                                         "deviceScaleFactor": 1, "mobile": False}, session=session)
        tools.events.clear()
        tools.send("Page.navigate", {"url": url}, session=session)
        tools.wait_for("Page.loadEventFired")
    except BaseException:
        tools.close()
        raise
    return tools, session


def _element_shot(tools: DevTools, session: str, element_id: str) -> tuple[bytes | None, str | None]:
    """(PNG of the element with that id and a margin around it, or None; the page's inputs meta)."""
    where = tools.send("Runtime.evaluate", {"expression": f"{ELEMENT_PROBE}({json.dumps(element_id)})",
                                            "returnByValue": True}, session=session)["result"]["value"]
    if not where["found"] or where["width"] <= 0 or where["height"] <= 0:
        return None, where.get("inputs")
    x = max(0.0, where["x"] - CLIP_MARGIN)
    y = max(0.0, where["y"] - CLIP_MARGIN)
    clip = {"x": x, "y": y, "width": min(where["width"] + 2 * CLIP_MARGIN, WINDOW[0] - x),
            "height": min(where["height"] + 2 * CLIP_MARGIN, 16000), "scale": 1}
    shot = tools.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip},
                      session=session)
    return base64.b64decode(shot["data"]), where.get("inputs")


def _save_headline(png: bytes, inputs: str | None, path: str) -> None:
    sr.write_atomic(path, png_with_text(png, {PNG_INPUTS_KEY: inputs}) if inputs else png)


def capture_headline(html_path: str, png_path: str | None = None, browser: str = "chromium",
                     timeout: float = 60.0) -> str:
    """Save the headline section of a report as a PNG (default: headline.png
    beside the report), tagged with the report's inputs; return its path.
    Raises BrowserError when the browser cannot run or the page has no
    element with id HEADLINE_ID."""
    tools, session = _open_page(html_path, browser, timeout)
    try:
        png, inputs = _element_shot(tools, session, HEADLINE_ID)
    finally:
        tools.close()
    if png is None:
        raise BrowserError(f"{html_path}: no element with id {HEADLINE_ID!r} (not a report.html?)")
    path = png_path or os.path.join(os.path.dirname(os.path.abspath(html_path)), "headline.png")
    _save_headline(png, inputs, path)
    return path


def check_page(html_path: str, browser: str = "chromium", timeout: float = 60.0,
               screenshot: str | None = None, headline: str | None = None) -> dict:
    """Load the page and return {"problems": [...], "probe": {...}, "screenshot": path,
    "headline": path or None}.  With `headline` (a path), also save the
    headline section alone there; a page without it is a problem.

    Raises BrowserError when the browser cannot be run.
    """
    tools, session = _open_page(html_path, browser, timeout)
    try:
        probe = tools.send("Runtime.evaluate", {"expression": PAGE_PROBE, "returnByValue": True},
                           session=session)["result"]["value"]
        shot = tools.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {"x": 0, "y": 0, "width": WINDOW[0],
                                                             "height": min(probe["height"], 16000), "scale": 1}},
                          session=session)
        head_png, inputs = _element_shot(tools, session, HEADLINE_ID) if headline else (None, None)
        problems = _console_problems(tools.events)
    finally:
        tools.close()
    for image in probe["images"]:
        if not image["complete"] or image["width"] == 0 or image["height"] == 0:
            problems.append(f"broken image: {image['alt'] or '(no alt text)'}")
    for section in probe["sections"]:
        if section["empty"]:
            problems.append(f"empty section: {section['title'] or section['id']}")
    if not probe["sections"]:
        problems.append("the page has no sections")
    for link in probe["brokenLinks"]:
        problems.append(f"table of contents link {link} points nowhere")
    if probe["width"] > WINDOW[0]:
        problems.append(f"the page is {probe['width']} px wide, wider than a {WINDOW[0]} px laptop screen")
    path = screenshot or os.path.join(os.path.dirname(os.path.abspath(html_path)), "report.png")
    sr.write_atomic(path, base64.b64decode(shot["data"]))
    head_path = None
    if headline:
        if head_png is None:
            problems.append(f"no headline screenshot: the page has no element with id {HEADLINE_ID!r}")
        else:
            _save_headline(head_png, inputs, headline)
            head_path = headline
    return {"problems": problems, "probe": probe, "screenshot": path, "headline": head_path}


def build_parser() -> sr.OneLineArgumentParser:
    parser = sr.OneLineArgumentParser(prog=PROG, description="Check a report.html in headless Chromium.")
    parser.add_argument("html", metavar="report.html")
    parser.add_argument("--browser", default="chromium")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each browser answer")
    parser.add_argument("--headline", action="store_true",
                        help=f"also save the headline section alone (id {HEADLINE_ID!r}) as headline.png beside the report")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not os.path.isfile(args.html):
        sr.fail(PROG, f"{args.html}: no such file")
    try:
        headline = (os.path.join(os.path.dirname(os.path.abspath(args.html)), "headline.png")
                    if args.headline else None)
        result = check_page(args.html, args.browser, args.timeout, headline=headline)
    except BrowserError as err:
        sr.fail(PROG, str(err))
    for problem in result["problems"]:
        sys.stdout.write(f"browser: {problem}\n")
    probe = result["probe"]
    verdict = "FAIL" if result["problems"] else "ok"
    sys.stdout.write(f"browser: {verdict} ({len(probe['images'])} images, {len(probe['sections'])} sections; "
                     f"screenshot {result['screenshot']}"
                     + (f", headline {result['headline']}" if result["headline"] else "") + ")\n")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
