"""What several command groups of ``modelbench`` share: the store option, sources, run lookup, output, model ids.

A leaf of :mod:`pytest_modelbench.cli`: the command modules import it, it imports none of them. Problems the user can
fix are raised as :class:`~pytest_modelbench.errors.UserError`; :func:`pytest_modelbench.cli.main.main` turns every
one into ``modelbench: error: <message>`` and exit status 2. Heavy modules are imported inside the functions, so
``modelbench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_modelbench.errors import UserError
from pytest_modelbench.store import DEFAULT_STORE

if TYPE_CHECKING:
    from pytest_modelbench.report.runs import RunDocument
    from pytest_modelbench.sources import Source
    from pytest_modelbench.store.sqlite import Store

MODEL_ID = re.compile(r"[A-Za-z0-9][\w.:/@+-]*")  # a litellm-style model id, as the plugin's --models accepts


def add_store_option(parser: argparse.ArgumentParser, help_text: str | None = None) -> None:
    """``--store PATH``; without it ``main`` finds the project's store by walking up (:func:`find_store`)."""
    parser.add_argument("--store", metavar="PATH", default=None,
                        help=help_text or "the store (default: found by walking up from the current folder, as git "
                                          f"finds its repository: {DEFAULT_STORE} or an ini file naming "
                                          "modelbench_store)")
    parser.set_defaults(find_store=True)


INI_FILES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")  # pytest's own search order
_INI_STORE = re.compile(r"""^\s*modelbench_store\s*=\s*["']?([^"'#;\n]+?)["']?\s*$""", re.MULTILINE)


@dataclass(frozen=True)
class StoreSearch:
    """Where the CLI looked for the project's store and what it found (``found`` is None when nothing matched)."""

    found: Path | None
    tried: tuple[Path, ...]


def find_store(start: Path) -> StoreSearch:
    """The project's store, found the way the plugin places it: in each folder from ``start`` up to the file
    system root, an ini file naming ``modelbench_store`` (relative to that folder) or a ``.modelbench/`` folder."""
    tried: list[Path] = []
    for folder in (start, *start.parents):
        for name in INI_FILES:
            ini = folder / name
            if ini.is_file():
                try:
                    match = _INI_STORE.search(ini.read_text(encoding="utf-8", errors="replace"))
                except OSError:
                    match = None
                if match:
                    value = Path(match.group(1).strip()).expanduser()
                    return StoreSearch(value if value.is_absolute() else folder / value, (*tried, ini))
        candidate = folder / DEFAULT_STORE
        tried.append(candidate)
        if candidate.parent.is_dir():
            return StoreSearch(candidate, tuple(tried))
    return StoreSearch(None, tuple(tried))


def store_missing(path: str) -> str:
    """The error for a store that is not there; when it was searched for, the paths tried."""
    search = find_store(Path.cwd())
    if search.found is None and Path(path) == Path.cwd() / DEFAULT_STORE:
        tried = ", ".join(str(p) for p in search.tried)
        return (f"no store found (run pytest --modelbench first, or pass --store PATH); looked for {tried} and an "
                "ini file naming modelbench_store in each of those folders")
    return f"--store {path}: no such store (run pytest --modelbench first)"


def load_sources(specs: Sequence[str], root: Path, store: Path | None = None,
                 check_command: str | None = None) -> list[tuple[Source, list[Any]]]:
    """``(source, its sessions)`` for each ``--sessions`` spec, as a run would read them."""
    from pytest_modelbench.sources import builtin_source
    from pytest_modelbench.sources.transcripts.source import TranscriptSource

    out = []
    for spec in specs:
        source = builtin_source(spec, root)  # a broken source raises SourceError, a UserError
        if source is None:
            raise UserError(f"--sessions {spec}: not a known source (demo, humaneval) nor an existing path")
        if isinstance(source, TranscriptSource):
            source.configure(store=store, check_command=check_command)
        out.append((source, list(source.sessions())))
    return out


def check_command(value: str | None) -> str | None:
    """``--check-command`` validated as the plugin validates it; None when not given."""
    from pytest_modelbench.sources.transcripts.commands import check_command_problem

    problem = check_command_problem(value)
    if problem:
        raise UserError(f"--check-command: {problem}")
    return value.strip() if value else None


def open_store(path: str) -> Store:
    """The store at ``path``; a missing file is the user's problem, not a new empty store."""
    from pytest_modelbench.store.sqlite import Store

    if not Path(path).is_file():
        raise UserError(store_missing(path))
    return Store(Path(path))


def load_run(spec: str, store: str, trend_runs: int | None = None) -> RunDocument:
    """RUN (``latest``, a run id, a run name or an artifact path) as ``report/runs.py`` finds it."""
    from pytest_modelbench.report.runs import load_run as load

    # RunNotFound is a UserError: its message already names the run and where it was looked for.
    if not Path(store).is_file() and not Path(spec).is_file() and not spec.endswith(".json"):
        raise UserError(store_missing(store))
    if trend_runs is None:
        return load(spec, Path(store), Path.cwd())
    return load(spec, Path(store), Path.cwd(), trend_runs=trend_runs)


def emit(text: str, output: str | None, what: str) -> None:
    """``text`` to stdout (no ``-o`` or ``-o -``) or to the file ``output``, saying so on stderr."""
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    from pytest_modelbench.report.finish import write_html

    try:
        write_html(Path(output), text)
    except OSError as exc:
        raise UserError(f"-o {output}: cannot write ({exc.strerror or exc})") from None
    print(f"wrote {what} to {output}", file=sys.stderr)


def parse_models(value: str) -> list[str]:
    """``--models A,B``: distinct litellm-style ids in order."""
    models = list(dict.fromkeys(m for m in re.split(r"[,\s]+", value or "") if m))
    if not models:
        raise UserError("--models: expected a comma-separated list of model ids, got nothing")
    for m in models:
        if not MODEL_ID.fullmatch(m):
            raise UserError(f"--models: {m!r} is not a model id (litellm style, e.g. ollama/qwen2.5-coder:7b)")
    return models


def positive_cap(value: float | None) -> float | None:
    """``--budget-cap-usd``: None or a number > 0."""
    if value is not None and value <= 0:
        raise UserError(f"--budget-cap-usd: must be > 0, got {value}")
    return value


__all__ = ["MODEL_ID", "add_store_option", "check_command", "emit", "load_run", "load_sources",
           "StoreSearch", "find_store", "open_store", "parse_models", "positive_cap"]
