"""Helpers shared by the transcript parsers (``claude_code.py``, ``codex.py``) and the history index.

* :func:`read_new_lines` reads a JSONL file from a byte offset, tolerating a torn last line; :func:`sniff_format`
  tells Claude Code from Codex; :class:`BadLine` is a line of the wrong shape (counted and skipped).
* :class:`Tokens`, :func:`estimate_cost`: tokens normalised to input / output / cache_read / cache_create, and a
  cost estimate from litellm's bundled price map (read as JSON, litellm itself is never imported).
* :func:`language_of`: what a set of paths is written in; :func:`yield_lines`: the yield report's lines;
  :func:`opt_field`: one typed field of a transcript record.

The shell commands a session ran (its test command, what an ``rm`` deletes) are read in ``commands.py``.

A leaf: it imports nothing of the transcript package (the parsers, the index and the source build on it).
Pure module: no pytest.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from pytest_modelbench.errors import ModelbenchError

# -- reading JSONL incrementally --------------------------------------------------------------------------------


class BadLine(ModelbenchError, ValueError):
    """A transcript line with the wrong shape: counted and skipped, never raised to the user."""


# What a line handler may raise on hostile input; the reader counts it as a broken line.
LINE_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, KeyError, AttributeError, IndexError)


def read_new_lines(path: Path, offset: int) -> tuple[list[str], int, int]:
    """Complete lines of ``path`` from byte ``offset``: ``(lines, new_offset, size)``.

    A last line without a newline is taken only when it is a whole JSON object; otherwise it is a line still being
    written, left for the next read (``new_offset`` stops before it). Invalid UTF-8 is replaced, not fatal.
    """
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    size = offset + len(data)
    cut = data.rfind(b"\n")
    complete, tail = (data[: cut + 1], data[cut + 1:]) if cut >= 0 else (b"", data)
    lines = complete.decode("utf-8", "replace").split("\n")[:-1] if complete else []
    end = offset + len(complete)
    if tail.strip():
        text = tail.decode("utf-8", "replace")
        try:
            whole = isinstance(json.loads(text), dict)
        except (ValueError, RecursionError):
            whole = False
        # Only an object: a transcript line is one, while "12" may be the start of "123" still being written.
        if whole:
            lines.append(text)
            end = size
    return lines, end, size


# Non-conversation lines skipped before parsing (they are most of a 2.1.x file): cheap substring tests.
_SKIP_MARKERS = ('"type":"progress"', '"type":"file-history-snapshot"', '"type":"queue-operation"')


def skippable(line: str) -> bool:
    """True for a Claude Code progress / snapshot / queue line that carries no conversation."""
    return (line.rstrip().endswith("}") and any(m in line for m in _SKIP_MARKERS)
            and '"type":"user"' not in line and '"type":"assistant"' not in line)


def loads(line: str | bytes) -> Any:
    """``json.loads`` that survives invalid UTF-8 (replaced) but still raises ValueError on broken JSON."""
    try:
        return json.loads(line)
    except UnicodeDecodeError:
        assert isinstance(line, bytes)
        return json.loads(line.decode("utf-8", "replace"))


def sniff_format(path: Path, max_lines: int = 20) -> str | None:
    """``"claude-code"``, ``"codex"`` or None, from the first parseable lines of a JSONL file."""
    return explain_format(path, max_lines)[0]


def explain_format(path: Path, max_lines: int = 20) -> tuple[str | None, str]:
    """``(format, why not)``: the format of a JSONL file, or None with the reason in words a user can act on."""
    try:
        with open(path, "rb") as fh:
            head = [fh.readline() for _ in range(max_lines)]
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    lines = [raw for raw in head if raw.strip()]
    if not lines:
        return None, "empty file"
    objects = 0
    for raw in lines:
        try:
            d = loads(raw)
        except ValueError:
            continue
        if not isinstance(d, dict):
            continue
        objects += 1
        if "payload" in d and d.get("type") in ("session_meta", "response_item", "event_msg", "turn_context"):
            return "codex", ""
        if "record_type" in d or ("instructions" in d and "id" in d and "sessionId" not in d):
            return "codex", ""
        if any(k in d for k in ("sessionId", "parentUuid", "leafUuid")) or d.get("type") in (
            "file-history-snapshot", "summary", "queue-operation"
        ):
            return "claude-code", ""
    if not objects:
        return None, "not JSON lines (no line of its first lines is a JSON object)"
    return None, "JSON lines of another tool: neither a Claude Code transcript nor a Codex rollout"


def transcript_paths(path: Path) -> list[Path]:
    """JSONL files under ``path`` that look like Claude Code or Codex transcripts (the first few suffice)."""
    files = [path] if path.is_file() else sorted(path.rglob("*.jsonl")) if path.is_dir() else []
    return [f for f in files[:50] if sniff_format(f) is not None]


# -- tokens and cost --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    """Normalised token counts. ``input`` is uncached input only; full prompt = input + cache_read + cache_create."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_create: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_create

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(self.input + other.input, self.output + other.output, self.cache_read + other.cache_read,
                      self.cache_create + other.cache_create)

    def to_dict(self) -> dict[str, int]:
        return {"input": self.input, "output": self.output, "cache_read": self.cache_read,
                "cache_create": self.cache_create, "total": self.total}


@lru_cache(maxsize=1)
def _price_map() -> dict[str, Any]:
    """litellm's bundled price map, read as a file (importing litellm takes seconds; never fetched)."""
    spec = find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(list(spec.submodule_search_locations)[0]) / "model_prices_and_context_window_backup.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _price_keys(model: str) -> Iterable[str]:
    base = model.rsplit("/", 1)[-1]
    undated = re.sub(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})(?:-v\d+:\d+)?$", "", base)
    for name in dict.fromkeys((model, base, undated)):
        yield name
        yield re.sub(r"(?<=\d)-(?=\d(?:\D|$))", ".", name)  # gpt-5-1-codex -> gpt-5.1-codex
        yield f"anthropic/{name}"
        yield f"anthropic.{name}-v1:0"  # Bedrock's name for the same model and price


def model_price(model: str) -> dict[str, float] | None:
    """Per-token prices of ``model`` (input, output, cache_read, cache_create, cache_create_1h), or None."""
    table = _price_map()
    for key in _price_keys(model):
        entry = table.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("input_cost_per_token"), int | float):
            inp = float(entry["input_cost_per_token"])
            out = float(entry.get("output_cost_per_token") or 0.0)
            read = entry.get("cache_read_input_token_cost")
            create = entry.get("cache_creation_input_token_cost")
            create_1h = entry.get("cache_creation_input_token_cost_above_1hr")
            return {
                "input": inp, "output": out,
                "cache_read": float(read) if read is not None else inp,
                "cache_create": float(create) if create is not None else inp,
                "cache_create_1h": float(create_1h) if create_1h is not None else inp * 2,
            }
    return None


def estimate_cost(model: str | None, tokens: Tokens, cache_create_1h: int = 0) -> float | None:
    """Cost in USD from tokens and litellm's prices; None when the model or its price is unknown (never $0)."""
    if not model:
        return None
    price = model_price(model)
    if price is None:
        return None
    five_min = max(tokens.cache_create - cache_create_1h, 0)
    return (tokens.input * price["input"] + tokens.output * price["output"] + tokens.cache_read * price["cache_read"]
            + five_min * price["cache_create"] + cache_create_1h * price["cache_create_1h"])


# -- languages --------------------------------------------------------------------------------------------------

LANGUAGES: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".ipynb": "python", ".js": "javascript", ".jsx": "javascript",
    ".mjs": "javascript", ".cjs": "javascript", ".ts": "typescript", ".tsx": "typescript", ".go": "go",
    ".rs": "rust", ".java": "java", ".kt": "kotlin", ".rb": "ruby", ".php": "php", ".cs": "csharp",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".swift": "swift", ".scala": "scala",
    ".ex": "elixir", ".exs": "elixir", ".heex": "elixir", ".erl": "erlang", ".sh": "shell", ".bash": "shell",
    ".sql": "sql", ".lua": "lua", ".dart": "dart", ".r": "r", ".jl": "julia", ".hs": "haskell", ".ml": "ocaml",
    ".vue": "javascript", ".svelte": "javascript", ".md": "markdown", ".rst": "markdown",
}


def language_of(paths: Sequence[str]) -> str:
    """The most common programming language among ``paths`` (markdown only when nothing else); else unknown."""
    counts: dict[str, int] = {}
    for p in paths:
        lang = LANGUAGES.get(posixpath.splitext(p)[1].lower())
        if lang:
            counts[lang] = counts.get(lang, 0) + 1
    code = {k: v for k, v in counts.items() if k != "markdown"} or counts
    if not code:
        return "unknown"
    order = list(code)  # a tie goes to the language seen first
    return sorted(code.items(), key=lambda kv: (-kv[1], order.index(kv[0])))[0][0]


def yield_lines(results: Sequence[tuple[bool, str]], top: int = 3) -> list[str]:
    """"N session(s), M replayable (P%)" and the main reasons the others are left out, with their counts."""
    total, ok = len(results), sum(1 for replayable, _ in results if replayable)
    share = f" ({100 * ok / total:.0f}%)" if total else ""
    lines = [f"{total} session(s), {ok} replayable{share}"]
    counts: dict[str, int] = {}
    for replayable, reason in results:
        if not replayable:
            # The kind of reason, not its details (file names, commands): "the session's edit of x.py ..." and
            # "the session's edit of y.py ..." count together.
            kind = reason.split(" (", 1)[0].split(": ", 1)[0].strip() or "unknown"
            counts[kind] = counts.get(kind, 0) + 1
    if counts:
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        lines.append("main reasons: " + "; ".join(f"{n}× {kind}" for kind, n in ranked))
    return lines


def opt_field(d: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """``d[key]`` when it has the expected type, None when absent or null; a wrong type is a broken line."""
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadLine(f"field '{key}' has the wrong type ({type(value).__name__})")
    return value
