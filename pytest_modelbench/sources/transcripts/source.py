"""The transcript source: ``--sessions claude-code``, ``--sessions codex`` or ``--sessions PATH``.

It reads through the history index (``index.py``) and rebuilds only the sampled sessions (``rebuild.py``); both
are imported when first used, so resolving ``--sessions`` stays cheap.
Pure module: no pytest.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Original, Session

if TYPE_CHECKING:
    from pytest_modelbench.sources.transcripts.index import HistoryIndex, IndexedSession


class TranscriptSource:
    """``--sessions claude-code``, ``--sessions codex`` or ``--sessions PATH`` (a folder or file of transcripts).

    Sessions come from the history index in the store (imported incrementally first). :meth:`sessions` gives the
    replayable ones in a light form, enough to sample on; :meth:`materialize` builds the workspace, gold and check
    of the sampled ones only (a git start is extracted once into ``.modelbench/workspaces/`` and reused).
    """

    default_sample_size: int | None = 10

    def __init__(self, name: str, roots: Sequence[Path], formats: Sequence[str] | None, store: Path) -> None:
        self.name = name
        self.roots = tuple(roots)
        self.formats = tuple(formats) if formats else None
        self.store = store
        self.check_command: str | None = None
        self.refresh = True
        self._entries: list[IndexedSession] | None = None
        self.skipped: list[tuple[str, str]] = []  # (path, why) of files the last import left out

    def configure(self, *, store: Path | None = None, check_command: str | None = None,
                  refresh: bool | None = None) -> None:
        """Set by the run: the store holding the index, ``--check-command``, and whether to import first
        (the xdist controller imports; workers read what it indexed, so every process samples the same)."""
        if store is not None:
            self.store = store
        self.check_command = check_command
        if refresh is not None:
            self.refresh = refresh
        self._entries = None

    def _index(self) -> HistoryIndex:
        from pytest_modelbench.sources import SourceError
        from pytest_modelbench.sources.transcripts.index import HistoryIndex
        from pytest_modelbench.store.sqlite import StoreError

        try:
            return HistoryIndex(self.store)
        except StoreError as exc:
            raise SourceError(f"--sessions {self.name}: {exc}") from None

    def entries(self) -> list[IndexedSession]:
        """Every indexed session of this source (replayable or not), importing new transcript lines first."""
        if self._entries is None:
            with self._index() as index:
                if self.refresh:
                    self.skipped = index.import_paths(self.roots, self.formats).skipped
                self._entries = index.sessions(self.formats, under=self.roots)
        return self._entries

    def features(self) -> dict[str, dict[str, Any]]:
        """The full features of every indexed session of this source (prompts, files, tools), by key."""
        keys = {e.key for e in self.entries()}
        with self._index() as index:
            return {k: index.features(k) for k in sorted(keys)}

    def sessions(self) -> Sequence[Session]:
        out = []
        for e in self.entries():
            ok, _reason = e.replayable(self.check_command)
            if not ok:
                continue
            out.append(Session(
                id=e.session_id, source=e.source, intent=e.intent, prompt=e.prompt, workspace=FileSet(),
                check=CheckSpec(), gold=GoldSpec(), language=e.language if e.language != "unknown" else "python",
                size_band=e.size_band,
                original=Original(model=e.model, turns=e.calls, cost_usd=e.cost_usd,
                                  tokens=None if e.tokens_status == "unknown" else e.tokens.total),
                origin=e.path,
            ))
        return out

    def materialize(self, sample: Sequence[Session]) -> list[Session]:
        """Full sessions (workspace, gold, check) for ``sample``; raises SourceError naming a session that fails."""
        from pytest_modelbench.sources import SourceError
        from pytest_modelbench.sources.transcripts.rebuild import ReplayError, build_session

        by_key = {e.key: e for e in self.entries()}
        out = []
        with self._index() as index:
            for s in sample:
                entry = by_key.get(s.key)
                if entry is None:
                    out.append(s)  # not ours (a plugin added it): leave it alone
                    continue
                try:
                    out.append(build_session(index, entry, self.check_command, self.store.parent / "workspaces"))
                except ReplayError as exc:
                    raise SourceError(f"--sessions {self.name}: {exc} (re-import with `modelbench import --rebuild`)"
                                      ) from None
        return out
