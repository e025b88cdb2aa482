"""The HTTP API of ``modelbench serve``: the server and its request handler (standard library only; no pytest here).

``POST /api/benchmark/runs`` starts ``python -m pytest --modelbench ...`` in the background (one run at a time; later
ones wait as ``queued``; see :mod:`pytest_modelbench.cli.runqueue`) with a run id chosen before pytest starts. ``GET
/api/benchmark/runs/{id}`` reads the run's status from the store and, once complete, its leaderboard (the same
aggregates as the terminal and the artifact). ``GET /api/benchmark/recommend?task_pattern=...`` answers with
:func:`pytest_modelbench.recommend_model_for_task`. ``GET /`` is the HTML report of the latest run. What a POST
body may hold is checked in :mod:`pytest_modelbench.cli.runrequest`.

Loopback only unless a token is set; with a token every request needs ``Authorization: Bearer TOKEN``. The API
refuses cross-site requests: POST bodies must be ``application/json`` (a browser cannot send that cross-origin
without a preflight this server never grants), and the Host header must name this server (no DNS rebinding).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pytest_modelbench.cli.runqueue import RunManager
from pytest_modelbench.cli.runrequest import ApiError, parse_run_request
from pytest_modelbench.records import RUN_ID_PATTERN

MAX_BODY = 64 * 1024


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ApiServer(ThreadingHTTPServer):
    """The server: one :class:`RunManager` and the optional bearer token, shared by every request's handler."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], manager: RunManager, token: str | None = None) -> None:
        super().__init__(address, ApiHandler)
        self.manager = manager
        self.token = token

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        # An AF_INET/AF_INET6 server's host is a str; typeshed allows bytes (AF_UNIX), which an f-string would
        # render as b'...'.
        name = host.decode() if isinstance(host, bytes) else str(host)
        name = f"[{name}]" if ":" in name else name
        return f"http://{name}:{port}"


class ApiHandler(BaseHTTPRequestHandler):
    """One request: the host and token guard, then the endpoint; errors answered as JSON ``{"error", "status"}``."""

    server: ApiServer
    server_version = "modelbench"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
        sys.stderr.write(f"modelbench serve: {self.address_string()} {format % args}\n")

    # -- plumbing -------------------------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if content_type.startswith("text/html"):
            # The report has no script: the page may not run any, nor load anything.
            self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        from pytest_modelbench.models.redact import redact_obj

        # Every answer is redacted as it leaves, whatever store or artifact it was read from.
        data = redact_obj(data)
        self._send(status, json.dumps(data, indent=2, default=str).encode("utf-8"), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message, "status": status})

    def _guard(self) -> bool:
        """Host check (no DNS rebinding) and the bearer token; answers and returns False when refused."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        bound = str(self.server.server_address[0])
        if self.server.token is None and host not in ("localhost", "127.0.0.1", "::1", bound):
            self._error(403, f"Host {host or '(none)'} is not this server; use http://127.0.0.1:<port>/")
            return False
        if self.server.token is not None:
            given = self.headers.get("Authorization") or ""
            if not hmac.compare_digest(given.encode(), f"Bearer {self.server.token}".encode()):
                self.send_response(401)
                body = json.dumps({"error": "missing or wrong bearer token (Authorization: Bearer TOKEN)",
                                   "status": 401}).encode()
                self.send_header("WWW-Authenticate", 'Bearer realm="modelbench"')
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return False
        return True

    def _dispatch(self, method: str) -> None:
        if not self._guard():
            return
        url = urlsplit(self.path)
        try:
            if method == "GET" and url.path == "/":
                self._report()
            elif url.path == "/api/benchmark/runs":
                if method != "POST":
                    raise ApiError(405, "use POST to start a run")
                self._start_run()
            elif m := re.fullmatch(r"/api/benchmark/runs/([^/]+)", url.path):
                if method != "GET":
                    raise ApiError(405, "use GET to read a run")
                self._run_status(m.group(1))
            elif url.path == "/api/benchmark/recommend":
                if method != "GET":
                    raise ApiError(405, "use GET for a recommendation")
                self._recommend(parse_qs(url.query))
            else:
                raise ApiError(404, f"no such endpoint: {url.path}")
        except ApiError as exc:
            self._error(exc.status, exc.message)
        except Exception as exc:  # a bug must not kill the server; the client gets a 500 with the reason
            self._error(500, f"{type(exc).__name__}: {exc}")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    # -- endpoints ------------------------------------------------------------------------------------------------

    def _body(self) -> Any:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise ApiError(415, "send the body as Content-Type: application/json")
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            raise ApiError(400, "Content-Length: not a number") from None
        if length > MAX_BODY:
            raise ApiError(413, f"body larger than {MAX_BODY} bytes")
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError as exc:
            raise ApiError(400, f"body: not JSON ({exc})") from None

    def _start_run(self) -> None:
        request = parse_run_request(self._body())
        job = self.server.manager.start(request)
        self._json(202, {"id": job.run_id, "status": "queued" if job.state == "queued" else "running",
                         "url": f"/api/benchmark/runs/{job.run_id}"})

    def _run_status(self, run_id: str) -> None:
        if not re.fullmatch(RUN_ID_PATTERN, run_id):
            raise ApiError(404, f"no run {run_id!r} (run ids look like bench_1a2b3c4d_20260101_120000)")
        doc = self.server.manager.status(run_id)
        if doc is None:
            raise ApiError(404, f"no run {run_id} in {self.server.manager.store} or started by this server")
        self._json(200, doc)

    def _recommend(self, query: dict[str, list[str]]) -> None:
        pattern = (query.get("task_pattern") or [""])[0]
        intents = query.get("intent")
        intent = intents[0] if intents else None
        if not pattern and not intent:
            raise ApiError(400, "query: task_pattern (an intent such as fix-bug, or a task description) is required")
        try:
            from pytest_modelbench import recommend_model_for_task
        except ImportError:
            raise ApiError(501, "recommendations are not available in this version of pytest-modelbench") from None
        try:
            answer = recommend_model_for_task(pattern or (intent or ""), intent=intent, store=self.server.manager.store)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        self._json(200, answer)

    def _report(self) -> None:
        try:
            from pytest_modelbench.report.html import render_html
            from pytest_modelbench.report.runs import RunNotFound, load_run
        except ImportError:
            raise ApiError(503, "the HTML report is not available in this version of pytest-modelbench") from None
        manager = self.server.manager
        if not manager.store.is_file():
            raise ApiError(404, f"no store at {manager.store} yet: start a run first (POST /api/benchmark/runs)")
        try:
            doc = load_run("latest", manager.store, manager.root)
        except RunNotFound as exc:
            raise ApiError(404, str(exc)) from None
        from pytest_modelbench.models.redact import redact_obj

        html = render_html(redact_obj(doc.artifact), doc.history)
        self._send(200, html.encode("utf-8"), "text/html; charset=utf-8")


def make_server(host: str, port: int, store: Path, root: Path, token: str | None = None,
                python: str = sys.executable) -> ApiServer:
    """Bind (port 0: any free port); the caller runs ``serve_forever`` and, at the end, ``shutdown`` and close."""
    if token is None and not is_loopback_host(host):
        raise ValueError(f"--host {host}: not a loopback address; serving beyond this machine needs --token")
    return ApiServer((host, port), RunManager(store, root, python), token)


__all__ = ["ApiHandler", "ApiServer", "is_loopback_host", "make_server"]
