"""The history index: every imported transcript session, its features, and whether (and how) it can be replayed.

It lives in the SQLite store (tables ``history_files`` and ``history_sessions``, migration ``m003``).

* **Import is incremental.** A file whose size and mtime are unchanged is skipped. A grown file is read on from the
  byte where the last import stopped, with the parser state saved then (a torn last line is read next time). A
  rewritten file (its first bytes changed, or it shrank) is read again from the start. Broken lines are counted
  per file and skipped.
* **Features per session** (``features.py``) and **replayability** (``assess.py``) are computed at import and kept
  in the session's row; ``rebuild.py`` builds the full session (workspace, gold, check) of the sampled ones.

The parsers redact prompts and commands; file contents (what a replay is built from) are kept as the session saw
them, like the repository itself: the store is local (docs/redaction.md).
Pure module: no pytest.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_modelbench.sources.transcripts.assess import Replay, assess, check_for
from pytest_modelbench.sources.transcripts.claude_code import ClaudeParser
from pytest_modelbench.sources.transcripts.codex import CodexParser
from pytest_modelbench.sources.transcripts.commands import parse_test_command
from pytest_modelbench.sources.transcripts.common import (
    LINE_ERRORS,
    BadLine,
    Tokens,
    explain_format,
    loads,
    read_new_lines,
    skippable,
)
from pytest_modelbench.sources.transcripts.features import SessionFeatures, merged_ops, summarize
from pytest_modelbench.sources.transcripts.git import GitRepo
from pytest_modelbench.sources.transcripts.state import STATE_VERSION, ParserState
from pytest_modelbench.store.sqlite import connect, immediate

HEAD_BYTES = 1024
MAX_BROKEN_SAMPLES = 5
PARSERS: dict[str, type[ClaudeParser] | type[CodexParser]] = {"claude-code": ClaudeParser, "codex": CodexParser}
# What a transcript line may raise while it is parsed: counted as broken and skipped (deep nesting included).
FEED_ERRORS: tuple[type[BaseException], ...] = (*LINE_ERRORS, RecursionError)


@dataclass(frozen=True)
class IndexedSession:
    """One row of the index, as listing and sampling need it (no file contents)."""

    key: str
    source: str
    session_id: str
    path: str
    started: str | None
    prompt: str
    intent: str
    size_band: str
    language: str
    model: str | None
    calls: int
    tokens: Tokens
    cost_usd: float | None
    cost_estimated: bool
    outcome: str
    workspace_method: str
    workspace_partial: bool
    workspace_reason: str
    check_command: str | None
    broken_lines: int
    tokens_status: str = "exact"  # exact | incomplete | unknown (then ``tokens`` is not a count)
    check_reason: str = ""  # why its own (wrapped) test command cannot be a check; see assess.Replay

    def replayable(self, check_override: str | None = None) -> tuple[bool, str]:
        """``(replayable, reason)``: a rebuildable start, a gold change and a check command."""
        if self.workspace_reason:
            return False, self.workspace_reason
        command, why = check_for(self.check_command, check_override)
        if command is not None and not check_override and self.check_reason:
            return False, self.check_reason
        return command is not None, why


@dataclass
class FileReport:
    path: str
    status: str  # new | grown | rewritten | unchanged | skipped
    lines: int = 0
    broken: int = 0
    bytes_read: int = 0
    samples: list[list[Any]] = field(default_factory=list)
    why: str = ""  # why a skipped file was skipped


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    sessions_updated: int = 0
    seconds: float = 0.0

    @property
    def bytes_read(self) -> int:
        return sum(f.bytes_read for f in self.files)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """``(path, why)`` of every file left out (not a transcript, unreadable)."""
        return [(f.path, f.why) for f in self.files if f.status == "skipped"]


def find_transcripts(paths: Iterable[Path]) -> list[Path]:
    """Every ``*.jsonl`` file under ``paths`` (or ``paths`` themselves), resolved and sorted."""
    found: set[Path] = set()
    for root in paths:
        root = root.expanduser()
        files = [root] if root.is_file() else sorted(root.rglob("*.jsonl")) if root.is_dir() else []
        found.update(f.resolve() for f in files)
    return sorted(found)


class HistoryIndex:
    """The history tables of one store file. Safe beside the run writers (WAL, busy timeout, short transactions)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = connect(path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> HistoryIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- import -----------------------------------------------------------------------------------------------

    def import_paths(self, paths: Iterable[Path], formats: Sequence[str] | None = None,
                     rebuild: bool = False) -> ImportReport:
        """Index the transcripts under ``paths`` incrementally; ``formats`` limits which formats are read."""
        started = time.perf_counter()
        report = ImportReport()
        known = {r["path"]: r for r in self.db.execute(
            "SELECT path, format, size, mtime_ns, offset, head_hash FROM history_files")}
        groups: dict[str, list[Path]] = {}
        for f in find_transcripts(paths):
            groups.setdefault(_group_of(f), []).append(f)
        repos: dict[str, GitRepo | None] = {}
        for _group, files in sorted(groups.items()):
            parsed: dict[str, tuple[dict[str, Any], ParserState]] = {}  # path -> (row, state)
            for f in files:
                rep, result = self._read_file(f, known.get(str(f)), formats, rebuild)
                report.files.append(rep)
                if result is not None:
                    parsed[str(f)] = result
            if parsed:
                report.sessions_updated += self._store_group(parsed, repos)
        report.seconds = time.perf_counter() - started
        return report

    def _read_file(self, f: Path, old: sqlite3.Row | None, formats: Sequence[str] | None,
                   rebuild: bool) -> tuple[FileReport, tuple[dict[str, Any], ParserState] | None]:
        try:
            st = f.stat()
        except OSError as exc:
            return FileReport(str(f), "skipped", why=f"cannot be read ({exc.strerror or exc})"), None
        if old is not None and not rebuild and old["size"] == st.st_size and old["mtime_ns"] == st.st_mtime_ns:
            return FileReport(str(f), "unchanged"), None
        fmt, why = (old["format"], "") if old is not None else explain_format(f)
        if fmt is None:
            return FileReport(str(f), "skipped", why=why), None
        if formats and fmt not in formats:
            return FileReport(str(f), "skipped", why=f"a {fmt} transcript (only {', '.join(formats)} is read "
                                                     "here)"), None
        state: ParserState | None = None
        offset = 0
        status = "new"
        if old is not None and not rebuild and st.st_size >= old["offset"]:
            if _head_hash(f, old["offset"]) == old["head_hash"]:
                row = self.db.execute("SELECT state_json FROM history_files WHERE path = ?", (str(f),)).fetchone()
                state = ParserState.from_dict(json.loads(row["state_json"]))
                offset, status = old["offset"], "grown"
                if state.v != STATE_VERSION:  # read by an older importer: what it kept is not enough, read anew
                    state, offset, status = None, 0, "rewritten"
            else:
                status = "rewritten"
        elif old is not None:
            status = "rewritten"
        parser = PARSERS[fmt](f, state)
        try:
            lines, end, _size = read_new_lines(f, offset)
        except OSError as exc:
            return FileReport(str(f), "skipped", why=f"cannot be read ({exc.strerror or exc})"), None
        first_line = parser.state.lines + 1
        feed_lines(parser, lines, first_line)
        state = parser.dump()
        rep = FileReport(str(f), status, lines=len(lines), broken=state.broken, bytes_read=end - offset,
                         samples=list(state.broken_samples))
        key = f"{fmt}/{state.session_id}" if state.session_id else None
        row = {"path": str(f), "format": fmt, "session_key": key, "role": state.role, "size": st.st_size,
               "mtime_ns": st.st_mtime_ns, "offset": end, "head_hash": _head_hash(f, end),
               "lines": state.lines, "broken_lines": state.broken}
        return rep, (row, state)

    def _store_group(self, parsed: dict[str, tuple[dict[str, Any], ParserState]],
                     repos: dict[str, GitRepo | None]) -> int:
        keys = {row["session_key"] for row, _ in parsed.values() if row["session_key"]}
        updates: list[tuple[str, SessionFeatures | None, Replay | None]] = []
        for key in sorted(keys):
            states, trunk_path = self._states_of(key, parsed)
            features = summarize(key, states, trunk_path)
            if features is None:
                updates.append((key, None, None))
                continue
            replay, _sim = assess(features, merged_ops(states), repos)
            updates.append((key, features, replay))
        now = time.time()
        with immediate(self.db):
            for row, state in parsed.values():
                self.db.execute(
                    "INSERT OR REPLACE INTO history_files (path, format, session_key, role, size, mtime_ns, offset,"
                    " head_hash, lines, broken_lines, state_json, imported_ts)"
                    " VALUES (:path, :format, :session_key, :role, :size, :mtime_ns, :offset, :head_hash, :lines,"
                    " :broken_lines, :state_json, :now)",
                    {**row, "state_json": json.dumps(state.to_dict(), separators=(",", ":")), "now": now},
                )
            for key, session_features, session_replay in updates:
                if session_features is None or session_replay is None:
                    self.db.execute("DELETE FROM history_sessions WHERE key = ?", (key,))
                    continue
                self._upsert_session(session_features, session_replay, now)
        return sum(1 for _k, f, _r in updates if f is not None)

    def _states_of(self, key: str, parsed: dict[str, tuple[dict[str, Any], ParserState]]
                   ) -> tuple[list[ParserState], str]:
        states: list[tuple[str, ParserState]] = [(p, s) for p, (row, s) in parsed.items()
                                                   if row["session_key"] == key]
        for r in self.db.execute("SELECT path, state_json FROM history_files WHERE session_key = ?", (key,)):
            if r["path"] not in parsed:
                states.append((r["path"], ParserState.from_dict(json.loads(r["state_json"]))))
        states.sort(key=lambda ps: ps[0])
        trunk = next((p for p, s in states if s.role == "trunk"), states[0][0] if states else "")
        return [s for _p, s in states], trunk

    def _upsert_session(self, f: SessionFeatures, replay: Replay, now: float) -> None:
        parsed = parse_test_command(f.check_command) if f.check_command else None
        self.db.execute(
            "INSERT OR REPLACE INTO history_sessions (key, source, session_id, path, started, prompt, intent,"
            " size_band, language, model, calls, input_tokens, output_tokens, cache_read_tokens, cache_create_tokens,"
            " cost_usd, cost_estimated, outcome, workspace_method, workspace_partial, workspace_reason, check_command,"
            " check_runner, broken_lines, features_json, replay_json, updated_ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (f.key, f.source, f.session_id, f.path, f.started, f.prompt, f.intent, f.size_band, f.language, f.model,
             f.calls, f.tokens.input, f.tokens.output, f.tokens.cache_read, f.tokens.cache_create, f.cost_usd,
             int(f.cost_estimated), f.outcome, replay.method, int(replay.partial), replay.reason, f.check_command,
             parsed.runner if parsed else None, f.broken_lines, json.dumps(f.to_dict()),
             json.dumps(replay.to_dict()), now),
        )

    # -- reading ----------------------------------------------------------------------------------------------

    def sessions(self, sources: Sequence[str] | None = None, under: Sequence[Path] | None = None
                 ) -> list[IndexedSession]:
        """Indexed sessions (optionally of some formats, and with their trunk file under one of ``under``)."""
        rows = self.db.execute(
            "SELECT key, source, session_id, path, started, prompt, intent, size_band, language, model, calls,"
            " input_tokens, output_tokens, cache_read_tokens, cache_create_tokens, cost_usd, cost_estimated, outcome,"
            " workspace_method, workspace_partial, workspace_reason, check_command, broken_lines,"
            " json_extract(features_json, '$.tokens_status') AS tokens_status,"
            " json_extract(replay_json, '$.check_reason') AS check_reason"
            " FROM history_sessions ORDER BY key"
        ).fetchall()
        prefixes = [str(p.expanduser().resolve()) for p in under] if under is not None else None
        out = []
        for r in rows:
            if sources and r["source"] not in sources:
                continue
            if prefixes is not None and not any(r["path"] == p or r["path"].startswith(p.rstrip("/") + "/")
                                                for p in prefixes):
                continue
            out.append(IndexedSession(
                key=r["key"], source=r["source"], session_id=r["session_id"], path=r["path"], started=r["started"],
                prompt=r["prompt"], intent=r["intent"], size_band=r["size_band"], language=r["language"],
                model=r["model"], calls=r["calls"],
                tokens=Tokens(r["input_tokens"], r["output_tokens"], r["cache_read_tokens"], r["cache_create_tokens"]),
                cost_usd=r["cost_usd"], cost_estimated=bool(r["cost_estimated"]), outcome=r["outcome"],
                workspace_method=r["workspace_method"], workspace_partial=bool(r["workspace_partial"]),
                workspace_reason=r["workspace_reason"], check_command=r["check_command"],
                broken_lines=r["broken_lines"], tokens_status=r["tokens_status"] or "exact",
                check_reason=r["check_reason"] or ""))
        return out

    def features(self, key: str) -> dict[str, Any]:
        row = self.db.execute("SELECT features_json FROM history_sessions WHERE key = ?", (key,)).fetchone()
        return json.loads(row["features_json"]) if row else {}

    def part_states(self, key: str) -> list[ParserState]:
        rows = self.db.execute("SELECT path, state_json FROM history_files WHERE session_key = ? ORDER BY path",
                               (key,)).fetchall()
        return [ParserState.from_dict(json.loads(r["state_json"])) for r in rows]

    def file_rows(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute(
            "SELECT path, format, session_key, role, size, offset, lines, broken_lines FROM history_files"
            " ORDER BY path")]


def feed_lines(parser: ClaudeParser | CodexParser, lines: Sequence[str], first_line: int) -> None:
    """Feed raw lines to a parser; a line that is not JSON or has the wrong shape is counted and skipped."""
    st = parser.state
    skip = isinstance(parser, ClaudeParser)
    for n, raw in enumerate(lines, start=first_line):
        st.lines += 1
        if not raw.strip():
            continue
        if skip and skippable(raw):
            st.ignored += 1
            continue
        try:
            obj = loads(raw)
            if not isinstance(obj, dict):
                raise BadLine("not a JSON object")
            parser.feed(obj)
        except FEED_ERRORS as exc:
            st.broken += 1
            if len(st.broken_samples) < MAX_BROKEN_SAMPLES:
                st.broken_samples.append([n, f"{type(exc).__name__}: {exc}"[:160]])


def _group_of(f: Path) -> str:
    """Files imported (and committed) together: a Claude project folder with its sub-agent folders, or a folder."""
    parent = f.parent
    if parent.name == "subagents":
        return str(parent.parent.parent)
    return str(parent)


def _head_hash(f: Path, upto: int) -> str:
    with open(f, "rb") as fh:
        return hashlib.sha1(fh.read(min(upto, HEAD_BYTES))).hexdigest()
