"""The SQLite history: pytest_modelbench.store.sqlite and store.migrations."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from pytest_modelbench.records import ComponentScore, Outcome
from pytest_modelbench.store.migrations import MIGRATIONS, migrate
from pytest_modelbench.store.sqlite import Store

EXPECTED_MIGRATIONS = ["m001_initial", "m002_components"]


def outcome(sid: str, model: str = "m", repeat: int = 0, **kw: object) -> Outcome:
    fields: dict[str, object] = dict(
        session_id=sid, source="src", model=model, intent="fix-bug", status="complete", solved=True,
        static_score=0.75, llm_score=None, combined_score=0.75, cost_usd=0.012, duration_seconds=3.5, num_turns=2,
        components=(ComponentScore("tests", 0.75), ComponentScore("llm", None, "no judge")),
        evidence={"after": {"passed": 3}}, repeat_index=repeat,
    )
    fields.update(kw)
    return Outcome(**fields)  # type: ignore[arg-type]


def test_migrations_recorded_in_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "sub" / "mb.db")
    assert [name for name, _ in MIGRATIONS][:2] == EXPECTED_MIGRATIONS
    assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
    db = sqlite3.connect(tmp_path / "sub" / "mb.db")
    columns = {r[1] for r in db.execute("PRAGMA table_info(benchmark_outcomes)")}
    db.close()
    assert {"benchmark_run_id", "source_session_id", "candidate_model", "fork_session_id", "components_json",
            "repeat_index", "intent", "solved", "evidence_json"} <= columns
    store.close()


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "mb.db"
    first = Store(path)
    first.create_run("r1", "n", 1, ["m"], ["src/a"], {})
    first.close()
    second = Store(path)
    assert second.applied_migrations() == [name for name, _ in MIGRATIONS]
    assert second.run("r1") is not None  # data survived reopening
    db = sqlite3.connect(path, isolation_level=None)
    assert migrate(db) == []
    assert db.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)
    db.close()
    second.close()


def test_run_lifecycle(tmp_path: Path) -> None:
    store = Store(tmp_path / "mb.db")
    store.create_run("r1", "nightly", 1, ["a", "b"], ["src/x"], {"seed": 3})
    row = store.run("r1")
    assert row is not None and row["status"] == "running" and json.loads(row["candidate_models_json"]) == ["a", "b"]
    store.finish_run("r1", "complete", 1.25, session_ids=["src/x", "src/y"])
    row = store.run("r1")
    assert row["status"] == "complete" and row["total_cost_usd"] == 1.25 and row["completed_ts"] is not None
    assert json.loads(row["source_session_ids_json"]) == ["src/x", "src/y"]
    assert [r["id"] for r in store.runs()] == ["r1"] and store.run("nope") is None
    store.close()


@pytest.mark.parametrize("o", [
    outcome("a"),
    outcome("b", status="skipped", solved=None, static_score=None, combined_score=None, cost_usd=None,
            skip_reason="invalid session: no tests", components=()),
    outcome("c", solved=False, fork_session_id="fork-1", repeat=2),
])
def test_write_outcome_round_trip(tmp_path: Path, o: Outcome) -> None:
    store = Store(tmp_path / "mb.db")
    store.create_run("r1", None, 1, ["m"], [o.session_key], {})
    store.write_outcome("r1", o)
    (row,) = store.outcomes("r1")
    assert (row["benchmark_run_id"], row["source_session_id"], row["candidate_model"]) == ("r1", o.session_key, "m")
    assert row["solved"] == (None if o.solved is None else int(o.solved))
    assert (row["status"], row["intent"], row["repeat_index"]) == (o.status, o.intent, o.repeat_index)
    assert (row["static_score"], row["combined_score"], row["cost_usd"]) == (o.static_score, o.combined_score,
                                                                             o.cost_usd)
    assert (row["duration_seconds"], row["num_turns"]) == (o.duration_seconds, o.num_turns)
    assert row["skip_reason"] == (o.skip_reason or None) and row["fork_session_id"] == (o.fork_session_id or None)
    assert json.loads(row["evidence_json"]) == o.evidence
    assert [ComponentScore(**c) for c in json.loads(row["components_json"])] == list(o.components)
    store.close()


def test_write_outcome_replaces_same_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "mb.db")
    store.create_run("r1", None, 1, ["m"], [], {})
    store.write_outcome("r1", outcome("a", status="running", solved=None))
    store.write_outcome("r1", outcome("a"))
    store.write_outcome("r1", outcome("a", repeat=1))
    rows = store.outcomes("r1")
    assert [(r["repeat_index"], r["status"]) for r in rows] == [(0, "complete"), (1, "complete")]
    store.close()


def _writer(path: str, worker: int, count: int) -> None:
    store = Store(Path(path))
    for i in range(count):
        store.write_outcome("r1", outcome(f"w{worker}-{i:03d}", model=f"model-{worker % 2}"))
    store.close()


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_concurrent_writers_lose_nothing(tmp_path: Path, method: str) -> None:
    path = tmp_path / "mb.db"
    store = Store(path)
    store.create_run("r1", None, 1, ["model-0", "model-1"], [], {})
    ctx = multiprocessing.get_context(method)
    procs = [ctx.Process(target=_writer, args=(str(path), w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    rows = store.outcomes("r1")
    assert len(rows) == 100
    assert {r["source_session_id"] for r in rows} == {f"src/w{w}-{i:03d}" for w in range(4) for i in range(25)}
    store.close()


def test_concurrent_first_open_of_a_fresh_store(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=Store, args=(path,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert Store(path).applied_migrations() == [name for name, _ in MIGRATIONS]
