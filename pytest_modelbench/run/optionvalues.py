"""Parsers of single option values: pure (no pytest), each error a :class:`UserError` that names the option.

:mod:`pytest_modelbench.run.options` reads the raw values from pytest and the ini file and assembles the
``Settings``; the shape of each value (a number in range, a list, ``K/N``, ``HOST:PORT``, ``MODEL=IN,OUT``) is
checked here, in one place, so the checks can be used and tested without pytest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pytest_modelbench.errors import UserError

N = TypeVar("N", int, float)
_WHAT = {int: "an integer", float: "a number"}


def _number(cast: Callable[[str], N], flag: str, value: Any, minimum: N | None, maximum: N | None) -> N:
    try:
        out = cast(str(value).strip())
    except ValueError:
        raise UserError(f"{flag}: expected {_WHAT[cast]}, got {value!r}") from None  # type: ignore[index]
    if minimum is not None and maximum is not None and not minimum <= out <= maximum:
        raise UserError(f"{flag}: must be between {minimum:g} and {maximum:g}, got {out}")
    if minimum is not None and out < minimum:
        raise UserError(f"{flag}: must be >= {minimum}, got {out}")
    return out


def integer(flag: str, value: Any, minimum: int | None = None) -> int:
    return _number(int, flag, value, minimum, None)


def number(flag: str, value: Any, minimum: float | None = None, maximum: float | None = None) -> float:
    return _number(float, flag, value, minimum, maximum)


def as_list(value: Any) -> tuple[str, ...]:
    """Comma- or blank-separated values (from one string or the lines of an ini list), first occurrence kept."""
    parts: list[str] = []
    for chunk in value if isinstance(value, list) else [value]:
        parts += [p.strip() for p in re.split(r"[,\s]+", str(chunk)) if p.strip()]
    return tuple(dict.fromkeys(parts))


def as_path(value: str, root: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else root / p


def model_ids(flag: str, value: Any) -> tuple[str, ...]:
    models = as_list(value)
    if not models:
        raise UserError(f"{flag}: expected a comma-separated list of model ids, got nothing")
    for m in models:
        if not re.fullmatch(r"[A-Za-z0-9][\w.:/@+-]*", m):
            raise UserError(f"{flag}: {m!r} is not a model id (litellm style, e.g. ollama/qwen2.5-coder:7b)")
    return models


def parse_shard(value: str) -> tuple[int, int] | None:
    """``K/N`` with 1 <= K <= N as (K, N); None when malformed."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
    if not m:
        return None
    k, n = int(m.group(1)), int(m.group(2))
    return (k, n) if 1 <= k <= n else None


def door_address(flag: str, raw: Any) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too; PORT may be 0) of the door's TCP listener; unset: loopback, a free port."""
    if raw is None or not str(raw).strip():
        return ("127.0.0.1", 0)
    m = re.fullmatch(r"\s*\[?([^\s\[\]]+?)\]?:(\d{1,5})\s*", str(raw))
    if not m or int(m.group(2)) > 65535:
        raise UserError(f"{flag}: expected HOST:PORT (e.g. 0.0.0.0:8765), got {raw!r}")
    return (m.group(1), int(m.group(2)))


def prices(flag: str, raw: Any) -> tuple[tuple[str, float, float], ...]:
    """``MODEL=IN,OUT`` entries ($ per million tokens), blank-separated. Not :func:`as_list`: a price itself
    contains a comma."""
    out = []
    for entry in [e for chunk in (raw if isinstance(raw, list) else [raw]) for e in str(chunk).split()]:
        model, sep, rest = entry.partition("=")
        parts = rest.split(",") if sep else []
        if not model or len(parts) != 2:
            raise UserError(f"{flag}: expected MODEL=IN,OUT ($ per million tokens), got {entry!r}")
        out.append((model, number(flag, parts[0], 0.0), number(flag, parts[1], 0.0)))
    return tuple(out)


def limits(flag: str, raw: Any) -> tuple[tuple[str, int], ...]:
    """``PROVIDER=N`` entries, N >= 1."""
    out = []
    for entry in as_list(raw):
        provider, sep, n = entry.partition("=")
        if not sep or not provider:
            raise UserError(f"{flag}: expected PROVIDER=N, got {entry!r}")
        out.append((provider, integer(flag, n, 1)))
    return tuple(out)


def choice(flag: str, raw: Any, choices: tuple[str, ...], default: str) -> str:
    value = (raw or default).strip()
    if value not in choices:
        raise UserError(f"{flag}: expected one of {', '.join(choices)}, got {raw!r}")
    return value


def setting_entry(flag: str, entry: Any) -> tuple[str, str, str]:
    """``MODEL:KEY=VALUE`` as (model, key, raw value); the model id may itself hold colons."""
    left, sep, raw = str(entry).partition("=")
    model, colon, key = left.rpartition(":")
    if not sep or not colon or not model.strip() or not key.strip():
        raise UserError(f"{flag}: expected MODEL:KEY=VALUE, got {entry!r}")
    return model.strip(), key.strip(), raw
