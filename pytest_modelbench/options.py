"""Command-line options and their ini twins: one table, one help text each, one resolver.

Imported on pytest's idle path, so it must stay light: standard library and pytest only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

INTENTS = ("fix-bug", "refactor", "build-new", "test", "docs", "ops", "explore")
RUNNERS = ("auto", "bwrap", "local")
DEFAULT_MODELS = ("replay/gold", "replay/noop")
DEFAULT_STORE = ".modelbench/modelbench.db"


@dataclass(frozen=True)
class Option:
    flag: str
    ini: str | None
    help: str
    kind: str = "string"  # string | list | int | float | flag | append
    metavar: str | None = None


OPTIONS: tuple[Option, ...] = (
    Option("--modelbench", None,
           "run the model benchmark: collect one item per (session x model), replay, score, report.", "flag"),
    Option("--models", "modelbench_models",
           "comma-separated candidate models (litellm ids); default: the reference candidates replay/gold,replay/noop.",
           "list", "A,B"),
    Option("--sessions", "modelbench_sessions",
           "where sessions come from: demo (default), humaneval, a case file or folder of *.modelbench.yaml|json; "
           "repeatable.", "append", "SOURCE"),
    Option("--sample-size", "modelbench_sample_size",
           "sessions to sample per source (stratified, seeded); 0 = all. Default: all for demo, case files and "
           "humaneval; 10 for transcript sources.", "int", "N"),
    Option("--sample-seed", "modelbench_sample_seed", "seed for sampling (default 0).", "int", "S"),
    Option("--intent", "modelbench_intent",
           f"only sessions with these intents (comma-separated: {', '.join(INTENTS)}).", "list", "I,J"),
    Option("--modelbench-name", "modelbench_name", "a label for this run, stored with it.", "string", "NAME"),
    Option("--modelbench-store", "modelbench_store",
           f"SQLite history file (default {DEFAULT_STORE}, relative to the rootdir).", "string", "PATH"),
    Option("--modelbench-json", "modelbench_json",
           "JSON artifact path (default .modelbench/runs/<run_id>.json next to the store).", "string", "PATH"),
    Option("--runner", "modelbench_runner",
           "where model-written code runs: auto (bwrap when it works here, else local with a warning), bwrap, local.",
           "string", "KIND"),
    Option("--rubric", "modelbench_rubric", "rubric name (default, tests-only) or path to a rubric YAML file.",
           "string", "NAME|PATH"),
    Option("--modelbench-with-tests", None, "with --modelbench, also collect and run the project's own tests.", "flag"),
    Option("--modelbench-min-score", "modelbench_min_score",
           "fail an item whose combined score is below this value (0-1); off by default.", "float", "X"),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("modelbench", "pytest-modelbench: benchmark models on your own coding sessions")
    for opt in OPTIONS:
        dest = opt.flag.lstrip("-").replace("-", "_")
        if opt.kind == "flag":
            group.addoption(opt.flag, action="store_true", default=False, dest=dest, help=opt.help)
        elif opt.kind == "append":
            group.addoption(opt.flag, action="append", default=None, dest=dest, metavar=opt.metavar, help=opt.help)
        else:
            group.addoption(opt.flag, action="store", default=None, dest=dest, metavar=opt.metavar, help=opt.help)
        if opt.ini:
            ini_type = "linelist" if opt.kind == "append" else "string"
            parser.addini(opt.ini, f"default for {opt.flag}: {opt.help}", type=ini_type, default=None)


@dataclass(frozen=True)
class Settings:
    """Every resolved option; built once by :func:`resolve`."""

    models: tuple[str, ...]
    models_configured: bool
    sessions: tuple[str, ...]
    sample_size: int | None
    sample_seed: int
    intents: tuple[str, ...]
    name: str | None
    store: Path
    json_path: Path | None
    runner: str
    rubric: str
    with_tests: bool
    min_score: float | None


def _raw(config: pytest.Config, opt: Option) -> Any:
    value = config.getoption(opt.flag.lstrip("-").replace("-", "_"))
    if value is None and opt.ini:
        value = config.getini(opt.ini)
        if value in ("", [], None):
            value = None
    return value


def _int(flag: str, value: Any, minimum: int | None = None) -> int:
    try:
        out = int(str(value).strip())
    except ValueError:
        raise pytest.UsageError(f"{flag}: expected an integer, got {value!r}") from None
    if minimum is not None and out < minimum:
        raise pytest.UsageError(f"{flag}: must be >= {minimum}, got {out}")
    return out


def _list(value: Any) -> tuple[str, ...]:
    parts: list[str] = []
    for chunk in value if isinstance(value, list) else [value]:
        parts += [p.strip() for p in re.split(r"[,\s]+", str(chunk)) if p.strip()]
    return tuple(dict.fromkeys(parts))


def _path(value: str, root: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else root / p


def resolve(config: pytest.Config) -> Settings:
    """Validate every option; a bad value is a UsageError that names the option."""
    by_flag: dict[str, Callable[[], Any]] = {o.flag: (lambda o=o: _raw(config, o)) for o in OPTIONS}
    root = config.rootpath

    raw_models = by_flag["--models"]()
    models = _list(raw_models) if raw_models is not None else ()
    if raw_models is not None and not models:
        raise pytest.UsageError("--models: expected a comma-separated list of model ids, got nothing")
    for m in models:
        if not re.fullmatch(r"[A-Za-z0-9][\w.:/@+-]*", m):
            raise pytest.UsageError(f"--models: {m!r} is not a model id (litellm style, e.g. ollama/qwen2.5-coder:7b)")

    raw_sessions = by_flag["--sessions"]()
    sessions = _list(raw_sessions) if raw_sessions else ("demo",)

    raw_size = by_flag["--sample-size"]()
    sample_size = _int("--sample-size", raw_size, 0) if raw_size is not None else None
    raw_seed = by_flag["--sample-seed"]()
    seed = _int("--sample-seed", raw_seed) if raw_seed is not None else 0

    raw_intent = by_flag["--intent"]()
    intents = _list(raw_intent) if raw_intent is not None else ()
    for i in intents:
        if i not in INTENTS:
            raise pytest.UsageError(f"--intent: unknown intent {i!r} (known: {', '.join(INTENTS)})")

    runner = (by_flag["--runner"]() or "auto").strip()
    if runner not in RUNNERS:
        raise pytest.UsageError(f"--runner: expected one of {', '.join(RUNNERS)}, got {runner!r}")

    raw_min = by_flag["--modelbench-min-score"]()
    min_score = None
    if raw_min is not None:
        try:
            min_score = float(raw_min)
        except ValueError:
            raise pytest.UsageError(f"--modelbench-min-score: expected a number, got {raw_min!r}") from None
        if not 0.0 <= min_score <= 1.0:
            raise pytest.UsageError(f"--modelbench-min-score: must be between 0 and 1, got {min_score}")

    name = by_flag["--modelbench-name"]()
    store = by_flag["--modelbench-store"]() or DEFAULT_STORE
    json_path = by_flag["--modelbench-json"]()
    rubric = by_flag["--rubric"]() or "default"
    return Settings(
        models=models or DEFAULT_MODELS,
        models_configured=bool(models),
        sessions=sessions,
        sample_size=sample_size,
        sample_seed=seed,
        intents=intents,
        name=name.strip() if name else None,
        store=_path(store, root),
        json_path=_path(json_path, root) if json_path else None,
        runner=runner,
        rubric=rubric,
        with_tests=bool(config.getoption("modelbench_with_tests")),
        min_score=min_score,
    )
