"""A loopback OpenAI-compatible chat-completions server for tests and benchmarks (no network beyond 127.0.0.1).

Behaviour is chosen by the model name in the request (``openai/<name>`` through litellm sends ``<name>``):

- ``solver``: solves sessions it has been taught (:meth:`FakeOpenAI.teach`): in agent mode (when the request has
  tools) it calls ``write_file`` for each file of the solution and then ``finish``; without tools it answers with
  whole files in fenced blocks (``path`` on the fence line).
- ``solver-text``: like ``solver`` but never uses native tool calls: it speaks the text tool protocol.
- ``noop``: answers that it changes nothing (and calls ``finish`` when tools are offered).
- ``garbage``: answers unparseable text, or a tool call with broken JSON arguments.
- ``scripted-<name>``: answers like ``solver`` with what :meth:`FakeOpenAI.script` recorded under ``name``, whatever
  the prompt: in agent mode first the shell commands, then the file reads, then the writes (hostile candidates for
  the hardening tests are scripted this way, see ``tests/attacks.py``).
- a name in ``qualities`` (e.g. ``{"flaky": 0.8}``): a model of fixed quality and random answers; each request is
  answered like ``solver`` with that probability and like ``solver`` that does not know the task otherwise, drawn
  from the server's seeded RNG (so a sequence of runs is reproducible; change the value to simulate a real drop).
- ``sampler``: samples like a model at a temperature: at temperature 0 it answers like ``solver``; above 0 like
  ``solver`` for an even ``seed`` and like ``noop`` for an odd one (so ``--repeats`` with a temperature varies).
- ``judge-json``: a judge that always answers problem_solved 8, code_clean 6, edge_cases 7 as strict JSON.
- ``judge-prose``: a judge that answers prose instead of JSON.
- anything else: like ``noop``.

Faults: ``fault_rate`` (0-1) of requests fail with one of ``fault_kinds`` (``429``, ``500``, ``timeout``,
``malformed``), chosen by a seeded RNG; ``latency`` seconds are added to every answer. :meth:`rate_limit` opens a
429 window: from the next request on, for that many seconds, every request is answered 429 with a header saying
when to come back (``Retry-After`` in seconds or as an HTTP date, or OpenAI's ``x-ratelimit-reset-requests``).
``queued_faults`` makes the next requests fail, in order. ``hold_until`` N > 0 holds every request until N are in
flight at once (then they all go on), or until :meth:`release`: a test sees the peak of calls in flight by events,
not by timing. ``in_flight`` drops before the answer is written, so a client that sends its next request as soon
as it has an answer is never counted twice. Every request body is kept in ``requests`` (for
assertions such as "this secret was never sent"), with its arrival time in ``arrivals``. The server stops with
:meth:`close`, and by itself after ``lifetime`` seconds.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULT_KINDS = ("429", "500", "timeout", "malformed")
RETRY_AFTER_STYLES = ("seconds", "date", "reset", "none")


@dataclass
class Lesson:
    """What the solver writes when a prompt contains ``marker``: relative path -> full file text."""

    marker: str
    files: dict[str, str]
    delete: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()  # run_command calls made before anything else (agent mode only)
    reads: tuple[str, ...] = ()  # read_file calls made after the commands (agent mode only)


@dataclass
class FakeOpenAI:
    latency: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    lifetime: float = 900.0
    timeout_sleep: float = 30.0
    prompt_tokens_per_char: float = 0.25
    lessons: list[Lesson] = field(default_factory=list)
    qualities: dict[str, float] = field(default_factory=dict)
    scripts: dict[str, Lesson] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    rate_limited: int = 0  # 429s sent by the rate-limit window
    queued_faults: list[str] = field(default_factory=list)  # the next requests fail with these, in order
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each request, in order
    hold_until: int = 0  # > 0: a request waits until this many are in flight at once, or release() (see above)
    hold_timeout: float = 60.0  # a held request goes on after this long anyway (a test fails instead of hanging)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)  # notified on every arrival and every release
        self._released = 0  # bumped each time the held requests are let go
        self._rng = random.Random(self.seed)
        self._window: tuple[float, str] | None = None  # (seconds, style) of a window not yet opened
        self.window: tuple[float, float] | None = None  # (start, end) in time.monotonic() once opened
        handler = _make_handler(self)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self.close)
        self._timer.daemon = True
        self._timer.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def teach(self, marker: str, files: dict[str, str], delete: tuple[str, ...] = ()) -> None:
        self.lessons.append(Lesson(marker, dict(files), tuple(delete)))

    def script(self, name: str, files: dict[str, str], delete: tuple[str, ...] = (), commands: tuple[str, ...] = (),
               reads: tuple[str, ...] = ()) -> None:
        """What model ``scripted-<name>`` answers, whatever the prompt."""
        self.scripts[name] = Lesson(name, dict(files), tuple(delete), tuple(commands), tuple(reads))

    def teach_sessions(self, sessions: Any) -> None:
        """Teach the solver the gold change of each session (a Session's prompt identifies it)."""
        from pathlib import Path

        for session in sessions:
            files = dict(session.gold.files.files)
            directory = session.gold.files.directory
            if directory is not None:
                for path in sorted(Path(directory).rglob("*")):
                    if path.is_file() and "__pycache__" not in path.parts:
                        files.setdefault(path.relative_to(directory).as_posix(), path.read_text(encoding="utf-8"))
            self.teach(session.prompt.strip()[:200], files, tuple(session.gold.delete))

    def rate_limit(self, seconds: float, style: str = "seconds") -> None:
        """From the next request on, answer 429 for ``seconds``, saying when to come back in the ``style`` header."""
        if style not in RETRY_AFTER_STYLES:
            raise ValueError(f"style must be one of {RETRY_AFTER_STYLES}, got {style!r}")
        with self._lock:
            self._window = (seconds, style)
            self.window = None

    def _limited(self, now: float) -> dict[str, str] | None:
        """The 429's headers when ``now`` falls in the window (opening it on its first request), else None."""
        with self._lock:
            if self._window is not None and self.window is None:
                self.window = (now, now + self._window[0])
            if self.window is None or not self.window[0] <= now < self.window[1]:
                return None
            self.rate_limited += 1
            left = self.window[1] - now
            style = self._window[1] if self._window else "seconds"
        # Whole seconds, rounded up: a client that honours the header never comes back inside the window.
        if style == "seconds":
            return {"Retry-After": str(math.ceil(left))}
        if style == "date":
            return {"Retry-After": formatdate(math.ceil(time.time() + left) + 1, usegmt=True)}
        if style == "reset":
            return {"x-ratelimit-reset-requests": f"{left + 0.001:.3f}s"}
        return {}

    def release(self) -> None:
        """Let every held request go on, and hold no more."""
        with self.changed:
            self.hold_until = 0
            self._released += 1
            self.changed.notify_all()

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        """Wait (on the server's events, not by polling) until ``predicate(server)`` holds; whether it did."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self), timeout=timeout)

    def _hold(self) -> None:
        with self.changed:
            if self.hold_until <= 0:
                return
            if self.in_flight >= self.hold_until:
                self._released += 1
                self.changed.notify_all()
                return
            seen = self._released
            # Bounded, so a client that never reaches the count fails its test instead of hanging it.
            self.changed.wait_for(lambda: self._released != seen or self.hold_until <= 0,
                                    timeout=self.hold_timeout)

    def _done(self, handler: Any) -> None:
        """The request leaves the in-flight count (once), just before its answer is written."""
        if getattr(handler, "counted", False):
            handler.counted = False
            with self.changed:
                self.in_flight -= 1
                self.changed.notify_all()

    def close(self) -> None:
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- behaviour -------------------------------------------------------------------------------------------

    def _fault(self) -> str | None:
        with self._lock:
            if self.queued_faults:
                self.faults += 1
                return self.queued_faults.pop(0)
            if self.fault_rate and self._rng.random() < self.fault_rate:
                self.faults += 1
                return self._rng.choice(self.fault_kinds)
        return None

    def _lesson(self, messages: list[dict[str, Any]]) -> Lesson | None:
        text = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
        for lesson in self.lessons:
            if lesson.marker in text:
                return lesson
        return None

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        model = str(body.get("model", ""))
        if model.startswith("sampler"):
            hot = float(body.get("temperature") or 0) > 0
            model = "noop" if hot and int(body.get("seed") or 0) % 2 else "solver"
        messages = body.get("messages") or []
        tools = body.get("tools")
        done_before = any(m.get("role") == "tool" for m in messages) or any(
            "TOOL RESULT" in str(m.get("content") or "") for m in messages if m.get("role") == "user")
        message: dict[str, Any]
        if model.startswith("judge-json"):
            verdict = {"problem_solved": 8, "code_clean": 6, "edge_cases": 7, "rationale": "Solid, a bit terse."}
            message = {"role": "assistant", "content": json.dumps(verdict)}
        elif model.startswith("judge-prose"):
            message = {"role": "assistant", "content": "I think this change is quite good overall, maybe 8/10."}
        elif model.startswith("garbage"):
            if tools and not done_before:
                message = _tool_message([("write_file", "{not json at all")])
            else:
                message = {"role": "assistant", "content": "~~~ %%% no code here, just noise \u0000 ]]"}
        elif model.startswith(("solver", "scripted-")) or model in self.qualities:
            if model.startswith("scripted-"):
                lesson = self.scripts.get(model.removeprefix("scripted-"))
            else:
                lesson = self._lesson(messages)
            if model in self.qualities and not done_before:
                with self._lock:
                    knows = self._rng.random() < self.qualities[model]
                lesson = lesson if knows else None
            text_protocol = model.startswith("solver-text") or not tools
            if lesson is None:
                message = {"role": "assistant", "content": "I do not know this task."}
            elif tools or "tool protocol" in str(messages[0].get("content", "")).lower():
                calls = [("run_command", json.dumps({"command": c})) for c in lesson.commands]
                calls += [("read_file", json.dumps({"path": p})) for p in lesson.reads]
                calls += [("write_file", json.dumps({"path": p, "content": c})) for p, c in lesson.files.items()]
                calls += [("run_command", json.dumps({"command": f"rm -f {p}"})) for p in lesson.delete]
                calls.append(("finish", json.dumps({"summary": "done"})))
                if done_before:
                    calls = [("finish", json.dumps({"summary": "done"}))]
                if text_protocol:
                    blocks = "\n".join(f"```tool\n{json.dumps({'tool': n, 'arguments': json.loads(a)})}\n```"
                                       for n, a in calls)
                    message = {"role": "assistant", "content": "Here are my edits.\n" + blocks}
                else:
                    message = _tool_message(calls)
            else:
                blocks = "\n\n".join(f"```python path={p}\n{c}```" for p, c in lesson.files.items())
                message = {"role": "assistant", "content": "Here is the change.\n\n" + blocks}
        else:
            if tools:
                message = _tool_message([("finish", json.dumps({"summary": "nothing to change"}))])
            else:
                message = {"role": "assistant", "content": "I would not change anything."}
        prompt_chars = sum(len(json.dumps(m)) for m in messages)
        completion_chars = len(json.dumps(message))
        max_tokens = int(body.get("max_tokens") or 1 << 30)
        usage = {
            "prompt_tokens": max(1, int(prompt_chars * self.prompt_tokens_per_char)),
            # A real server stops at max_tokens; the fake one reports at most that many.
            "completion_tokens": min(max_tokens, max(1, int(completion_chars * self.prompt_tokens_per_char))),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": f"{model}-2026-01-01",
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
            "usage": usage,
        }


def _tool_message(calls: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}
            for i, (name, args) in enumerate(calls)
        ],
    }


def _make_handler(server: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _send(self, status: int, payload: bytes, content_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> None:
            server._done(self)
            try:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first (a "timeout" fault outlasting its timeout)

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, json.dumps({"object": "list", "data": []}).encode())
            else:
                self._send(404, b'{"error": {"message": "not found"}}')

        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, b'{"error": {"message": "bad json"}}')
                return
            with server.changed:
                server.requests.append(body)
                server.arrivals.append(time.monotonic())
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
                server.changed.notify_all()
            self.counted = True
            try:
                self._answer(body)
            finally:
                server._done(self)

        def _answer(self, body: dict[str, Any]) -> None:
            server._hold()
            limited = server._limited(time.monotonic())
            if limited is not None:
                self._send(429, b'{"error": {"message": "rate limited: slow down", "type": "rate_limit"}}',
                           headers=limited)
                return
            if server.latency:
                time.sleep(server.latency)
            fault = server._fault()
            if fault == "429":
                self._send(429, b'{"error": {"message": "rate limited", "type": "rate_limit"}}')
                return
            if fault == "400":  # only when queued: a request the provider rejects (never worth a retry)
                self._send(400, b'{"error": {"message": "bad request", "type": "invalid_request_error"}}')
                return
            if fault == "500":
                self._send(500, b'{"error": {"message": "boom", "type": "server_error"}}')
                return
            if fault == "timeout":
                time.sleep(server.timeout_sleep)
                self._send(504, b'{"error": {"message": "late"}}')
                return
            if fault == "malformed":
                self._send(200, b'{"id": "x", "choices": [ {"message": ')
                return
            self._send(200, json.dumps(server.answer(body)).encode())

    return Handler
