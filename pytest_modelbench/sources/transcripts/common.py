"""Helpers shared by the transcript parsers (``claude_code.py``, ``codex.py``) and the history index.

* :func:`read_new_lines` reads a JSONL file from a byte offset, tolerating a torn last line; :func:`sniff_format`
  tells Claude Code from Codex; :class:`BadLine` is a line of the wrong shape (counted and skipped).
* :class:`Tokens`, :func:`estimate_cost`: tokens normalised to input / output / cache_read / cache_create, and a
  cost estimate from litellm's bundled price map (read as JSON, litellm itself is never imported).
* :func:`parse_test_command`: which shell commands run a test suite (the check command of a replay);
  :func:`removed_paths`: what an ``rm`` deletes.
* :func:`language_of`, :func:`is_test_file`: what a set of paths is written in, and which are tests.

A leaf: it imports nothing of the transcript package (the parsers, the index and the source build on it).
Pure module: no pytest.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
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


# -- test commands ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestCommand:
    """A shell command that runs a test suite. ``runner`` is pytest, npm, yarn, pnpm, go, cargo, tox, make, jest …"""

    __test__ = False

    command: str
    runner: str
    paths: tuple[str, ...] = ()  # pytest only: the files or folders it was given (relative to ``cwd``)
    cwd: str = ""  # a leading ``cd DIR &&``

    @property
    def is_pytest(self) -> bool:
        return self.runner == "pytest"


# Python test commands read through the project's files when a session is rebuilt (replay/testcommand.py).
WRAPPED = ("unittest", "python", "hatch", "tox", "make")
_ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_WRAPPERS = {"uv": ("run",), "poetry": ("run",), "pdm": ("run",), "hatch": ("run",), "pipenv": ("run",),
             "rye": ("run",), "timeout": (), "time": (), "nice": (), "env": (), "sudo": (), "exec": (), "command": ()}
_RUN_VALUE_OPTS = {"--with", "--extra", "--group", "-p", "--python", "--package", "--env-file", "--project",
                   "--directory", "--with-requirements", "--index", "--only-group", "--no-extra", "-e", "--env"}
# pytest options that take a value, so the value is not mistaken for a path.
_PYTEST_VALUE_OPTS = {"-k", "-m", "-p", "-o", "-c", "-n", "--maxfail", "--tb", "--rootdir", "--junitxml",
                      "--cov", "--cov-report", "--durations", "--deselect", "--ignore", "--ignore-glob",
                      "--log-level", "--timeout", "-W", "--confcutdir", "--basetemp", "--dist", "-r"}


_TEST_HINT = re.compile(r"test|tox|nox|jest|mocha|rspec|make +check")


def _segments(command: str) -> list[str]:
    return [s.strip() for s in re.split(r"&&|\|\||;|\n|\|", command) if s.strip()]


def _words(segment: str) -> list[str]:
    try:
        return shlex.split(segment, posix=True)
    except ValueError:
        return segment.split()


def _strip_wrappers(words: list[str]) -> list[str]:
    while words:
        head = words[0]
        if _ENV_ASSIGN.match(head):
            words = words[1:]
        elif head in _WRAPPERS:
            words = words[1:]
            if head == "timeout" and words and re.fullmatch(r"[\d.]+[smh]?", words[0]):
                words = words[1:]
            for expected in _WRAPPERS[head]:
                if words and words[0] == expected:
                    words = words[1:]
            while _WRAPPERS[head] and words and words[0].startswith("-"):  # uv run --extra test pytest
                words = words[2:] if words[0] in _RUN_VALUE_OPTS else words[1:]
        else:
            break
    return words


def _pytest_paths(args: list[str]) -> tuple[str, ...]:
    paths: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a.startswith("-"):
            if a in _PYTEST_VALUE_OPTS:
                skip = True
            continue
        paths.append(a.split("::", 1)[0])
    return tuple(dict.fromkeys(paths))


def parse_test_command(command: str) -> TestCommand | None:
    """The test command inside a shell command line, or None.

    Recognised: ``pytest``/``py.test``, ``python -m pytest`` (any python), ``python -m unittest``, ``python
    test*.py``, ``uv|poetry|pdm|hatch run …``, ``hatch test``,
    ``tox``/``nox``, ``npm|yarn|pnpm|bun test`` and ``… run test``, ``npx jest|vitest|mocha``, ``go test``,
    ``cargo test``, ``mix|swift|deno|dart|flutter test``,
    ``make test|check``, ``mvn test``, ``gradle test``, ``dotnet test``, ``bundle exec rspec``.
    A leading ``cd DIR &&`` is kept as ``cwd``.
    """
    if not _TEST_HINT.search(command):
        return None
    cwd = ""
    for segment in _segments(command):
        raw = _words(segment)
        words = _strip_wrappers(raw)
        if not words:
            continue
        head = posixpath.basename(words[0])
        if head == "cd" and len(words) >= 2:
            cwd = words[1]
            continue
        runner: str | None = None
        rest: list[str] = []
        if head in ("pytest", "py.test"):
            runner, rest = "pytest", words[1:]
        elif re.fullmatch(r"python[\d.]*", head) and len(words) >= 3 and words[1] == "-m" and words[2] == "pytest":
            runner, rest = "pytest", words[3:]
        elif re.fullmatch(r"python[\d.]*", head) and words[1:3] == ["-m", "unittest"]:
            runner = "unittest"
        elif re.fullmatch(r"python[\d.]*", head) and len(words) >= 2 and re.search(r"test\w*\.py$", words[1]):
            runner = "python"  # python test.py: a unittest module run as a script (replay/testcommand.py)
        elif raw[:1] == ["hatch"] and raw[1:2] in (["run"], ["test"]):
            runner = "hatch"
        elif head in ("tox", "nox"):
            runner = head
        elif head in ("npm", "yarn", "pnpm", "bun") and len(words) >= 2 and (
            words[1] in ("test", "t") or (words[1] == "run" and len(words) >= 3 and words[2].startswith("test"))
        ):
            runner = head
        elif head in ("npx", "pnpx", "bunx") and len(words) >= 2 and words[1] in ("jest", "vitest", "mocha"):
            runner = words[1]
        elif head in ("jest", "vitest", "mocha", "rspec"):
            runner = head
        elif head == "node" and "--test" in words:
            runner = "node"
        elif head in ("go", "cargo", "mvn", "gradle", "./gradlew", "dotnet", "mix", "swift", "deno", "dart",
                      "flutter") and len(words) >= 2 \
                and words[1] == "test":
            runner = head.lstrip("./")
        elif head == "make" and len(words) >= 2 and words[1] in ("test", "tests", "check"):
            runner = "make"
        elif head == "bundle" and words[1:3] == ["exec", "rspec"]:
            runner = "rspec"
        if runner is not None:
            paths = _pytest_paths(rest) if runner == "pytest" else ()
            return TestCommand(command=command.strip(), runner=runner, paths=paths, cwd=cwd)
    return None


def check_command_problem(command: str | None) -> str | None:
    """Why ``command`` cannot be a check command (``--check-command``), or None when it can."""
    if command is None:
        return None
    parsed = parse_test_command(command)
    if parsed is None:
        return f"{command!r} does not run a test suite (expected e.g. 'pytest tests' or 'python -m pytest')"
    if not parsed.is_pytest and parsed.runner not in ("npm", "yarn", "pnpm", "node", "vitest", "jest", *WRAPPED):
        return (f"{command!r} runs {parsed.runner}; this version checks with pytest, python -m unittest, node "
                "--test, vitest or jest (e.g. 'pytest tests' or 'npm test')")
    return None


_RM = re.compile(r"^(?:git\s+)?rm\s+(?:-[a-zA-Z]+\s+)*(.+)$")


def removed_paths(command: str) -> list[str]:
    """Paths a simple ``rm`` / ``git rm`` command deletes (no globs, no variables); other commands give []."""
    out: list[str] = []
    for segment in _segments(command):
        m = _RM.match(segment)
        if not m:
            continue
        for word in _words(m.group(1)):
            if word.startswith("-") or any(ch in word for ch in "*?$`{"):
                continue
            out.append(word)
    return out


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


def is_test_file(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


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
