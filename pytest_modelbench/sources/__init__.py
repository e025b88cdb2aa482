"""Sources: adapters that yield :class:`~pytest_modelbench.records.Session` objects.

Built-in sources are resolved by :func:`builtin_source`; plugins add their own through the
``pytest_modelbench_source`` hook. Pure package: no pytest imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..records import Session


class SourceError(ValueError):
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
        from .demo import DemoSource

        return DemoSource()
    if spec == "humaneval":
        from .humaneval import HumanEvalSource

        return HumanEvalSource()
    if spec in TRANSCRIPT_SOURCES:
        raise SourceError(
            f"--sessions {spec}: the {spec} transcript importer is not part of this version yet; "
            "use case files (*.modelbench.yaml), 'demo' or 'humaneval'"
        )
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if path.exists():
        from .casefile import CaseFileSource

        return CaseFileSource(path)
    return None
