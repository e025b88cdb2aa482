"""The model broker: the run's single :class:`~.door.Door`, served to every worker over a Unix socket and TCP.

The controller starts it (a thread pool in the controller process) before the xdist workers start; workers, and
the controller itself without xdist, talk to it with :class:`BrokerClient`: local workers over the Unix socket,
remote ones (``--tx ssh=...``) over TCP, so every host shares one ledger, one cache and one set of limits.
One JSON line per request, one per reply. Ops: ``complete``, ``budget``, ``fingerprints``, ``stats``.

When the broker has a secret (every run makes one), the first line of each connection must be
``{"op": "hello", "secret": ...}``; a connection that does not present it is answered ``refused``, closed, logged
and counted (``stats``), and nothing it sends is read as a request.
"""

from __future__ import annotations

import gc
import hmac
import json
import logging
import socket
import socketserver
import threading
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pytest_modelbench.errors import ModelbenchError
from pytest_modelbench.models.door import Door, DoorConfig

MAX_LINE = 64 * 1024 * 1024
LOG = logging.getLogger("pytest_modelbench.door")


class BrokerUnavailable(ModelbenchError, ConnectionError):
    """The model door cannot be reached (the broker stopped, crashed or closed the connection)."""


class DoorRefused(BrokerUnavailable):
    """The door refused the connection: it did not present the run's secret."""


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
        if not self._authenticated():
            return
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

    def _authenticated(self) -> bool:
        """The connection's first line presents the run's secret (or the broker has none)."""
        secret = self.server.broker.secret
        if secret is None:
            return True
        line = self.rfile.readline(4096)
        try:
            hello = json.loads(line) if line.strip() else {}
        except ValueError:
            hello = {}
        given = hello.get("secret") if isinstance(hello, dict) and hello.get("op") == "hello" else None
        if isinstance(given, str) and hmac.compare_digest(given.encode(), secret.encode()):
            self.server.broker.accepted(self.server.transport)
            self.wfile.write(b'{"ok": true}\n')
            self.wfile.flush()
            return True
        peer = self.client_address if self.client_address else "the Unix socket"
        reason = "a wrong secret" if given is not None else "no secret"
        self.server.broker.refused(f"{peer}: {reason}")
        try:
            self.wfile.write(b'{"ok": false, "kind": "refused", "error": "the model door refused this connection: '
                             b'it did not present the run\'s secret"}\n')
            self.wfile.flush()
        except OSError:
            pass
        return False


class _TCPServer(socketserver.ThreadingTCPServer):
    transport = "tcp"
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    broker: Broker
    connections: set[socket.socket]
    lock: threading.Lock


# The warning filters litellm installs when imported (litellm/_process_defaults.py): pydantic's warnings about its
# types, which it cannot act on. Broker.warm_up installs them where pytest's warning capture does not undo them.
LITELLM_QUIET = (".*conflict with protected namespace.*",
                 ".*Accessing the.*attribute on the instance is deprecated.*",
                 ".*`ReadOnly` qualifier.*")


class _Server(socketserver.ThreadingUnixStreamServer):
    transport = "unix"
    daemon_threads = True
    # Every xdist worker connects at about the same moment, while the controller may be busy (importing litellm):
    # the default backlog of 5 made some connects fail with EAGAIN.
    request_queue_size = 128
    broker: Broker
    connections: set[socket.socket]
    lock: threading.Lock


class Broker:
    """The door, served on ``socket_path`` and, when ``tcp`` is given (host, port; port 0 picks one), on TCP too.

    TCP needs a ``secret``: a door reachable from the network without one would spend the run's budget for anyone.
    """

    def __init__(self, config: DoorConfig, socket_path: Path, secret: str | None = None,
                 tcp: tuple[str, int] | None = None) -> None:
        if tcp is not None and not secret:
            raise ValueError("the model door listens on TCP only with a per-run secret")
        self.door = Door(config)
        self.socket_path = socket_path
        self.secret = secret
        self.refusals: list[str] = []
        self.connections = {"unix": 0, "tcp": 0}  # connections that presented the secret, by transport
        self._refusal_lock = threading.Lock()
        self._server = _Server(str(socket_path), _Handler)
        self._servers: list[Any] = [self._server]
        self.tcp_address: tuple[str, int] | None = None
        if tcp is not None:
            family = socket.AF_INET6 if ":" in tcp[0] else socket.AF_INET
            tcp_cls = type("_TCPServerFamily", (_TCPServer,), {"address_family": family})
            tcp_server = tcp_cls(tcp, _Handler)
            self.tcp_address = tcp_server.server_address[:2]
            self._servers.append(tcp_server)
        self._threads = []
        for server in self._servers:
            server.broker = self
            server.connections = set()
            server.lock = threading.Lock()
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                                      name="modelbench-broker")
            thread.start()
            self._threads.append(thread)
        self._closed = False
        self._warm: threading.Thread | None = None

    def warm_up(self) -> None:
        """Import litellm (~4 s of CPU) and warm its completion path in a thread of its own, now, not when the
        first request arrives. Called from the main thread outside pytest's warning capture (``pytest_sessionstart``):
        litellm's import installs warning filters, and one installed from this thread while the main thread is inside
        ``warnings.catch_warnings`` (pytest's configure, collection and test phases) is undone when that block ends,
        after which pydantic's warnings about litellm's types reached the user's terminal (about 130 lines). The same
        filters are installed here, where they last."""
        if self._warm is not None:
            return
        for message in LITELLM_QUIET:
            warnings.filterwarnings("ignore", message=message)
        self._warm = threading.Thread(target=self._warm_thread, daemon=True, name="modelbench-litellm-import")
        self._warm.start()

    def _warm_thread(self) -> None:
        self.door.warm()
        # litellm's import leaves ~370,000 objects that live as long as the process. Frozen, the cyclic garbage
        # collector no longer walks them on every full collection, nor at interpreter exit (which took ~1-2 s).
        gc.freeze()

    def wait_warm(self, timeout: float) -> bool:
        """Wait until litellm is imported and warmed (at most ``timeout`` seconds); whether it is."""
        if self._warm is None:
            return False
        self._warm.join(timeout)
        return not self._warm.is_alive()

    def accepted(self, transport: str) -> None:
        with self._refusal_lock:
            self.connections[transport] += 1

    def refused(self, why: str) -> None:
        with self._refusal_lock:
            self.refusals.append(why)
        LOG.warning("modelbench: the model door refused a connection from %s", why)

    def dispatch(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "complete":
            return self.door.complete(request)
        if op == "budget":
            return {"ok": True, **asdict(self.door.ledger.state())}
        if op == "fingerprints":
            return {"ok": True, "fingerprints": self.door.fingerprints}
        if op == "stats":
            with self._refusal_lock:
                refusals = list(self.refusals)
            return {"ok": True, "requests_sent": self.door.requests_sent, "cache_hits": self.door.cache_hits,
                    "refused_connections": len(refusals), "refusals": refusals[:20],
                    "connections": dict(self.connections),
                    "in_flight": self.door.in_flight, "retries_waiting": self.door.retries_waiting,
                    "ahead": self.door.ahead.stats()}
        return {"ok": False, "kind": "error", "error": f"unknown op {op!r}"}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Never let the interpreter shut down under a thread that is still importing litellm (it aborts the process).
        if self._warm is not None:
            self._warm.join(timeout=60)
        for server in self._servers:
            server.shutdown()
            server.server_close()
            # Open connections too: a worker waiting on a reply gets end-of-file at once instead of waiting forever.
            with server.lock:
                for conn in list(server.connections):
                    try:
                        conn.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
        self.socket_path.unlink(missing_ok=True)


def door_address_for(broker: Broker, remote: bool) -> str:
    """What a worker connects to: the Unix socket when it runs on this host, else the TCP listener (a wildcard
    listener is advertised under this host's name)."""
    if not remote or broker.tcp_address is None:
        return str(broker.socket_path)
    host, port = broker.tcp_address
    if host in ("0.0.0.0", "::"):
        host = socket.getfqdn()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class BrokerClient:
    """What workers hold: one connection, reopened when needed. Not thread-safe (one per worker process).

    ``address`` is the Unix socket's path, or ``host:port`` of the door's TCP listener (remote workers); ``secret``
    is presented first on every connection.
    """

    def __init__(self, address: Path | str, timeout: float = 3600.0, secret: str | None = None) -> None:
        self.address = address
        self.socket_path = address  # kept for messages and callers that name the socket
        self.timeout = timeout
        self.secret = secret
        self._sock: socket.socket | None = None
        self._file: Any = None

    def _connect(self) -> None:
        if isinstance(self.address, str) and not self.address.startswith("/"):
            host, _, port = self.address.rpartition(":")
            sock = socket.create_connection((host.strip("[]"), int(port)), timeout=min(self.timeout, 30))
            sock.settimeout(self.timeout)
        else:
            sock = self._connect_unix()
        self._sock = sock
        self._file = sock.makefile("rwb")
        if self.secret is not None:
            self._file.write((json.dumps({"op": "hello", "secret": self.secret}) + "\n").encode())
            self._file.flush()
            reply = json.loads(self._file.readline(MAX_LINE) or b"{}")
            if not reply.get("ok"):
                self.close()
                raise DoorRefused(f"the model door (broker at {self.address}) "
                                        f"{reply.get('error') or 'closed the connection during the handshake'}")

    def _connect_unix(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        # A full backlog answers EAGAIN at once on a Unix socket: wait a little and retry, for at most 10 s.
        delay, deadline = 0.01, time.monotonic() + 10
        while True:
            try:
                sock.connect(str(self.address))
                return sock
            except BlockingIOError:
                if time.monotonic() > deadline:
                    sock.close()
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except OSError:
                sock.close()
                raise

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
            except DoorRefused:
                raise  # asking again with the same secret cannot help
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
