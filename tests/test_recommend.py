"""Recommendations per intent with known numbers: the floor, the confidence rule, evidence runs, history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pytest_modelbench
from pytest_modelbench.analysis.recommend import (
    Candidate,
    confidence,
    from_store,
    intent_for_task,
    latest_items,
    recommend,
    recommend_intent,
)
from pytest_modelbench.records import Outcome
from pytest_modelbench.store.sqlite import Store

from .test_regression_gate import add_run


def outs(model: str, mean: float, n: int, intent: str = "fix-bug", spread: float = 0.02, solved: bool = True,
         first: int = 0, status: str = "complete") -> list[Outcome]:
    """``n`` scored replays of ``model`` around ``mean`` (a symmetric spread, so the mean is exact)."""
    values = [mean + spread * (1 if i % 2 else -1) for i in range(n)] if n % 2 == 0 else \
        [mean] + [mean + spread * (1 if i % 2 else -1) for i in range(n - 1)]
    return [Outcome(session_id=f"{intent}-{first + i}", source="cases", model=model, intent=intent,
                    status=status,  # type: ignore[arg-type]
                    solved=solved if status == "complete" else None, static_score=None, llm_score=None,
                    combined_score=round(v, 6) if status == "complete" else None, cost_usd=0.0,
                    duration_seconds=1.0, num_turns=1) for i, v in enumerate(values)]


def test_best_model_meeting_the_floor_wins_even_when_a_better_one_has_too_few() -> None:
    data = outs("m/few", 0.95, 4) + outs("m/a", 0.80, 6) + outs("m/b", 0.70, 6)
    (rec,) = recommend(data, run_id="r1")
    assert (rec.intent, rec.model, rec.n, rec.runner_up) == ("fix-bug", "m/a", 6, "m/b")
    assert rec.combined == pytest.approx(0.80) and rec.evidence_runs == ("r1",)
    assert [c.model for c in rec.candidates] == ["m/few", "m/a", "m/b"]  # all models, eligible or not
    assert rec.combined_low is not None and rec.combined_low <= 0.80 <= rec.combined_high


def test_below_the_floor_is_insufficient_evidence() -> None:
    (rec,) = recommend(outs("m/a", 0.9, 4) + outs("m/b", 0.5, 3))
    assert rec.model is None and rec.confidence == "none"
    assert rec.text() == "fix-bug: insufficient evidence (no model has 5 scored replays of this intent; most: m/a " \
                         "with 4)"
    # Budget-skipped and failed replays are not scored replays.
    (rec,) = recommend(outs("m/a", 0.9, 4) + outs("m/a", 0.9, 3, first=10, status="cancelled-over-budget"),
                       intents=["fix-bug"])
    assert rec.model is None


def test_reference_candidates_are_never_recommended() -> None:
    (rec,) = recommend(outs("replay/gold", 1.0, 10) + outs("replay/noop", 0.2, 10), intents=["fix-bug"])
    assert rec.model is None and "no scored replay" in rec.reason


def test_one_recommendation_per_intent_in_intent_order() -> None:
    data = outs("m/a", 0.8, 5, intent="refactor") + outs("m/b", 0.6, 5, intent="fix-bug") + \
        outs("m/a", 0.7, 2, intent="docs")
    recs = recommend(data)
    assert [(r.intent, r.model) for r in recs] == [("fix-bug", "m/b"), ("refactor", "m/a"), ("docs", None)]


def cand(model: str, combined: float, low: float, high: float, n: int) -> Candidate:
    return Candidate(model, n, combined, low, high, None, ())


@pytest.mark.parametrize(("winner", "runner_up", "label"), [
    (cand("a", 0.8, 0.75, 0.85, 20), cand("b", 0.6, 0.55, 0.65, 20), "high"),  # disjoint, n >= 20
    (cand("a", 0.8, 0.75, 0.85, 19), cand("b", 0.6, 0.55, 0.65, 25), "medium"),  # disjoint, min n 19
    (cand("a", 0.8, 0.70, 0.90, 10), cand("b", 0.65, 0.55, 0.75, 10), "medium"),  # means outside the other's CI
    (cand("a", 0.8, 0.75, 0.85, 9), cand("b", 0.6, 0.55, 0.65, 9), "low"),  # disjoint but n < 10
    (cand("a", 0.8, 0.60, 0.95, 30), cand("b", 0.7, 0.60, 0.80, 30), "low"),  # overlapping
    (cand("a", 0.8, 0.79, 0.81, 50), None, "low"),  # nothing to separate it from
])
def test_confidence_rule(winner: Candidate, runner_up: Candidate | None, label: str) -> None:
    assert confidence(winner, runner_up) == label


def test_confidence_from_data() -> None:
    far = outs("m/a", 0.9, 24, spread=0.01) + outs("m/b", 0.5, 24, spread=0.01)
    assert recommend(far)[0].confidence == "high"
    close = outs("m/a", 0.71, 24, spread=0.1) + outs("m/b", 0.70, 24, spread=0.1)
    assert recommend(close)[0].confidence == "low"


def test_statistics_are_byte_identical_on_rerun() -> None:
    data = outs("m/a", 0.8, 12, spread=0.07) + outs("m/b", 0.75, 12, spread=0.05)
    first = json.dumps([r.to_dict() for r in recommend(data, run_id="r")])
    assert json.dumps([r.to_dict() for r in recommend(list(reversed(data)), run_id="r")]) == first


def test_latest_items_counts_each_item_once_from_its_latest_scored_run() -> None:
    old = [{**o.to_dict(), "benchmark_run_id": "old"} for o in outs("m/a", 0.5, 6)]
    new = [{"source_session_id": "cases/fix-bug-0", "candidate_model": "m/a", "repeat_index": 0,
            "status": "complete", "combined_score": 0.9, "solved": 1, "intent": "fix-bug"},
           {"source_session_id": "cases/fix-bug-1", "candidate_model": "m/a", "repeat_index": 0,
            "status": "cancelled-over-budget", "combined_score": None, "solved": None, "intent": "fix-bug"}]
    rows = latest_items([("new", new), ("old", old)])
    assert len(rows) == 6
    by_session = {(r.get("source_session_id") or f"{r['source']}/{r['session_id']}"): r for r in rows}
    assert by_session["cases/fix-bug-0"]["benchmark_run_id"] == "new"
    assert by_session["cases/fix-bug-1"]["benchmark_run_id"] == "old"  # the newer run skipped it
    (rec,) = recommend(rows)
    assert rec.evidence_runs == ("new", "old")


def test_from_store_reads_recent_runs_of_the_latest_rubric(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    add_run(store, "v1", outs("m/old", 0.99, 8))
    add_run(store, "a", outs("m/a", 0.7, 3) + outs("m/b", 0.6, 5), rubric_version=2)
    add_run(store, "b", outs("m/a", 0.7, 3, first=3), rubric_version=2)
    recs, info = from_store(store)
    store.close()
    assert info == {"rubric_version": 2, "runs": ["b", "a"]}
    (rec,) = recs
    assert (rec.model, rec.n, rec.runner_up, rec.evidence_runs) == ("m/a", 6, "m/b", ("b", "a"))


def test_intent_for_task() -> None:
    assert intent_for_task("fix-bug") == ("fix-bug", "task_pattern")
    assert intent_for_task("Refactor") == ("refactor", "task_pattern")
    assert intent_for_task("fix the crash when saving", None) == ("fix-bug", "classified")
    assert intent_for_task("anything", "docs") == ("docs", "intent")
    with pytest.raises(ValueError, match="unknown intent 'nope'"):
        intent_for_task("x", "nope")
    with pytest.raises(ValueError, match="task_pattern"):
        intent_for_task("  ")


def test_function_without_history_says_so(tmp_path: Path) -> None:
    answer = pytest_modelbench.recommend_model_for_task("refactor", store=tmp_path / "none.db")
    assert answer["model"] is None and answer["confidence"] == "none"
    assert "no benchmark history at" in answer["reason"] and not (tmp_path / "none.db").exists()


def test_function_over_a_store_matches_recommend_intent(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")
    data = outs("m/a", 0.8, 6) + outs("m/b", 0.6, 6)
    add_run(store, "r1", data)
    store.close()
    answer = pytest_modelbench.recommend_model_for_task("fix the failing test", store=tmp_path / "m.db")
    expected = recommend_intent("fix-bug", data, run_id="r1").to_dict()
    assert {k: answer[k] for k in expected} == expected
    assert answer["intent_from"] == "classified" and answer["history"]["runs"] == ["r1"]


def test_tool_schema_is_the_shipped_json_and_describes_the_function() -> None:
    import inspect
    from importlib import resources

    shipped = json.loads(resources.files("pytest_modelbench.schemas").joinpath("recommend_tool.json").read_text())
    schema = pytest_modelbench.RECOMMEND_TOOL_SCHEMA
    assert schema == shipped and schema["type"] == "function"
    fn = schema["function"]
    assert fn["name"] == pytest_modelbench.recommend_model_for_task.__name__
    params = inspect.signature(pytest_modelbench.recommend_model_for_task).parameters
    assert set(fn["parameters"]["properties"]) <= set(params) and fn["parameters"]["required"] == ["task_pattern"]
    assert set(fn["parameters"]["properties"]["intent"]["enum"]) - {None} == set(
        pytest_modelbench.analysis.recommend.INTENTS)
