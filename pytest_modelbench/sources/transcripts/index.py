"""The history index: every imported transcript session, its features, and whether (and how) it can be replayed.

It lives in the SQLite store (tables ``history_files`` and ``history_sessions``, migration ``m003``).

* **Import is incremental.** A file whose size and mtime are unchanged is skipped. A grown file is read on from the
  byte where the last import stopped, with the parser state saved then (a torn last line is read next time). A
  rewritten file (its first bytes changed, or it shrank) is read again from the start. Broken lines are counted
  per file and skipped.
* **Features per session** (:class:`SessionFeatures`): first prompt and follow-up turns, intent, size band,
  language, files touched and read, tools used, original model(s), model calls, tokens, cost, test commands and
  whether they ended green.
* **Replayability** (:func:`assess`): the start comes from git when the repository at ``cwd`` exists here (the
  commit just before the first timestamp, or Codex's recorded commit), else from the transcript itself (Read
  results, Write contents, Edit originals), marked *partial* when files the session saw are missing. The gold is
  the session's own edits applied to that start. A session that cannot be replayed keeps its row and a reason.

The parsers redact prompts and commands; file contents (what a replay is built from) are kept as the session saw
them, like the repository itself: the store is local (docs/redaction.md).
Pure module: no pytest.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pytest_modelbench.errors import ModelbenchError
from pytest_modelbench.intent import explain_intent, size_band
from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Original, Session
from pytest_modelbench.sources.transcripts.claude_code import ClaudeParser
from pytest_modelbench.sources.transcripts.codex import CodexParser
from pytest_modelbench.sources.transcripts.common import (
    LINE_ERRORS,
    UNKNOWN,
    BadLine,
    Simulation,
    Tokens,
    estimate_cost,
    is_test_file,
    language_of,
    loads,
    parse_test_command,
    read_new_lines,
    relative,
    simulate,
    skippable,
    sniff_format,
)
from pytest_modelbench.store.migrations import SchemaError, check_schema, migrate
from pytest_modelbench.store.sqlite import StoreError

BUSY_TIMEOUT_MS = 30_000
HEAD_BYTES = 1024
MAX_BROKEN_SAMPLES = 5
CHECK_TIMEOUT = 120.0
PARSERS: dict[str, type[ClaudeParser] | type[CodexParser]] = {"claude-code": ClaudeParser, "codex": CodexParser}
# What a transcript line may raise while it is parsed: counted as broken and skipped (deep nesting included).
FEED_ERRORS: tuple[type[BaseException], ...] = (*LINE_ERRORS, RecursionError)


# -- features ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionFeatures:
    """What the index knows about one past session (prompts and commands already redacted)."""

    key: str
    source: str
    session_id: str
    path: str
    cwd: str
    started: str | None
    ended: str | None
    prompt: str
    followups: tuple[str, ...]
    intent: str
    intent_reason: str
    size_band: str
    language: str
    models: tuple[str, ...]
    model: str | None
    calls: int
    tokens: Tokens
    cache_create_1h: int
    cost_usd: float | None
    cost_estimated: bool
    tools: dict[str, int]
    files_touched: tuple[str, ...]
    files_read: tuple[str, ...]
    test_commands: tuple[tuple[str, bool | None], ...]
    outcome: str  # green | red | unknown | none: how the session's last test command ended
    check_command: str | None
    branch: str | None = None
    git_commit: str | None = None
    version: str | None = None
    subagents: int = 0
    broken_lines: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}  # not asdict(): no deep copies needed
        d["tokens"] = self.tokens.to_dict()
        d["test_commands"] = [list(t) for t in self.test_commands]
        return d


def _merged_ops(states: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The operations of every part of a session, in time order (each part's own order kept)."""
    return list(heapq.merge(*[s["ops"] for s in states], key=lambda op: op.get("ts") or ""))


def _prompts(state: dict[str, Any]) -> list[list[Any]]:
    # Codex: the clean event stream when there is one, else the response items.
    return state["prompts"] or state.get("item_prompts", [])


def summarize(key: str, states: Sequence[dict[str, Any]], path: str) -> SessionFeatures | None:
    """Merge the parser states of a session's files (trunk and sub-agents); None without a trunk file."""
    trunks = sorted((s for s in states if s["role"] == "trunk"), key=lambda s: s["first_ts"] or "")
    if not trunks:
        return None
    # One API call counts once: prefer the trunk's copy (sidechain replays repeat message ids), then the final one.
    groups: dict[str, list[Any]] = {}
    for s in sorted(states, key=lambda s: s["role"] != "trunk"):
        for mid, row in s["groups"].items():
            old = groups.get(mid)
            if old is None or (old[6] and not row[6]) or (old[6] == row[6] and row[1] > old[1]):
                groups[mid] = row
    tokens = Tokens()
    hour = 0
    cost: float | None = 0.0
    estimated = False
    per_model: dict[str, int] = {}
    for inp, out, create, create_1h, cache_read, model, _side, cost_usd, _ts in groups.values():
        t = Tokens(inp, out, cache_read, create)
        tokens += t
        hour += create_1h
        if model:
            per_model[model] = per_model.get(model, 0) + 1
        if cost_usd is not None:
            cost = None if cost is None else cost + float(cost_usd)
        else:
            estimated = True
            c = estimate_cost(model, t, create_1h)
            cost = None if (cost is None or c is None) else cost + c
    if cost is not None:
        cost = round(cost, 6)
    prompts = [p for s in trunks for p in _prompts(s)]
    prompts.sort(key=lambda p: p[0] or "")
    texts: list[str] = []
    for _ts, text in prompts:
        if not texts or texts[-1] != text:
            texts.append(text)
    cwd = next((s["cwd"] for s in trunks if s["cwd"]), "") or ""
    ops = _merged_ops(states)
    touched: list[str] = []
    read: list[str] = []
    tests: list[tuple[str, bool | None]] = []
    for op in ops:
        kind = op.get("op")
        if kind == "test":
            tests.append((op.get("cmd") or "", op.get("ok")))
            continue
        if kind == "seen":
            continue
        rel = relative(str(op.get("path") or ""), cwd) or str(op.get("path"))
        bucket = read if kind == "read" else touched
        if rel not in bucket:
            bucket.append(rel)
    outcome = "none"
    if tests:
        last = tests[-1][1]
        outcome = "unknown" if last is None else ("green" if last else "red")
    green = [cmd for cmd, ok in tests if ok]
    check = green[-1] if green else (tests[-1][0] if tests else None)
    prompt = texts[0] if texts else ""
    intent, why = explain_intent(prompt)
    models = tuple(sorted(per_model, key=lambda m: (-per_model[m], m)))
    tools: dict[str, int] = {}
    for s in states:
        for name, n in s["tools"].items():
            tools[name] = tools.get(name, 0) + n
    first = trunks[0]
    return SessionFeatures(
        key=key, source=first["format"], session_id=first["session_id"] or key.split("/", 1)[-1], path=path,
        cwd=cwd, started=min((s["first_ts"] for s in trunks if s["first_ts"]), default=None),
        ended=max((s["last_ts"] for s in states if s["last_ts"]), default=None),
        prompt=prompt, followups=tuple(texts[1:]), intent=intent, intent_reason=why,
        size_band=size_band(len(groups), tokens.output),
        language=language_of(touched) if language_of(touched) != "unknown" else language_of(read),
        models=models, model=models[0] if models else None, calls=len(groups), tokens=tokens, cache_create_1h=hour,
        cost_usd=cost, cost_estimated=estimated and cost is not None, tools=dict(sorted(tools.items())),
        files_touched=tuple(touched), files_read=tuple(read), test_commands=tuple(tests), outcome=outcome,
        check_command=check, branch=first.get("branch"), git_commit=first.get("git_commit"),
        version=first.get("version"), subagents=sum(1 for s in states if s["role"] == "subagent"),
        broken_lines=sum(s["broken"] for s in states),
    )


# -- git --------------------------------------------------------------------------------------------------------


def _git(args: Sequence[str], cwd: str | Path, input_: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, input=input_, env=env, timeout=120)


@dataclass
class GitRepo:
    """Read-only access to a local repository: nothing here writes to it."""

    root: Path
    _blobs: dict[tuple[str, str], Any] = field(default_factory=dict)

    @classmethod
    def find(cls, cwd: str) -> GitRepo | None:
        if not cwd or not os.path.isdir(cwd):
            return None
        try:
            res = _git(["rev-parse", "--show-toplevel"], cwd)
        except (OSError, subprocess.SubprocessError):
            return None
        if res.returncode != 0:
            return None
        return cls(Path(res.stdout.decode().strip()))

    def commit_before(self, timestamp: str | None, branch: str | None) -> str | None:
        """The last commit before ``timestamp`` on ``branch`` (when it exists here), else on HEAD."""
        if not timestamp:
            return None
        when = timestamp[:19] + "Z" if len(timestamp) >= 19 else timestamp
        for ref in [r for r in (branch, "HEAD") if r]:
            res = _git(["rev-list", "-1", f"--before={when}", ref, "--"], self.root)
            sha = res.stdout.decode().strip()
            if res.returncode == 0 and sha:
                return sha
        return None

    def has_commit(self, sha: str) -> bool:
        return _git(["cat-file", "-e", f"{sha}^{{commit}}"], self.root).returncode == 0

    def show(self, commit: str, path: str) -> Any:
        """Text of ``path`` at ``commit``: str, None when absent, UNKNOWN when not text."""
        key = (commit, path)
        if key not in self._blobs:
            res = _git(["cat-file", "blob", f"{commit}:{path}"], self.root)
            if res.returncode != 0:
                self._blobs[key] = None
            else:
                try:
                    self._blobs[key] = res.stdout.decode("utf-8")
                except UnicodeDecodeError:
                    self._blobs[key] = UNKNOWN
        return self._blobs[key]

    def archive(self, commit: str, subdir: str, dest: Path) -> None:
        """Extract the tree of ``commit`` (below ``subdir``) into ``dest``: a fresh copy, the repository untouched."""
        tree = f"{commit}:{subdir}" if subdir else commit
        res = _git(["archive", "--format=tar", tree], self.root)
        if res.returncode != 0:
            raise OSError(f"git archive {tree} failed: {res.stderr.decode(errors='replace').strip()}")
        import io

        with tarfile.open(fileobj=io.BytesIO(res.stdout)) as tar:
            tar.extractall(dest, filter="data")


# -- replayability ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    """How a session's start is rebuilt, and why it cannot be when it cannot (``reason`` empty = it can)."""

    method: str  # git | transcript | "" (none)
    partial: bool
    reason: str
    git_root: str = ""
    commit: str = ""
    subdir: str = ""
    missing: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _git_source(features: SessionFeatures, repos: dict[str, GitRepo | None]) -> tuple[GitRepo, str, str] | None:
    if features.cwd not in repos:
        repos[features.cwd] = GitRepo.find(features.cwd)
    repo = repos[features.cwd]
    if repo is None:
        return None
    commit = features.git_commit if features.git_commit and repo.has_commit(features.git_commit) else None
    commit = commit or repo.commit_before(features.started, features.branch)
    if commit is None:
        return None
    subdir = relative(features.cwd, str(repo.root)) or ""
    return repo, commit, subdir


def _lookup(repo: GitRepo, commit: str, subdir: str) -> Callable[[str], Any]:
    return lambda rel: repo.show(commit, f"{subdir}/{rel}" if subdir else rel)


def assess(features: SessionFeatures, ops: Sequence[dict[str, Any]],
           repos: dict[str, GitRepo | None] | None = None) -> tuple[Replay, Simulation | None]:
    """Decide how the session's start can be rebuilt (the check command is decided later, see :func:`check_for`)."""
    repos = {} if repos is None else repos
    if not features.prompt:
        return Replay("", False, "no user prompt in the transcript"), None
    if not features.cwd:
        return Replay("", False, "no working directory (cwd) in the transcript"), None
    git = _git_source(features, repos)
    sim = simulate(ops, features.cwd, _lookup(*git) if git else None)
    method = "git" if git else "transcript"
    where = f"git {git[1][:12]}" if git else f"the transcript (no git repository at {features.cwd} here)"
    reason = ""
    if sim.outside:
        reason = f"edits outside the working directory: {', '.join(sim.outside[:3])}"
    elif sim.unsupported:
        reason = f"edits that cannot be replayed (notebook cells): {', '.join(sim.unsupported[:3])}"
    elif sim.failed:
        path, why = sim.failed[0]
        reason = f"the session's edit of {path} does not apply to its start from {where} ({why})"
    elif sim.unknown:
        reason = f"the start of {', '.join(sim.unknown[:3])} is unknown: not in {where}"
    elif not sim.changed:
        reason = "the session changed no files"
    replay = Replay(method=method, partial=(not git and bool(sim.missing)),
                    reason=reason, git_root=str(git[0].root) if git else "", commit=git[1] if git else "",
                    subdir=git[2] if git else "", missing=sim.missing[:20] if not git else ())
    return replay, sim


def check_for(detected: str | None, override: str | None) -> tuple[str | None, str]:
    """The check command to use and, when there is none, why: ``(command, reason)``."""
    if override:
        return override, ""
    if not detected:
        return None, "no test command in the session (give one with --check-command)"
    parsed = parse_test_command(detected)
    if parsed is None or not parsed.is_pytest:
        runner = parsed.runner if parsed else "?"
        return None, (f"its test command runs {runner}, and this version checks with pytest only "
                      "(give a pytest command with --check-command)")
    return detected, ""


# -- the index --------------------------------------------------------------------------------------------------


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

    def replayable(self, check_override: str | None = None) -> tuple[bool, str]:
        """``(replayable, reason)``: a rebuildable start, a gold change and a pytest check command."""
        if self.workspace_reason:
            return False, self.workspace_reason
        command, why = check_for(self.check_command, check_override)
        return command is not None, why


@dataclass
class FileReport:
    path: str
    status: str  # new | grown | rewritten | unchanged | skipped
    lines: int = 0
    broken: int = 0
    bytes_read: int = 0
    samples: list[list[Any]] = field(default_factory=list)


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
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            check_schema(self.db)  # reads only: a file that is not ours is never written
            self.db.execute("PRAGMA journal_mode = WAL")
            migrate(self.db)
        except (sqlite3.DatabaseError, SchemaError) as exc:
            self.db.close()
            raise StoreError(f"{path}: cannot use this modelbench store: {exc} (the file was left untouched)") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> HistoryIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

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
            parsed: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # path -> (row, state)
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
                   rebuild: bool) -> tuple[FileReport, tuple[dict[str, Any], dict[str, Any]] | None]:
        try:
            st = f.stat()
        except OSError:
            return FileReport(str(f), "skipped"), None
        if old is not None and not rebuild and old["size"] == st.st_size and old["mtime_ns"] == st.st_mtime_ns:
            return FileReport(str(f), "unchanged"), None
        fmt = old["format"] if old is not None else sniff_format(f)
        if fmt is None or (formats and fmt not in formats):
            return FileReport(str(f), "skipped"), None
        state = None
        offset = 0
        status = "new"
        if old is not None and not rebuild and st.st_size >= old["offset"]:
            if _head_hash(f, old["offset"]) == old["head_hash"]:
                row = self.db.execute("SELECT state_json FROM history_files WHERE path = ?", (str(f),)).fetchone()
                state = json.loads(row["state_json"])
                offset, status = old["offset"], "grown"
            else:
                status = "rewritten"
        elif old is not None:
            status = "rewritten"
        parser = PARSERS[fmt](f, state)
        try:
            lines, end, _size = read_new_lines(f, offset)
        except OSError:
            return FileReport(str(f), "skipped"), None
        first_line = parser.state["lines"] + 1
        feed_lines(parser, lines, first_line)
        state = parser.dump()
        rep = FileReport(str(f), status, lines=len(lines), broken=state["broken"], bytes_read=end - offset,
                         samples=list(state["broken_samples"]))
        key = f"{fmt}/{state['session_id']}" if state["session_id"] else None
        row = {"path": str(f), "format": fmt, "session_key": key, "role": state["role"], "size": st.st_size,
               "mtime_ns": st.st_mtime_ns, "offset": end, "head_hash": _head_hash(f, end),
               "lines": state["lines"], "broken_lines": state["broken"]}
        return rep, (row, state)

    def _store_group(self, parsed: dict[str, tuple[dict[str, Any], dict[str, Any]]],
                     repos: dict[str, GitRepo | None]) -> int:
        keys = {row["session_key"] for row, _ in parsed.values() if row["session_key"]}
        updates: list[tuple[str, SessionFeatures | None, Replay | None]] = []
        for key in sorted(keys):
            states, trunk_path = self._states_of(key, parsed)
            features = summarize(key, states, trunk_path)
            if features is None:
                updates.append((key, None, None))
                continue
            replay, _sim = assess(features, _merged_ops(states), repos)
            updates.append((key, features, replay))
        now = time.time()
        with self._write():
            for row, state in parsed.values():
                self.db.execute(
                    "INSERT OR REPLACE INTO history_files (path, format, session_key, role, size, mtime_ns, offset,"
                    " head_hash, lines, broken_lines, state_json, imported_ts)"
                    " VALUES (:path, :format, :session_key, :role, :size, :mtime_ns, :offset, :head_hash, :lines,"
                    " :broken_lines, :state_json, :now)",
                    {**row, "state_json": json.dumps(state, separators=(",", ":")), "now": now},
                )
            for key, session_features, session_replay in updates:
                if session_features is None or session_replay is None:
                    self.db.execute("DELETE FROM history_sessions WHERE key = ?", (key,))
                    continue
                self._upsert_session(session_features, session_replay, now)
        return sum(1 for _k, f, _r in updates if f is not None)

    def _states_of(self, key: str, parsed: dict[str, tuple[dict[str, Any], dict[str, Any]]]
                   ) -> tuple[list[dict[str, Any]], str]:
        states: list[tuple[str, dict[str, Any]]] = [(p, s) for p, (row, s) in parsed.items()
                                                   if row["session_key"] == key]
        for r in self.db.execute("SELECT path, state_json FROM history_files WHERE session_key = ?", (key,)):
            if r["path"] not in parsed:
                states.append((r["path"], json.loads(r["state_json"])))
        states.sort()
        trunk = next((p for p, s in states if s["role"] == "trunk"), states[0][0] if states else "")
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
            " workspace_method, workspace_partial, workspace_reason, check_command, broken_lines"
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
                broken_lines=r["broken_lines"]))
        return out

    def features(self, key: str) -> dict[str, Any]:
        row = self.db.execute("SELECT features_json FROM history_sessions WHERE key = ?", (key,)).fetchone()
        return json.loads(row["features_json"]) if row else {}

    def part_states(self, key: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT path, state_json FROM history_files WHERE session_key = ? ORDER BY path",
                               (key,)).fetchall()
        return [json.loads(r["state_json"]) for r in rows]

    def file_rows(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute(
            "SELECT path, format, session_key, role, size, offset, lines, broken_lines FROM history_files"
            " ORDER BY path")]


def feed_lines(parser: ClaudeParser | CodexParser, lines: Sequence[str], first_line: int) -> None:
    """Feed raw lines to a parser; a line that is not JSON or has the wrong shape is counted and skipped."""
    st = parser.state
    skip = isinstance(parser, ClaudeParser)
    for n, raw in enumerate(lines, start=first_line):
        st["lines"] += 1
        if not raw.strip():
            continue
        if skip and skippable(raw):
            st["ignored"] += 1
            continue
        try:
            obj = loads(raw)
            if not isinstance(obj, dict):
                raise BadLine("not a JSON object")
            parser.feed(obj)
        except FEED_ERRORS as exc:
            st["broken"] += 1
            if len(st["broken_samples"]) < MAX_BROKEN_SAMPLES:
                st["broken_samples"].append([n, f"{type(exc).__name__}: {exc}"[:160]])


def _group_of(f: Path) -> str:
    """Files imported (and committed) together: a Claude project folder with its sub-agent folders, or a folder."""
    parent = f.parent
    if parent.name == "subagents":
        return str(parent.parent.parent)
    return str(parent)


def _head_hash(f: Path, upto: int) -> str:
    with open(f, "rb") as fh:
        return hashlib.sha1(fh.read(min(upto, HEAD_BYTES))).hexdigest()


# -- building replayable sessions -------------------------------------------------------------------------------


class ReplayError(ModelbenchError, ValueError):
    """A session that was replayable at import time can no longer be rebuilt here."""


def build_session(index: HistoryIndex, row: IndexedSession, check_override: str | None, cache_dir: Path) -> Session:
    """The full :class:`Session` of an indexed session: workspace, gold change and check."""
    states = index.part_states(row.key)
    trunk_path = row.path
    features = summarize(row.key, states, trunk_path)
    if features is None:
        raise ReplayError(f"{row.key}: its transcript is no longer in the index")
    ops = _merged_ops(states)
    replay, sim = assess(features, ops, {})
    if replay.reason or sim is None:
        raise ReplayError(f"{row.key}: {replay.reason or 'cannot be replayed'}")
    command, why = check_for(features.check_command, check_override)
    if command is None:
        raise ReplayError(f"{row.key}: {why}")
    overlay = {p: v for p, v in sim.start.items() if isinstance(v, str) and p not in sim.from_lookup}
    if replay.method == "git":
        dest = cache_dir / ("git-" + hashlib.sha256(
            f"{replay.git_root}\0{replay.commit}\0{replay.subdir}".encode()).hexdigest()[:16])
        if not dest.is_dir():
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_dir))
            try:
                GitRepo(Path(replay.git_root)).archive(replay.commit, replay.subdir, tmp)
                os.replace(tmp, dest)
            except OSError as exc:
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
                if not dest.is_dir():
                    raise ReplayError(f"{row.key}: cannot rebuild its start from git: {exc}") from None
        repo = GitRepo(Path(replay.git_root))
        overlay = {p: v for p, v in overlay.items() if repo.show(replay.commit, _join(replay.subdir, p)) != v}
        workspace = FileSet(files=tuple(sorted(overlay.items())), directory=dest)
    else:
        workspace = FileSet(files=tuple(sorted(overlay.items())))
    changed = sim.changed
    code_changed = [p for p in changed if not is_test_file(p)]
    hidden_tests = {p: text for p in changed
                    if is_test_file(p) and code_changed and (text := sim.final[p]) is not None}
    gold_files = {p: text for p in changed if p not in hidden_tests and (text := sim.final[p]) is not None}
    deleted = [p for p in changed if sim.final[p] is None and sim.start.get(p) is not None]
    parsed = parse_test_command(command)
    assert parsed is not None
    base = _command_dir(parsed.cwd, ops, command, features.cwd)
    files = set(overlay) | set(hidden_tests)
    if workspace.directory is not None:
        files |= {p.relative_to(workspace.directory).as_posix() for p in workspace.directory.rglob("*.py")}
    wanted = [_join(base, p).rstrip("/") for p in parsed.paths] or [base or "."]
    paths = check_paths(files, wanted)
    paths += [p for p in hidden_tests if p not in paths]
    return Session(
        id=features.session_id,
        source=features.source,
        intent=features.intent,
        prompt=features.prompt,
        turns=features.followups,
        workspace=workspace,
        check=CheckSpec(kind="pytest", paths=tuple(paths), timeout=CHECK_TIMEOUT,
                        files=FileSet(files=tuple(sorted(hidden_tests.items())))),
        gold=GoldSpec(files=FileSet(files=tuple(sorted(gold_files.items()))),
                      delete=tuple(sorted(deleted))),
        language=features.language if features.language != "unknown" else "python",
        size_band=features.size_band,
        original=Original(model=features.model, turns=features.calls, cost_usd=features.cost_usd,
                          tokens=features.tokens.total),
        origin=features.path,
        project=features.cwd,
    )


def check_paths(files: Iterable[str], wanted: Sequence[str]) -> list[str]:
    """The check paths for a pytest command given ``wanted`` (its arguments, or its folder).

    Everything under a check path is restored from the start before the check runs, so the paths must hold tests,
    not the code under test: a folder of tests (no other Python modules than ``__init__``/``conftest``) is kept
    whole, a test file living beside code is named alone. Explicit test files are kept as given.
    """
    explicit = [w for w in wanted if w.endswith(".py")]
    folders = [w for w in wanted if not w.endswith(".py")]

    def under(rel: str) -> bool:
        return any(f in (".", "") or rel == f or rel.startswith(f + "/") for f in folders)

    chosen = [f for f in files if is_test_file(f) and under(f)]
    by_dir: dict[str, bool] = {}
    for f in files:
        if f.endswith(".py") and not is_test_file(f):
            name = f.rsplit("/", 1)[-1]
            if name not in ("__init__.py", "conftest.py"):
                by_dir[f.rsplit("/", 1)[0] if "/" in f else ""] = True
    out: list[str] = list(explicit)
    for f in sorted(chosen):
        folder = f.rsplit("/", 1)[0] if "/" in f else ""
        target = folder if folder and not by_dir.get(folder) else f
        if target not in out:
            out.append(target)
    return out or list(wanted)


def _join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if base and base != "." else rel


def _command_dir(cd: str, ops: Sequence[dict[str, Any]], command: str, root: str) -> str:
    """The folder (relative to the workspace) a test command ran in: its ``cd DIR`` or Codex's workdir."""
    workdir = next((op.get("cwd") for op in ops if op.get("op") == "test" and op.get("cmd") == command
                    and op.get("cwd")), "")
    base = root
    if workdir:
        base = workdir
    if cd:
        base = cd if os.path.isabs(cd) else os.path.join(base, cd)
    return relative(base, root) or ""
