"""What a client may ask ``modelbench serve`` to run, checked field by field, and the pytest command line it becomes.

Standard library only (no pytest, no server). ``modelbench run`` builds its command with the same
:func:`build_pytest_command`. The options allowed in ``extra_args`` are derived from the plugin's option table
(:data:`pytest_modelbench.run.optiontable.OPTIONS`, those with ``api=True``) plus a few of pytest's own.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_modelbench.cli.common import MODEL_ID
from pytest_modelbench.errors import ModelbenchError
from pytest_modelbench.run.optiontable import OPTIONS

# pytest's own options a client may add: which items, how many workers, when to stop, how much output. Not -p (it
# loads code), not paths, not -c/--rootdir/--confcutdir (they pick which conftest files run).
PYTEST_FLAGS = ("-k", "-n", "-x", "-q", "-v", "--maxfail")
EXTRA_ALLOWED = frozenset(o.flag for o in OPTIONS if o.api) | frozenset(PYTEST_FLAGS)


class ApiError(ModelbenchError):
    """A request that cannot be served: answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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
    """Only :data:`EXTRA_ALLOWED` options may come over HTTP: no plugins, no paths the server owns."""
    for arg in args:
        if arg.startswith("-"):
            flag = arg.split("=", 1)[0]
            if flag not in EXTRA_ALLOWED:
                raise ApiError(400, f"field 'extra_args': {flag} is not allowed over the API (allowed: the "
                                    f"benchmark's options, {', '.join(PYTEST_FLAGS)})")


__all__ = ["EXTRA_ALLOWED", "PYTEST_FLAGS", "ApiError", "RunRequest", "build_pytest_command", "check_extra_args",
           "parse_run_request"]
