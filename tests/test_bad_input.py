"""Bad input that is not a file format: a corrupt or foreign store, bad option values, resume bookkeeping.

A store that cannot be used is a UsageError (pytest) or ``modelbench: error:`` with exit status 2 (CLI) naming the
file, and the file is byte for byte what it was: nothing ever overwrites it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Session
from pytest_modelbench.sampling.resume import config_differences, crashed_outcome, parse_node_id
from pytest_modelbench.sources.transcripts.index import HistoryIndex
from pytest_modelbench.store.sqlite import Store, StoreError

from .helpers import add_cases


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not SQLite\x00\xff" * 300)


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT INTO notes (body) VALUES ('keep me')")
    # A rollback-journal database: turning on WAL would rewrite its header, which must not happen.


def _newer(path: Path) -> None:
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO _migrations (name, applied_ts) VALUES ('m999_from_the_future', 0)")
    with sqlite3.connect(path) as db:  # checkpoint, so the file alone holds everything
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


BAD_STORES = {
    "garbage": (_garbage, "file is not a database"),
    "foreign": (_foreign, "not a modelbench store: it has tables (notes) but no _migrations table"),
    "newer": (_newer, "written by a newer pytest-modelbench (unknown migration m999_from_the_future)"),
}


def _snapshot(folder: Path) -> dict[str, bytes]:
    """The store file's bytes, and for a file that was never SQLite in WAL mode, that no -wal/-shm appeared."""
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    return {name: data for name, data in files.items()
            if not name.endswith(("-wal", "-shm")) or "m.db" not in files or not files["m.db"][18:20] == b"\x02\x02"}


@pytest.mark.parametrize("kind", sorted(BAD_STORES))
def test_unusable_store_is_refused_and_left_untouched(tmp_path: Path, kind: str) -> None:
    make, message = BAD_STORES[kind]
    folder = tmp_path / "hist"
    folder.mkdir()
    db = folder / "m.db"
    make(db)
    before = _snapshot(folder)
    with pytest.raises(StoreError, match="cannot use this modelbench store") as info:
        Store(db)
    assert str(info.value).startswith(str(db)) and message in str(info.value)
    with pytest.raises(StoreError, match="the file was left untouched"):
        HistoryIndex(db)  # the transcript index opens the same file its own way
    assert _snapshot(folder) == before


@pytest.mark.parametrize("kind", sorted(BAD_STORES))
def test_unusable_store_is_a_usage_error_in_pytest_and_exit_2_in_the_cli(pytester: pytest.Pytester,
                                                                         kind: str) -> None:
    make, message = BAD_STORES[kind]
    add_cases(pytester.path / "cases")
    folder = pytester.path / "hist"
    folder.mkdir()
    make(folder / "m.db")
    before = _snapshot(folder)
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "cases",
                                           "--runner", "local", "--modelbench-store", "hist/m.db")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert f"{folder / 'm.db'}: cannot use this modelbench store: {message}" in err
    assert "Traceback" not in err and "INTERNALERROR" not in result.stdout.str() + err
    cli = subprocess.run([sys.executable, "-m", "pytest_modelbench.cli.main", "list", "--store", str(folder / "m.db")],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 2
    assert cli.stderr.startswith(f"modelbench: error: {folder / 'm.db'}: cannot use this modelbench store")
    assert len(cli.stderr.strip().splitlines()) == 1 and "Traceback" not in cli.stderr
    assert _snapshot(folder) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--models", ","), "--models: expected a comma-separated list of model ids, got nothing"),
        (("--budget-cap-usd", "lots"), "--budget-cap-usd: expected a number, got 'lots'"),
        (("--budget-cap-usd", "0"), "--budget-cap-usd: must be > 0"),
        (("--allow-cloud",), "--allow-cloud: needs --budget-cap-usd"),
        (("--model-api-base", "localhost:11434"), "--model-api-base: expected an http(s) URL"),
        (("--price", "gpt-x=1"), "--price: expected MODEL=IN,OUT"),
        (("--price", "gpt-x=a,b"), "--price: expected a number, got 'a'"),
        (("--max-concurrency", "ollama"), "--max-concurrency: expected PROVIDER=N"),
        (("--max-concurrency", "ollama=0"), "--max-concurrency: must be >= 1"),
        (("--modelbench-cache", "sometimes"), "--modelbench-cache: expected one of off, read, write, readwrite"),
        (("--replay-mode", "chat"), "--replay-mode: expected one of zero-shot, iterative, agent"),
        (("--max-iterations", "-1"), "--max-iterations: must be >= 0"),
        (("--max-turns", "0"), "--max-turns: must be >= 1"),
        (("--model-timeout", "0"), "--model-timeout: must be >= 0.1"),
        (("--modelbench-min-score", "high"), "--modelbench-min-score: expected a number"),
        (("--trend-threshold", "steep"), "--trend-threshold: expected a number"),
        (("--modelbench-tolerance", "2"), "--modelbench-tolerance: must be between 0 and 1"),
        (("--check-command", "cargo test"), "--check-command: 'cargo test' runs cargo"),
        (("--modelbench-resume", " "), "--modelbench-resume: expected a run id, got nothing"),
        (("--modelbench-resume", "bench_00000000_20260101_000000"),
         "--modelbench-resume bench_00000000_20260101_000000: no run with that id in"),
    ],
)
def test_more_bad_options_are_usage_errors_naming_the_option(pytester: pytest.Pytester, args: tuple[str, ...],
                                                             message: str) -> None:
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-2000:]
    err = result.stderr.str()
    assert message in err
    assert "Traceback" not in err


# -- resume bookkeeping (pure) -----------------------------------------------------------------------------------

SESSION = Session(id="add", source="cases", intent="fix-bug", prompt="p", workspace=FileSet(), check=CheckSpec(),
                  gold=GoldSpec())


def test_node_ids_parse_with_and_without_repeats() -> None:
    models = ["replay/gold", "ollama/deepseek-r1", "m"]
    assert parse_node_id("cases/add[replay/gold]", models) == ("cases/add", "replay/gold", 0)
    assert parse_node_id("cases/add[ollama/deepseek-r1]", models) == ("cases/add", "ollama/deepseek-r1", 0)
    assert parse_node_id("cases/add[ollama/deepseek-r1-r2]", models) == ("cases/add", "ollama/deepseek-r1", 2)
    assert parse_node_id("cases/add[m-r10]", models) == ("cases/add", "m", 10)
    assert parse_node_id("cases/add[unknown]", models) is None
    assert parse_node_id("tests/test_x.py::test_y", models) is None


def test_crashed_outcome_is_failed_with_the_reason() -> None:
    outcome = crashed_outcome("cases/add[m-r1]", "worker 'gw0' crashed while running 'cases/add[m-r1]'",
                              {SESSION.key: SESSION}, ["m"])
    assert outcome is not None
    assert (outcome.status, outcome.model, outcome.repeat_index, outcome.solved) == ("failed", "m", 1, None)
    assert "worker 'gw0' crashed" in outcome.skip_reason and outcome.evidence["crashed"] is True
    assert crashed_outcome("cases/other[m]", "x", {SESSION.key: SESSION}, ["m"]) is None


def test_config_differences_name_what_differs() -> None:
    stored = {"models": ["a", "b"], "sessions": ["demo"], "sample_size": None, "sample_seed": 0, "intents": [],
              "rubric": {"version": 1, "weights": {"static": 1.0}, "static_weights": {"tests": 1.0}}}
    assert config_differences(stored, dict(stored)) == []
    changed = {**stored, "sample_seed": 3, "rubric": {**stored["rubric"], "version": 2}}
    diffs = config_differences(stored, changed)
    assert diffs == ["sample_seed 0 (stored) vs 3 (now)", "rubric version 1 (stored) vs 2 (now)"]
