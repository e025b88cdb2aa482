"""The HTML report of a real run (demo + humaneval + a session with planted markup) in headless Chromium: every part
is there, a planted ``<script>`` shows as text and does not run, and the page fetches nothing.

A loopback HTTP server counts requests; a control page (raw markup, not our report) proves that this Chromium does
run scripts and fetch from it, so the report's zero is not an artefact of the set-up. Skipped when no Chromium is
installed, failed then under ``MODELBENCH_REQUIRE_SANDBOX=1`` (``.ci/run`` sets it and installs Debian's ``chromium``).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .helpers import chromium_executable, read_artifacts, requires_chromium, write_case

CHROMIUM = chromium_executable()
pytestmark = requires_chromium

SECTIONS = ("leaderboard", "heatmap", "scatter", "pareto", "trend", "sessions", "recommendations", "caveat")


class Probe:
    """A loopback HTTP server that records every request path."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        probe = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                probe.paths.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def probe() -> Iterator[Probe]:
    p = Probe()
    yield p
    p.close()


def chromium(tmp: Path, page: Path, *extra: str) -> str:
    """Load ``page`` in headless Chromium and return what it prints (the DOM after scripts with --dump-dom)."""
    assert CHROMIUM is not None
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-default-apps", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
           f"--user-data-dir={tmp / 'chromium-profile'}", *extra, page.resolve().as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


class Dom(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.title = ""
        self.tags: list[str] = []
        self._in: list[str] = []
        self.section_text: dict[str, list[str]] = {}
        self._section: str | None = None
        self._head = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "section":
            self._section = a.get("id")
        self._head = self._head or tag == "head"
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self._head = self._head and tag != "head"
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self._head and self._in and self._in[-1] == "title":
            self.title += data
        if self._section:
            self.section_text.setdefault(self._section, []).append(data)


def test_control_page_runs_scripts_and_fetches(tmp_path: Path, probe: Probe) -> None:
    page = tmp_path / "control.html"
    page.write_text(f"<!DOCTYPE html><html><head><title>control</title></head><body>"
                    f"<script>document.title='pwned'</script><img src=\"{probe.url}/control.png\"></body></html>")
    dom = Dom(chromium(tmp_path, page, "--dump-dom"))
    assert dom.title == "pwned"
    assert probe.paths == ["/control.png"]


def test_report_of_a_real_run_in_chromium(pytester: pytest.Pytester, probe: Probe) -> None:
    planted = (f"<script>document.title='pwned';document.body.insertAdjacentHTML('beforeend','<p id=\"pwned\">!</p>')"
               f"</script><img src=\"{probe.url}/planted.png\"> please fix add")
    path = write_case(pytester.path / "cases", "planted", {"calc.py": "def add(a, b):\n    return a - b\n"},
                      {"calc.py": "def add(a, b):\n    return a + b\n"},
                      {"tests/test_add.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"})
    case = json.loads(path.read_text())
    case["prompt"] = planted + "\nsecond line"
    path.write_text(json.dumps(case))
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "demo",
                                           "--sessions", "humaneval", "--sessions", "cases", "--sample-size", "2",
                                           "--modelbench-html", "report.html")
    assert result.ret == 0, result.stdout.str()[-3000:]
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert {s["key"].split("/")[0] for s in artifact["sessions"]} == {"demo", "humaneval", "cases"}
    report = pytester.path / "report.html"

    dom = Dom(chromium(pytester.path, report, "--dump-dom"))
    assert dom.title == f"modelbench {artifact['run']['id']}"  # the planted script did not set it
    assert "pwned" not in dom.ids and "img" not in dom.tags and "script" not in dom.tags
    assert set(SECTIONS) <= dom.ids
    sessions_text = "".join(dom.section_text["sessions"])
    assert planted in sessions_text  # shown as text, in full
    board = "".join(dom.section_text["leaderboard"])
    assert "replay/gold" in board and "replay/noop" in board
    assert probe.paths == []  # nothing fetched, not even the planted image

    shot = pytester.path / "report.png"
    chromium(pytester.path, report, f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert probe.paths == []


class Details(HTMLParser):
    """The ``<details>`` around the element with one id, as Chromium left it: whether it is open and its text."""

    def __init__(self, text: str, ident: str) -> None:
        super().__init__()
        self.ident, self.open, self.found = ident, False, False
        self.text: list[str] = []
        self._details: list[tuple[bool, list[str]]] = []  # the open <details> elements: (open?, their text)
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "details":
            self._details.append(("open" in a, []))
        if a.get("id") == self.ident and self._details:
            self.found, self.open, self.text = True, self._details[-1][0], self._details[-1][1]

    def handle_endtag(self, tag: str) -> None:
        if tag == "details" and self._details:
            self._details.pop()

    def handle_data(self, data: str) -> None:
        for _, text in self._details:
            text.append(data)


def test_an_outcome_opens_from_its_link_without_script(pytester: pytest.Pytester) -> None:
    from pytest_modelbench.report.outcome import outcome_anchor
    from pytest_modelbench.sources.demo import DemoSource
    from pytest_modelbench.testing.openai_server import FakeOpenAI

    with FakeOpenAI(lifetime=600) as server:
        server.teach_sessions(DemoSource().sessions())
        result = pytester.runpytest_subprocess(
            "--modelbench", "-p", "no:cacheprovider", "--runner", "local", "--models", "openai/solver",
            "--model-api-base", server.base_url, "--sample-size", "2", "--modelbench-html", "report.html")
    assert result.ret == 0, result.stdout.str()[-3000:]
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    outcome = next(o for o in artifact["outcomes"] if o["model"] == "openai/solver" and o["evidence"].get("diff"))
    transcript = outcome["evidence"]["replay"]["transcript"]
    # The solver answers with tool calls (write_file, finish): its answer is their arguments.
    call = next(c["function"] for m in transcript if m["role"] == "assistant" for c in m.get("tool_calls") or [])
    ident = outcome_anchor(outcome)
    report = pytester.path / "report.html"
    html = report.read_text()
    assert f'href="#{ident}"' in html  # the heatmap cell links to it
    closed = Details(chromium(pytester.path, report, "--dump-dom"), ident)
    assert closed.found and not closed.open

    # Following the cell's link opens the <details> (the browser does it; the page has no script).
    dump = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--dump-dom",
         f"--user-data-dir={pytester.path / 'chromium-profile'}", f"{report.resolve().as_uri()}#{ident}"],
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL).stdout
    opened = Details(dump, ident)
    assert opened.open, "the outcome did not open from its link"
    text = "".join(opened.text)
    args = json.loads(call["arguments"])
    assert f"tool call {call['name']}" in text and f"path: {args['path']}" in text
    assert args["content"].splitlines()[0] in text  # the file the model wrote, as lines
    first_added = next(line for line in outcome["evidence"]["diff"].splitlines()
                       if line.startswith("+") and not line.startswith("+++"))
    assert first_added in text
