"""``modelbench recommend``, ``trend`` and ``show`` over stores with known numbers; the gate's fingerprint check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pytest_modelbench
from pytest_modelbench.analysis.gate import fingerprint_changes, resolve_baseline
from pytest_modelbench.analysis.leaderboard import model_rows
from pytest_modelbench.cli.main import main
from pytest_modelbench.store.sqlite import Store

from .test_recommend import outs
from .test_regression_gate import add_run, gate, outcomes


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "m.db"
    store = Store(path)
    add_run(store, "r1", outs("m/a", 0.8, 12, spread=0.01) + outs("m/b", 0.6, 12, spread=0.01)
            + outs("m/a", 0.7, 3, intent="refactor"), name="nightly")
    store.close()
    return path


# -- trend -------------------------------------------------------------------------------------------------------


def trend_store(path: Path, slopes: dict[str, float], runs: int) -> None:
    store = Store(path)
    for i in range(runs):
        data = []
        for model, pp in slopes.items():
            data += outcomes(0.8 + pp / 100 * i, model=model, n=6)
        add_run(store, f"r{i}", data)
    store.close()


def test_trend_minus_1_8_points_per_run_over_8_runs_fails_and_flat_passes(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    trend_store(tmp_path / "m.db", {"m/falling": -1.8, "m/flat": 0.0}, 8)
    code, out = run_cli(capsys, "trend", "--store", str(tmp_path / "m.db"), "--json")
    assert code == 1
    report = json.loads(out)
    assert report["runs"] == [f"r{i}" for i in range(8)]
    slopes = {m["model"]: (m["slope_pp_per_run"], m["regression"]) for m in report["models"]}
    assert slopes["m/falling"][0] == pytest.approx(-1.8) and slopes["m/falling"][1] is True
    assert slopes["m/flat"] == (pytest.approx(0.0), False)
    assert [r["model"] for r in report["regressions"]] == ["m/falling"]
    code, out = run_cli(capsys, "trend", "--store", str(tmp_path / "m.db"))
    assert code == 1 and "regression: m/falling: combined_trend" in out and "| m/flat " in out
    # Only the flat model: exit 0. A window of 2 runs never fails.
    assert run_cli(capsys, "trend", "--store", str(tmp_path / "m.db"), "--model", "m/flat")[0] == 0
    assert run_cli(capsys, "trend", "--store", str(tmp_path / "m.db"), "--window", "2")[0] == 0
    # A lower threshold lets -1.8 pass.
    assert run_cli(capsys, "trend", "--store", str(tmp_path / "m.db"), "--threshold", "-2")[0] == 0


def test_trend_with_two_runs_never_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trend_store(tmp_path / "m.db", {"m/falling": -30.0}, 2)
    code, out = run_cli(capsys, "trend", "--store", str(tmp_path / "m.db"))
    assert code == 0 and "too few runs" in out


def test_trend_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trend_store(tmp_path / "m.db", {"m/a": 0.0}, 3)
    assert main(["trend", "--store", str(tmp_path / "m.db"), "--model", "m/zzz"]) == 2
    assert "modelbench: error: --model m/zzz: not scored" in capsys.readouterr().err
    assert main(["trend", "--store", str(tmp_path / "m.db"), "--window", "1"]) == 2
    assert main(["trend", "--store", str(tmp_path / "nope.db")]) == 2


# -- recommend ---------------------------------------------------------------------------------------------------


def test_recommend_cli_and_function_agree(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "recommend", "--store", str(db), "--task-pattern", "fix-bug", "--json")
    assert code == 0
    assert json.loads(out) == pytest_modelbench.recommend_model_for_task("fix-bug", store=db)
    answer = json.loads(out)
    assert (answer["model"], answer["runner_up"], answer["evidence_runs"]) == ("m/a", "m/b", ["r1"])
    assert answer["confidence"] == "medium"  # disjoint intervals, 12 replays each (high needs 20)
    code, out = run_cli(capsys, "recommend", "--store", str(db))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("from 1 run(s) with rubric version 1")
    assert lines[1].startswith("  fix-bug: m/a (confidence medium; combined 0.800 [")
    assert lines[2] == "  refactor: insufficient evidence (no model has 5 scored replays of this intent; most: " \
                       "m/a with 3)"
    code, out = run_cli(capsys, "recommend", "--store", str(db), "--json")
    every = json.loads(out)
    assert [r["intent"] for r in every["recommendations"]] == ["fix-bug", "refactor"]
    assert {k: v for k, v in answer.items() if k not in ("task_pattern", "intent_from", "history")} \
        == every["recommendations"][0]


def test_recommend_by_description_and_errors(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "recommend", "--store", str(db), "--task-pattern", "clean up and rename the parser",
                        "--json")
    answer = json.loads(out)
    assert (answer["intent"], answer["intent_from"], answer["model"]) == ("refactor", "classified", None)
    assert main(["recommend", "--store", str(db), "--task-pattern", " "]) == 2
    assert "modelbench: error: --task-pattern: expected" in capsys.readouterr().err
    assert main(["recommend", "--store", str(db.parent / "none.db")]) == 2


# -- show --------------------------------------------------------------------------------------------------------


def test_show_prints_the_leaderboard_of_a_stored_run(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "show", "nightly", "--store", str(db), "--json")
    assert code == 0
    shown = json.loads(out)
    data = outs("m/a", 0.8, 12, spread=0.01) + outs("m/b", 0.6, 12, spread=0.01) + outs("m/a", 0.7, 3,
                                                                                         intent="refactor")
    expected = [r.to_dict() for r in model_rows(data, ["m/a", "m/b"])]
    for row in (*shown["per_model"], *expected):
        row.pop("median_seconds")
    assert shown["per_model"] == json.loads(json.dumps(expected))
    assert shown["run"]["id"] == "r1" and [r["intent"] for r in shown["recommendations"]] == ["fix-bug", "refactor"]
    code, text = run_cli(capsys, "show", "latest", "--store", str(db))
    assert code == 0 and "combined [95% CI]" in text and "| m/a " in text
    assert "  fix-bug: m/a (confidence medium" in text and "per intent:" in text
    assert run_cli(capsys, "show", "r1", "--store", str(db))[1] == text
    assert main(["show", "nope", "--store", str(db)]) == 2
    assert main(["show", "broken.json", "--store", str(db)]) == 2
    assert "modelbench: error: broken.json: no such artifact file" in capsys.readouterr().err


# -- the gate: model fingerprints --------------------------------------------------------------------------------


def test_fingerprint_changes_compare_only_what_both_sides_recorded() -> None:
    before = {"m/a": {"litellm": "1.0", "provider_models": ["a-2026-01"], "local": True},
              "m/b": {"provider_models": ["b-1"], "ollama_digest": "sha256:aaa"},
              "replay/gold": {"kind": "reference"}}
    now = {"m/a": {"litellm": "2.0", "provider_models": ["a-2026-06"], "local": True},
           "m/b": {"provider_models": ["b-1"], "ollama_digest": "sha256:bbb"},
           "m/c": {"provider_models": ["c"]}, "replay/gold": {"kind": "reference"}}
    changes = fingerprint_changes(before, now)
    assert set(changes) == {"m/a", "m/b"}
    assert "provider model a-2026-01 vs a-2026-06" in changes["m/a"] and "ollama digest" in changes["m/b"]
    assert fingerprint_changes(before, {"m/a": {}}) == {}  # a cached run records no fingerprint
    assert fingerprint_changes(None, now) == {}
    assert fingerprint_changes({"m/a": {"litellm": "1.0", "provider_models": ["x"]}},
                               {"m/a": {"litellm": "2.0", "provider_models": ["x"]}}) == {}


def test_changed_model_fingerprint_warns_and_skips_that_model_unless_forced(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    add_run(store, "base", outcomes(0.8, n=30) + outcomes(0.8, model="m/b", n=30))
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "base.json").write_text(json.dumps({"candidates": [
        {"model": "m/a", "reference": False, "fingerprint": {"provider_models": ["a-v1"]}},
        {"model": "m/b", "reference": False, "fingerprint": {"provider_models": ["b-v1"]}}]}))
    baseline = resolve_baseline(store, "latest", 1, tmp_path)
    assert baseline is not None and baseline.fingerprints == {"m/a": {"provider_models": ["a-v1"]},
                                                             "m/b": {"provider_models": ["b-v1"]}}
    current = outcomes(0.6, n=30) + outcomes(0.6, model="m/b", n=30)
    now = {"m/a": {"provider_models": ["a-v2"]}, "m/b": {"provider_models": ["b-v1"]}}
    result = gate(store, current, baseline=baseline, baseline_spec="latest", trend_window=2, fingerprints=now)
    assert [(r.model, r.metric) for r in result.regressions] == [("m/b", "combined")]
    assert any("model m/a changed (provider model a-v1 vs a-v2): no regression gate" in w for w in result.warnings)
    forced = gate(store, current, baseline=baseline, baseline_spec="latest", trend_window=2, fingerprints=now,
                  force=True)
    assert [r.model for r in forced.regressions] == ["m/a", "m/b"]
    assert any("compared anyway (forced)" in w for w in forced.warnings)
    store.close()
