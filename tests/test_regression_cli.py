"""``modelbench list`` and ``modelbench compare`` over a store with known numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_modelbench.cli.main import main
from pytest_modelbench.store.sqlite import Store

from .test_regression_gate import add_run, outcomes


@pytest.fixture
def db(tmp_path: Path) -> str:
    store = Store(tmp_path / "m.db")
    add_run(store, "r1", outcomes(0.8, n=30) + outcomes(0.6, model="m/b", n=30), name="nightly")
    add_run(store, "r2", outcomes(0.79, n=30) + outcomes(0.6, model="m/b", n=30))
    add_run(store, "r3", outcomes(0.7, n=30) + outcomes(0.6, model="m/b", n=30))
    store.close()
    return str(tmp_path / "m.db")


def test_list_newest_first(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--store", db, "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == ["r3", "r2", "r1"]
    assert main(["list", "--store", db]) == 0
    assert capsys.readouterr().out.strip().endswith("3 run(s)")


def test_compare_exits_1_on_regression_and_names_the_model(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "nightly", "r3", "--store", db]) == 1
    out = capsys.readouterr().out
    assert "| m/a " in out and "| m/b " in out
    assert "regression: m/a: combined 0.795 -> 0.695 (delta -0.100)" in out
    assert main(["compare", "r1", "r2", "--store", db]) == 0
    assert "no regression" in capsys.readouterr().out


def test_compare_json_is_byte_identical_on_rerun(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["compare", "r1", "r3", "--store", db, "--json"])
    first = capsys.readouterr().out
    main(["compare", "r1", "r3", "--store", db, "--json"])
    assert capsys.readouterr().out == first
    assert [r["model"] for r in json.loads(first)["regressions"]] == ["m/a"]


def test_compare_unknown_run_is_one_line_error(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "r1", "nope", "--store", db]) == 2
    assert "modelbench: error: nope: no complete run" in capsys.readouterr().err
    assert main(["list", "--store", "missing.db"]) == 2
