"""The model broker: the run's single :class:`~.door.Door`, served to every worker over a Unix socket.

The controller starts it (a thread pool in the controller process) before the xdist workers start; workers, and
the controller itself without xdist, talk to it with :class:`BrokerClient`. One JSON line per request, one per reply.
Ops: ``complete``, ``budget``, ``fingerprints``, ``stats``.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pytest_modelbench.errors import ModelbenchError
from pytest_modelbench.models.door import Door, DoorConfig

MAX_LINE = 64 * 1024 * 1024


class BrokerUnavailable(ModelbenchError, ConnectionError):
    """The model door cannot be reached (the broker stopped, crashed or closed the connection)."""


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections.add(self.request)

    def finish(self) -> None:
        with self.server.lock:
            self.server.connections.discard(self.request)
        super().finish()

    def handle(self) -> None:
        for line in self.rfile:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
                reply = self.server.broker.dispatch(request)
            except Exception as exc:  # a broken request must not take the broker down
                reply = {"ok": False, "kind": "error", "error": f"broker: {type(exc).__name__}: {exc}"}
            self.wfile.write((json.dumps(reply) + "\n").encode())
            self.wfile.flush()


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    # Every xdist worker connects at about the same moment, while the controller may be busy (importing litellm):
    # the default backlog of 5 made some connects fail with EAGAIN.
    request_queue_size = 128
    broker: Broker
    connections: set[socket.socket]
    lock: threading.Lock


class Broker:
    def __init__(self, config: DoorConfig, socket_path: Path) -> None:
        self.door = Door(config)
        self.socket_path = socket_path
        self._server = _Server(str(socket_path), _Handler)
        self._server.broker = self
        self._server.connections = set()
        self._server.lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        daemon=True, name="modelbench-broker")
        self._thread.start()
        # Import litellm (~3-6 s of CPU) now, while xdist workers start, not when the first request arrives.
        self._warm = threading.Thread(target=lambda: self.door.litellm, daemon=True, name="modelbench-litellm-import")
        self._warm.start()

    def dispatch(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "complete":
            return self.door.complete(request)
        if op == "budget":
            return {"ok": True, **asdict(self.door.ledger.state())}
        if op == "fingerprints":
            return {"ok": True, "fingerprints": self.door.fingerprints}
        if op == "stats":
            return {"ok": True, "requests_sent": self.door.requests_sent, "cache_hits": self.door.cache_hits,
                    "in_flight": self.door.in_flight, "retries_waiting": self.door.retries_waiting}
        return {"ok": False, "kind": "error", "error": f"unknown op {op!r}"}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Never let the interpreter shut down under a thread that is still importing litellm (it aborts the process).
        self._warm.join(timeout=60)
        self._server.shutdown()
        self._server.server_close()
        # Open connections too: a worker waiting on a reply gets end-of-file at once instead of waiting forever.
        with self._server.lock:
            for conn in list(self._server.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.socket_path.unlink(missing_ok=True)


class BrokerClient:
    """What workers hold: one connection, reopened when needed. Not thread-safe (one per worker process)."""

    def __init__(self, socket_path: Path, timeout: float = 3600.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file: Any = None

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        # A full backlog answers EAGAIN at once on a Unix socket: wait a little and retry, for at most 10 s.
        delay, deadline = 0.01, time.monotonic() + 10
        while True:
            try:
                sock.connect(str(self.socket_path))
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    sock.close()
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except OSError:
                sock.close()
                raise
        self._sock = sock
        self._file = sock.makefile("rwb")

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request, one reply; :class:`BrokerUnavailable` (naming the socket) when the door cannot be reached."""
        try:
            return self._call(request)
        except BrokerUnavailable:
            raise
        except (OSError, ValueError) as exc:
            self.close()
            raise BrokerUnavailable(f"the model door (broker at {self.socket_path}) is unreachable: "
                                    f"{type(exc).__name__}: {exc}") from exc

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        data = (json.dumps(request) + "\n").encode()
        for attempt in (1, 2):
            try:
                if self._sock is None:
                    self._connect()
                self._file.write(data)
                self._file.flush()
                break
            except OSError:
                # Only a failed send is retried (on a fresh connection): a request the broker has read is never
                # sent twice, so nothing is paid twice.
                self.close()
                if attempt == 2:
                    raise
        try:
            line = self._file.readline(MAX_LINE)
        except OSError:
            self.close()
            raise
        if not line:
            self.close()
            raise BrokerUnavailable(f"the model door (broker at {self.socket_path}) closed the connection "
                                    "before replying (did the run's controller stop or crash?)")
        return json.loads(line)

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._file.close()
                self._sock.close()
            finally:
                self._sock = None
                self._file = None
