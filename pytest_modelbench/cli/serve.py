"""``modelbench serve``: the HTTP API (:mod:`pytest_modelbench.cli.api`) on this machine.

The server, the request checks and the run queue are imported when the command runs, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_modelbench.cli.common import add_store_option
from pytest_modelbench.errors import UserError

DEFAULT_PORT = 8765


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``serve``."""
    p = sub.add_parser("serve", help="HTTP API: start runs, read their leaderboards, recommendations, the report",
                       description="Serve POST /api/benchmark/runs, GET /api/benchmark/runs/{id}, GET "
                                   "/api/benchmark/recommend?task_pattern=... and the report page at /. Loopback "
                                   "only unless --token is given (then every request needs Authorization: Bearer).")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    p.add_argument("--token", metavar="T",
                   help="require Authorization: Bearer T (needed for a non-loopback --host); or set "
                        "MODELBENCH_API_TOKEN")
    add_store_option(p)
    p.add_argument("--root", metavar="DIR", default=".", help="folder runs start in (default: the current one)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the API until Ctrl-C or SIGTERM; a run still going is interrupted and writes its artifact."""
    import os
    import signal

    from pytest_modelbench.cli.api import is_loopback_host, make_server

    token = args.token or os.environ.get("MODELBENCH_API_TOKEN") or None
    if token is None and not is_loopback_host(args.host):
        raise UserError(f"--host {args.host}: not a loopback address; serving beyond this machine needs --token "
                        "(or MODELBENCH_API_TOKEN)")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port: expected 0-65535, got {args.port}")
    root = Path(args.root).resolve()
    if not root.is_dir():
        raise UserError(f"--root {args.root}: no such folder")
    store = Path(args.store)
    store = store if store.is_absolute() else (Path.cwd() / store).resolve()
    try:
        server = make_server(args.host, args.port, store, root, token)
    except OSError as exc:
        raise UserError(f"--host {args.host} --port {args.port}: cannot listen ({exc.strerror or exc})") from None
    print(f"modelbench serve: {server.url}/ (store {store}; runs start in {root})"
          + ("; bearer token required" if token else ""), flush=True)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM (a service manager, kill) stops as cleanly as Ctrl-C

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.manager.close()
    return 0


__all__ = ["DEFAULT_PORT", "cmd_serve", "register"]
