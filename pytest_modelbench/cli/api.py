"""The HTTP API of ``modelbench serve`` (standard library only; no pytest in this process).

``POST /api/benchmark/runs`` starts ``python -m pytest --modelbench ...`` in the background (one run at a time; later
ones wait as ``queued``) with a run id chosen here, so the id is known before pytest writes it. ``GET
/api/benchmark/runs/{id}`` reads the run's status from the store and, once complete, its leaderboard (the same
aggregates as the terminal and the artifact). ``GET /api/benchmark/recommend?task_pattern=...`` answers with
:func:`pytest_modelbench.recommend_model_for_task`. ``GET /`` is the HTML report of the latest run.

Loopback only unless a token is set; with a token every request needs ``Authorization: Bearer TOKEN``. The API
refuses cross-site requests: POST bodies must be ``application/json`` (a browser cannot send that cross-origin
without a preflight this server never grants), and the Host header must name this server (no DNS rebinding).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pytest_modelbench.errors import ModelbenchError
from pytest_modelbench.store.artifact import new_run_id

MAX_BODY = 64 * 1024
LOG_TAIL_CHARS = 2000
START_WAIT = 2.0  # seconds POST waits for the run to leave the queue before answering
MODEL_ID = re.compile(r"[A-Za-z0-9][\w.:/@+-]*")
RUN_ID_PATTERN = r"bench_[0-9a-f]{8}_[0-9]{8}_[0-9]{6}"  # the artifact schema's run.id
# Options a client may pass in extra_args: the benchmark's own that choose what runs and how, not the ones that
# name files this server owns (store, artifact, manifest), load code (-p) or collect the project's tests.
EXTRA_ALLOWED = frozenset({
    "--models", "--sessions", "--sample-size", "--sample-seed", "--intent", "--modelbench-name", "--runner",
    "--rubric", "--modelbench-min-score", "--allow-cloud", "--budget-cap-usd", "--model-api-base", "--price",
    "--max-concurrency", "--modelbench-cache", "--replay-mode", "--max-iterations", "--max-turns", "--judge",
    "--model-timeout", "--check-command", "--modelbench-baseline", "--modelbench-tolerance",
    "--modelbench-force-compare", "--trend-window", "--trend-threshold", "--modelbench-shard",
    "-k", "-n", "-x", "-q", "-v", "--maxfail",
})


class ApiError(ModelbenchError):
    """A request that cannot be served: answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class RunRequest:
    """What ``POST /api/benchmark/runs`` (and ``modelbench run``) may ask for."""

    models: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()
    name: str | None = None
    sample_size: int | None = None
    budget_cap_usd: float | None = None
    extra_args: tuple[str, ...] = ()


def build_pytest_command(request: RunRequest, *, python: str = sys.executable, store: Path | None = None,
                         run_id: str | None = None) -> list[str]:
    """``python -m pytest --modelbench`` with the request's options: the one place a run's command line is made."""
    cmd = [python, "-m", "pytest", "--modelbench"]
    if request.name:
        cmd += ["--modelbench-name", request.name]
    if request.models:
        cmd += ["--models", ",".join(request.models)]
    for spec in request.sessions:
        cmd += ["--sessions", spec]
    if request.sample_size is not None:
        cmd += ["--sample-size", str(request.sample_size)]
    if request.budget_cap_usd is not None:
        cmd += ["--budget-cap-usd", repr(request.budget_cap_usd)]
    if store is not None:
        cmd += ["--modelbench-store", str(store)]
    if run_id is not None:
        cmd += ["--modelbench-run-id", run_id]
    return cmd + list(request.extra_args)


def _strings(body: dict[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ApiError(400, f"field '{key}': expected a list of non-empty strings")
    return tuple(v.strip() for v in value)


def parse_run_request(body: Any) -> RunRequest:
    """Validate a POST body; every problem is a 400 naming the field."""
    if not isinstance(body, dict):
        raise ApiError(400, "body: expected a JSON object")
    unknown = sorted(set(body) - {"name", "models", "sessions", "sample_size", "budget_cap_usd", "extra_args"})
    if unknown:
        raise ApiError(400, f"field '{unknown[0]}': unknown (known: name, models, sessions, sample_size, "
                            "budget_cap_usd, extra_args)")
    models = _strings(body, "models")
    for m in models:
        if not MODEL_ID.fullmatch(m):
            raise ApiError(400, f"field 'models': {m!r} is not a model id")
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ApiError(400, "field 'name': expected a non-empty string")
    size = body.get("sample_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise ApiError(400, "field 'sample_size': expected an integer >= 0")
    cap = body.get("budget_cap_usd")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int | float) or cap <= 0):
        raise ApiError(400, "field 'budget_cap_usd': expected a number > 0")
    extra = body.get("extra_args") or []
    if not isinstance(extra, list) or not all(isinstance(a, str) for a in extra):
        raise ApiError(400, "field 'extra_args': expected a list of strings")
    check_extra_args(extra)
    return RunRequest(models, _strings(body, "sessions"), name.strip() if name else None, size,
                      float(cap) if cap is not None else None, tuple(extra))


def check_extra_args(args: Sequence[str]) -> None:
    """Only benchmark options (and -k, -n, -x, -q, -v, --maxfail) may come over HTTP: no plugins, no other paths."""
    for arg in args:
        if arg.startswith("-"):
            flag = arg.split("=", 1)[0]
            if flag not in EXTRA_ALLOWED:
                raise ApiError(400, f"field 'extra_args': {flag} is not allowed over the API (allowed: the "
                                    "benchmark's options, -k, -n, -x, -q, -v, --maxfail)")


@dataclass
class Job:
    run_id: str
    command: list[str]
    log: Path
    state: str = "queued"  # queued | running | exited
    returncode: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    left_queue: threading.Event = field(default_factory=threading.Event, repr=False)


class RunManager:
    """Starts runs as pytest subprocesses, one at a time, in ``root`` against ``store``; tracks them by run id."""

    def __init__(self, store: Path, root: Path, python: str = sys.executable) -> None:
        self.store = store
        self.root = root
        self.python = python
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._slot = threading.Semaphore(1)
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, request: RunRequest) -> Job:
        run_id = new_run_id()
        with self._lock:
            while run_id in self.jobs:
                run_id = new_run_id()
            log = self.store.parent / "api-logs" / f"{run_id}.log"
            job = Job(run_id, build_pytest_command(request, python=self.python, store=self.store, run_id=run_id),
                      log)
            self.jobs[run_id] = job
        thread = threading.Thread(target=self._run, args=(job,), name=f"modelbench-run-{run_id}", daemon=True)
        self._threads.append(thread)
        thread.start()
        # Answer "running" when the run starts at once; a run waiting behind another is answered "queued".
        job.left_queue.wait(START_WAIT)
        return job

    def _run(self, job: Job) -> None:
        with self._slot:
            if self._closing.is_set():
                job.state, job.returncode = "exited", None
                job.left_queue.set()
                return
            job.log.parent.mkdir(parents=True, exist_ok=True)
            with job.log.open("wb") as out:
                try:
                    process = subprocess.Popen(job.command, cwd=self.root, stdout=out, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL)
                except OSError as exc:
                    out.write(f"cannot start pytest: {exc}\n".encode())
                    job.state, job.returncode = "exited", None
                    job.left_queue.set()
                    return
                with self._lock:
                    job.process, job.state = process, "running"
                job.left_queue.set()
                job.returncode = process.wait()
                job.state = "exited"

    def close(self, timeout: float = 10.0) -> None:
        """Stop: runs still waiting never start; a running pytest is interrupted (it still writes its artifact)."""
        import signal

        self._closing.set()
        for job in list(self.jobs.values()):
            if job.state == "running" and job.process is not None and job.process.poll() is None:
                job.process.send_signal(signal.SIGINT)
        for thread in self._threads:
            thread.join(timeout)
        for job in list(self.jobs.values()):
            if job.process is not None and job.process.poll() is None:
                job.process.kill()
                job.process.wait()

    def status(self, run_id: str) -> dict[str, Any] | None:
        """The run's status document, or None when neither this server nor the store knows it."""
        from pytest_modelbench.analysis.leaderboard import model_rows
        from pytest_modelbench.store.sqlite import Store

        job = self.jobs.get(run_id)
        row = None
        outcomes = []
        if self.store.is_file():
            store = Store(self.store)
            try:
                row = store.run(run_id)
                if row is not None and row["status"] == "complete":
                    outcomes = store.outcome_records(run_id)
            finally:
                store.close()
        if row is None and job is None:
            return None
        doc: dict[str, Any] = {"id": run_id}
        if row is not None:
            status = row["status"]
            if job is not None and job.state != "exited" and status != "running":
                # The store says done before pytest has written the artifact and exited: not done for the client.
                status = "running"
            if status == "running" and job is not None and job.state == "exited":
                status = "failed"  # pytest ended without finishing the run (killed, crashed)
            models = json.loads(row["candidate_models_json"])
            doc.update(status=status, name=row["name"], models=models, rubric_version=row["rubric_version"],
                       sessions=len(json.loads(row["source_session_ids_json"])), created_ts=row["created_ts"],
                       completed_ts=row["completed_ts"], total_cost_usd=row["total_cost_usd"])
            if status == "complete":
                doc["leaderboard"] = [r.to_dict() for r in model_rows(outcomes, models)]
        else:
            assert job is not None
            # pytest has not created the run yet (queued, starting), or it stopped before it could (a usage error).
            doc["status"] = {"queued": "queued", "running": "running"}.get(job.state, "failed")
        if job is not None:
            doc["exit_code"] = job.returncode
            doc["command"] = job.command
            if doc["status"] == "failed":
                doc["error"] = _tail(job.log)
        return doc


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-LOG_TAIL_CHARS:]


class ApiServer(ThreadingHTTPServer):
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
        self._send(200, render_html(doc.artifact, doc.history).encode("utf-8"), "text/html; charset=utf-8")


def make_server(host: str, port: int, store: Path, root: Path, token: str | None = None,
                python: str = sys.executable) -> ApiServer:
    """Bind (port 0: any free port); the caller runs ``serve_forever`` and, at the end, ``shutdown`` and close."""
    if token is None and not is_loopback_host(host):
        raise ValueError(f"--host {host}: not a loopback address; serving beyond this machine needs --token")
    return ApiServer((host, port), RunManager(store, root, python), token)


__all__ = ["ApiError", "ApiServer", "RunManager", "RunRequest", "build_pytest_command", "check_extra_args",
           "is_loopback_host", "make_server", "parse_run_request"]
