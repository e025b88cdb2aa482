"""Ordered, recorded schema migrations (in the manner of simonw/llm's migrations.py).

Each migration runs once, in order, inside a transaction, and is recorded in ``_migrations``. Never edit a
migration that has shipped: add a new one.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from pytest_modelbench.errors import UserError

MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = []


def migration(fn: Callable[[sqlite3.Connection], None]) -> Callable[[sqlite3.Connection], None]:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE benchmark_runs (
            id TEXT PRIMARY KEY,
            name TEXT,
            rubric_version INTEGER NOT NULL,
            candidate_models_json TEXT NOT NULL,
            source_session_ids_json TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'complete', 'failed')),
            created_ts REAL NOT NULL,
            completed_ts REAL,
            total_cost_usd REAL,
            config_json TEXT NOT NULL DEFAULT '{}'
        )
        """
    )
    db.execute(
        """
        CREATE TABLE benchmark_outcomes (
            benchmark_run_id TEXT NOT NULL REFERENCES benchmark_runs(id),
            source_session_id TEXT NOT NULL,
            candidate_model TEXT NOT NULL,
            repeat_index INTEGER NOT NULL DEFAULT 0,
            fork_session_id TEXT,
            status TEXT NOT NULL CHECK (status IN
                ('pending', 'running', 'complete', 'failed', 'cancelled-over-budget', 'skipped')),
            solved INTEGER CHECK (solved IN (0, 1)),
            intent TEXT,
            static_score REAL,
            llm_score REAL,
            combined_score REAL,
            cost_usd REAL,
            duration_seconds REAL,
            num_turns INTEGER,
            skip_reason TEXT,
            evidence_json TEXT NOT NULL DEFAULT '{}',
            created_ts REAL NOT NULL,
            PRIMARY KEY (benchmark_run_id, source_session_id, candidate_model, repeat_index)
        )
        """
    )
    db.execute("CREATE INDEX idx_outcomes_model ON benchmark_outcomes(candidate_model)")
    db.execute("CREATE INDEX idx_runs_created ON benchmark_runs(created_ts)")


@migration
def m002_components(db: sqlite3.Connection) -> None:
    # Every rubric component (present or missing with its reason), so reports never recompute them.
    db.execute("ALTER TABLE benchmark_outcomes ADD COLUMN components_json TEXT NOT NULL DEFAULT '[]'")


@migration
def m003_history_index(db: sqlite3.Connection) -> None:
    # The history index of imported transcripts (sources/transcripts/index.py): one row per transcript file with
    # its resumable parser state, one row per session with the features sampling and listing need.
    db.execute(
        """
        CREATE TABLE history_files (
            path TEXT PRIMARY KEY,
            format TEXT NOT NULL,
            session_key TEXT,
            role TEXT,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            offset INTEGER NOT NULL,
            head_hash TEXT NOT NULL,
            lines INTEGER NOT NULL DEFAULT 0,
            broken_lines INTEGER NOT NULL DEFAULT 0,
            state_json TEXT NOT NULL,
            imported_ts REAL NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_history_files_session ON history_files(session_key)")
    db.execute(
        """
        CREATE TABLE history_sessions (
            key TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            session_id TEXT NOT NULL,
            path TEXT NOT NULL,
            started TEXT,
            prompt TEXT NOT NULL DEFAULT '',
            intent TEXT NOT NULL,
            size_band TEXT NOT NULL,
            language TEXT NOT NULL,
            model TEXT,
            calls INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_create_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL,
            cost_estimated INTEGER NOT NULL DEFAULT 0,
            outcome TEXT NOT NULL DEFAULT 'none',
            workspace_method TEXT NOT NULL DEFAULT '',
            workspace_partial INTEGER NOT NULL DEFAULT 0,
            workspace_reason TEXT NOT NULL DEFAULT '',
            check_command TEXT,
            check_runner TEXT,
            broken_lines INTEGER NOT NULL DEFAULT 0,
            features_json TEXT NOT NULL DEFAULT '{}',
            replay_json TEXT NOT NULL DEFAULT '{}',
            updated_ts REAL NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_history_sessions_source ON history_sessions(source)")


class SchemaError(UserError):
    """The file is a SQLite database this version cannot use (another schema, or a newer one)."""


def check_schema(db: sqlite3.Connection) -> None:
    """Refuse, by reading only, a database this version must not write to: SchemaError, or sqlite3.DatabaseError
    when the file is not SQLite at all. An empty database (a new store) passes."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return
    if "_migrations" not in tables:
        # Someone else's database: never add our tables to it.
        raise SchemaError(f"not a modelbench store: it has tables ({', '.join(sorted(tables)[:5])}) but no "
                          "_migrations table")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    unknown = sorted(done - {name for name, _ in MIGRATIONS})
    if unknown:
        raise SchemaError(f"written by a newer pytest-modelbench (unknown migration {unknown[0]}); upgrade "
                          "pytest-modelbench or use another --modelbench-store")


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply pending migrations in one write transaction (safe when several processes open the store at once).

    ``db`` must be in autocommit mode (``isolation_level=None``); returns the names applied now.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        check_schema(db)
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_ts REAL NOT NULL)")
        done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
        applied = []
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied_ts) VALUES (?, ?)", (name, time.time()))
            applied.append(name)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return applied
