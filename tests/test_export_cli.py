"""``modelbench export`` and ``modelbench report`` over a store (with and without JSON artifacts)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from pytest_modelbench.cli.main import main
from pytest_modelbench.cli.results import CSV_FIELDS
from pytest_modelbench.store.artifact import default_artifact_path, write_artifact
from pytest_modelbench.store.sqlite import Store

from .test_html_report import _outcome, make_artifact
from .test_regression_gate import add_run, outcomes

RUN = "bench_0000000a_20261129_120000"  # make_artifact's run id


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / ".modelbench" / "modelbench.db"
    store = Store(path)
    add_run(store, "r1", outcomes(0.8, n=4) + outcomes(0.6, model="m/b", n=4), name="nightly")
    outs = [_outcome("a", "m/x", combined=0.9, solved=True), _outcome("b", "m/x", combined=0.4, solved=False),
            _outcome("a", "m/y", combined=None, solved=None, status="skipped", cost=None, reason="cloud, opt-in")]
    add_run(store, RUN, outs)
    store.close()
    artifact = make_artifact(outs)
    write_artifact(artifact, default_artifact_path(path, RUN))
    return path


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_has_a_header_and_one_row_per_outcome(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "r1", "--format", "csv", "--store", str(db)]) == 0
    text = capsys.readouterr().out
    header = text.splitlines()[0].split(",")
    assert tuple(header[:len(CSV_FIELDS)]) == CSV_FIELDS
    rows = _csv(text)
    assert len(rows) == 8  # r1 has no artifact: read from the store
    assert {r["model"] for r in rows} == {"m/a", "m/b"} and {r["run_id"] for r in rows} == {"r1"}
    assert sorted(float(r["combined_score"]) for r in rows if r["model"] == "m/a") == pytest.approx(
        [0.78, 0.79, 0.8, 0.81])


def test_csv_of_a_run_with_its_artifact_keeps_missing_values_empty(db: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "latest", "--format", "csv", "--store", str(db)]) == 0
    rows = _csv(capsys.readouterr().out)
    assert len(rows) == 3
    skipped = next(r for r in rows if r["model"] == "m/y")
    assert skipped["status"] == "skipped" and skipped["combined_score"] == "" and skipped["solved"] == ""
    assert skipped["skip_reason"] == "cloud, opt-in"  # a comma inside a field stays one field
    solved = next(r for r in rows if r["model"] == "m/x" and r["session_id"] == "a")
    assert solved["solved"] == "true" and solved["component:tests"] == "1" and solved["component:llm"] == ""


def test_json_is_the_artifact_and_md_the_leaderboard(db: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", RUN, "--format", "json", "--store", str(db)]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(default_artifact_path(db, RUN).read_text())
    out = tmp_path / "run.md"
    assert main(["export", "latest", "--format", "md", "-o", str(out), "--store", str(db)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and f"wrote run {RUN} as md" in captured.err
    md = out.read_text()
    assert "| 1 | m/x | 2 | 1 |" in md and "No regression." in md
    # An artifact path works without any store.
    assert main(["export", str(default_artifact_path(db, RUN)), "--format", "md", "--store", "nowhere.db"]) == 0
    assert capsys.readouterr().out == md


def test_report_writes_the_html(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    assert main(["report", "nightly", "-o", str(out), "--store", str(db)]) == 0
    page = out.read_text()
    assert 'id="leaderboard"' in page and 'id="heatmap"' in page and "rebuilt from the store" in page
    assert main(["report", "latest", "-o", "-", "--store", str(db)]) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("argv, message", [
    (["export", "nope", "--format", "csv"], "nope: no complete run with that id or name"),
    (["export", "missing.json", "--format", "json"], "missing.json: no such artifact file"),
    (["report", "latest", "-o", "/proc/nope/x.html"], "-o /proc/nope/x.html: cannot write"),
])
def test_errors_are_one_line_and_exit_2(db: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                        message: str) -> None:
    assert main([*argv, "--store", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modelbench: error: ") and message in err and len(err.strip().splitlines()) == 1


def test_missing_store_and_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "latest", "--format", "csv", "--store", str(tmp_path / "none.db")]) == 2
    assert "no such store" in capsys.readouterr().err
    empty = tmp_path / "empty.db"
    Store(empty).close()
    assert main(["report", "latest", "-o", str(tmp_path / "x.html"), "--store", str(empty)]) == 2
    assert "has no run yet" in capsys.readouterr().err
    for argv in (["export", "latest", "--format", "xml"], ["report", "latest"], ["export", "latest"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["export", "--help"])
    assert exc.value.code == 0 and "csv, json or md" in capsys.readouterr().out
