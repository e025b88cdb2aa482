"""The SQLite history: runs and outcomes, safe for several writers (WAL, busy timeout, short transactions).

:func:`connect` is the one way to open the store file: the :class:`Store` and the transcript history index
(``sources/transcripts/index.py``) share it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pytest_modelbench.errors import UserError
from pytest_modelbench.records import Outcome
from pytest_modelbench.store.migrations import SchemaError, check_schema, migrate

BUSY_TIMEOUT_MS = 30_000
HISTORY_LIMIT = 1000  # runs read back for baselines, trends and `modelbench runs`


class StoreError(UserError):
    """The store file cannot be used (not SQLite, another schema, a newer schema). It is left untouched."""


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the store at ``path`` (created when missing), migrated to this version's schema.

    Autocommit mode (``isolation_level=None``: callers open short ``BEGIN IMMEDIATE`` transactions with
    :func:`immediate`), rows as :class:`sqlite3.Row`, WAL, and a busy timeout so concurrent writers (xdist workers,
    ``modelbench import`` beside a run) queue instead of failing. Used by the :class:`Store` and the history index.
    Raises StoreError, leaving the file untouched, when it is not a modelbench store this version may write to.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    db.row_factory = sqlite3.Row
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Before anything that writes (switching to WAL rewrites the header): a file that is not ours stays as it was.
        check_schema(db)
        db.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL survives any crash of the process (only an OS crash can lose the last commits) and
        # spares an fsync per commit (one per outcome; one per folder the history index imports).
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        migrate(db)
    except (sqlite3.DatabaseError, SchemaError) as exc:
        # sqlite3 refuses to write to a file that is not a database, and migrate() checks before it writes:
        # the file is left exactly as it was.
        db.close()
        raise StoreError(f"{path}: cannot use this modelbench store: {exc} (the file was left untouched)") from None
    except BaseException:
        db.close()
        raise
    return db


class Store:
    """One SQLite file. Each write is its own short transaction, committed before the call returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = connect(path)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # One connection per Store object (and so per process); every write is still its own transaction.
        if self._db is None:
            self._db = connect(self.path)
        yield self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def create_run(self, run_id: str, name: str | None, rubric_version: int, models: Sequence[str],
                   session_ids: Sequence[str], config: dict[str, Any]) -> None:
        with self._connection() as db, immediate(db):
            db.execute(
                "INSERT INTO benchmark_runs (id, name, rubric_version, candidate_models_json, source_session_ids_json,"
                " status, created_ts, config_json) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (run_id, name, rubric_version, json.dumps(list(models)), json.dumps(list(session_ids)), time.time(),
                 json.dumps(config, sort_keys=True, default=str)),
            )

    def write_outcome(self, run_id: str, outcome: Outcome) -> None:
        """Insert or replace one outcome and commit it at once. Its evidence (the transcript, the diff, check output)
        and skip reason are redacted first: the store can be shared, and the API serves it."""
        from pytest_modelbench.models.redact import redact_obj

        evidence, skip_reason = redact_obj([outcome.evidence, outcome.skip_reason])
        with self._connection() as db, immediate(db):
            db.execute(
                "INSERT OR REPLACE INTO benchmark_outcomes (benchmark_run_id, source_session_id, candidate_model,"
                " repeat_index, fork_session_id, status, solved, intent, static_score, llm_score, combined_score,"
                " cost_usd, duration_seconds, num_turns, skip_reason, evidence_json, components_json, created_ts)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id, outcome.session_key, outcome.model, outcome.repeat_index, outcome.fork_session_id or None,
                    outcome.status, None if outcome.solved is None else int(outcome.solved), outcome.intent,
                    outcome.static_score, outcome.llm_score, outcome.combined_score, outcome.cost_usd,
                    outcome.duration_seconds, outcome.num_turns, skip_reason or None,
                    json.dumps(evidence, sort_keys=True, default=str),
                    json.dumps([c.__dict__ for c in outcome.components]), time.time(),
                ),
            )

    def finish_run(self, run_id: str, status: str, total_cost_usd: float | None,
                   session_ids: Sequence[str] | None = None) -> None:
        with self._connection() as db, immediate(db):
            db.execute(
                "UPDATE benchmark_runs SET status = ?, completed_ts = ?, total_cost_usd = ? WHERE id = ?",
                (status, time.time(), total_cost_usd, run_id),
            )
            if session_ids is not None:
                db.execute("UPDATE benchmark_runs SET source_session_ids_json = ? WHERE id = ?",
                           (json.dumps(list(session_ids)), run_id))

    def reopen_run(self, run_id: str) -> None:
        """Mark a run running again (``--modelbench-resume``); its outcomes stay."""
        with self._connection() as db, immediate(db):
            db.execute("UPDATE benchmark_runs SET status = 'running', completed_ts = NULL WHERE id = ?", (run_id,))

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self._connection() as db:
            row = db.execute("SELECT * FROM benchmark_runs WHERE id = ?", (run_id,)).fetchone()
        return dict(row) if row else None

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._connection() as db:
            rows = db.execute("SELECT * FROM benchmark_runs ORDER BY created_ts DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]

    def outcomes(self, run_id: str) -> list[dict[str, Any]]:
        with self._connection() as db:
            rows = db.execute(
                "SELECT * FROM benchmark_outcomes WHERE benchmark_run_id = ?"
                " ORDER BY source_session_id, candidate_model, repeat_index",
                (run_id,),
            ).fetchall()
        return [dict(r) for r in rows]

    def outcome_records(self, run_id: str) -> list[Outcome]:
        """The run's outcomes as :class:`Outcome` records (what the leaderboard functions take)."""
        return [outcome_from_row(r) for r in self.outcomes(run_id)]

    def applied_migrations(self) -> list[str]:
        with self._connection() as db:
            return [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def outcome_from_row(row: dict[str, Any]) -> Outcome:
    """One ``benchmark_outcomes`` row back as the record :meth:`Store.write_outcome` stored."""
    from pytest_modelbench.records import ComponentScore

    source, _, session_id = row["source_session_id"].partition("/")
    solved = row["solved"]
    return Outcome(
        session_id=session_id, source=source, model=row["candidate_model"], intent=row["intent"] or "",
        status=row["status"], solved=None if solved is None else bool(solved), static_score=row["static_score"],
        llm_score=row["llm_score"], combined_score=row["combined_score"], cost_usd=row["cost_usd"],
        duration_seconds=row["duration_seconds"] or 0.0, num_turns=row["num_turns"] or 0,
        components=tuple(ComponentScore(**c) for c in json.loads(row.get("components_json") or "[]")),
        evidence=json.loads(row.get("evidence_json") or "{}"), repeat_index=row["repeat_index"],
        skip_reason=row["skip_reason"] or "", fork_session_id=row["fork_session_id"] or "",
    )


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE takes the write lock up front, so concurrent writers queue instead of deadlocking."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    else:
        db.execute("COMMIT")
