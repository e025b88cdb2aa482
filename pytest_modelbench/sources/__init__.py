"""Sources: adapters that yield :class:`~pytest_modelbench.records.Session` objects.

Built-in sources are resolved by :func:`builtin_source`; plugins add their own through the
``pytest_modelbench_source`` hook. Pure package: no pytest imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Protocol, runtime_checkable

from pytest_modelbench.errors import UserError
from pytest_modelbench.records import Session
from pytest_modelbench.store import DEFAULT_STORE


class SourceError(UserError, ValueError):
    """A user-caused problem with a source: names the file (or source) and the field."""


@runtime_checkable
class Source(Protocol):
    """What a source provides. ``default_sample_size`` of ``None`` means "all sessions"."""

    name: str
    default_sample_size: int | None

    def sessions(self) -> Sequence[Session]: ...


@dataclass(frozen=True)
class StaticSource:
    """A source whose sessions are already loaded."""

    name: str
    loaded: tuple[Session, ...]
    default_sample_size: int | None = None

    def sessions(self) -> Sequence[Session]:
        return self.loaded


TRANSCRIPT_SOURCES = ("claude-code", "codex")


def builtin_source(spec: str, base_dir: Path) -> Source | None:
    """Resolve a ``--sessions`` value to a built-in source, or None when no built-in handles it."""
    if spec == "demo":
        from pytest_modelbench.sources.demo import DemoSource

        return DemoSource()
    if spec == "humaneval":
        from pytest_modelbench.sources.humaneval import HumanEvalSource

        return HumanEvalSource()
    store = base_dir / DEFAULT_STORE  # the run replaces it with --modelbench-store
    if spec in TRANSCRIPT_SOURCES:
        from pytest_modelbench.sources.transcripts.source import TranscriptSource

        module = import_module(f"pytest_modelbench.sources.transcripts.{spec.replace('-', '_')}")
        roots = module.default_roots()
        if not roots:
            raise SourceError(f"--sessions {spec}: no transcript folder found (looked in {module.ROOTS_HELP})")
        return TranscriptSource(spec, roots, (spec,), store)
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if path.exists():
        from pytest_modelbench.sources.casefile import CaseFileSource, find_case_files

        if path.is_dir() and not find_case_files(path) or path.suffix == ".jsonl":
            # Not case files: Claude Code / Codex transcripts (the format is detected per file).
            from pytest_modelbench.sources.transcripts.common import explain_format, sniff_format, transcript_paths
            from pytest_modelbench.sources.transcripts.source import TranscriptSource

            found = sorted({fmt for fmt in map(sniff_format, transcript_paths(path)) if fmt is not None})
            if found:
                return TranscriptSource(found[0] if len(found) == 1 else "transcripts", [path], None, store)
            if path.is_file():
                # A .jsonl file was likely meant as a transcript: say why it is not one, not only "not a case file".
                raise SourceError(f"--sessions {spec}: not a case file (*.modelbench.yaml|json), and not a Claude "
                                  f"Code or Codex transcript: {explain_format(path)[1]}")
        return CaseFileSource(path)
    return None
