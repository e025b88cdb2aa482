"""The leaderboard aggregates: pytest_modelbench.analysis.leaderboard."""

from __future__ import annotations

import math

import pytest

from pytest_modelbench.analysis.leaderboard import intent_rows, invalid_sessions, model_rows, wilson_interval
from pytest_modelbench.records import ComponentScore, Outcome


def textbook_wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n), written out independently."""
    p = k / n
    a = p + z**2 / (2 * n)
    b = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    c = 1 + z**2 / n
    return (a - b) / c, (a + b) / c


@pytest.mark.parametrize("k, n", [(0, 10), (10, 10), (5, 10), (1, 3), (7, 20), (0, 1), (99, 100)])
def test_wilson_matches_the_textbook_formula(k: int, n: int) -> None:
    low, high = wilson_interval(k, n)
    want_low, want_high = textbook_wilson(k, n)
    assert low == pytest.approx(max(0.0, want_low), abs=1e-12)
    assert high == pytest.approx(min(1.0, want_high), abs=1e-12)
    assert 0.0 <= low <= k / n + 1e-12 and k / n - 1e-12 <= high <= 1.0  # float rounding at p̂ = 1


@pytest.mark.parametrize("k, n, low, high", [(0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (5, 10, 0.2366, 0.7634)])
def test_wilson_published_values(k: int, n: int, low: float, high: float) -> None:
    assert wilson_interval(k, n) == pytest.approx((low, high), abs=1e-4)


def test_wilson_empty_and_custom_z() -> None:
    assert wilson_interval(0, 0) is None
    assert wilson_interval(5, 10, z=1.0) == pytest.approx(textbook_wilson(5, 10, z=1.0))


def out(model: str, sid: str, status: str = "complete", solved: bool | None = True, combined: float | None = 0.5,
        intent: str = "fix-bug", cost: float | None = 1.0, reason: str = "", **kw: object) -> Outcome:
    return Outcome(session_id=sid, source="s", model=model, intent=intent, status=status, solved=solved,
                   static_score=combined, llm_score=None, combined_score=combined, cost_usd=cost,
                   duration_seconds=kw.pop("seconds", 2.0), num_turns=kw.pop("turns", 1), skip_reason=reason, **kw)


def test_model_rows_counts_and_ranking() -> None:
    outcomes = [
        out("a", "1", combined=0.9), out("a", "2", solved=False, combined=0.3, cost=3.0),
        out("a", "3", status="skipped", solved=None, combined=None, reason="budget"),
        out("a", "4", status="cancelled-over-budget", solved=None, combined=None),
        out("a", "5", status="failed", solved=None, combined=None),
        out("b", "1", combined=0.8, seconds=4.0, turns=3), out("b", "2", combined=0.8, seconds=10.0, turns=5),
    ]
    rows = model_rows(outcomes, models=["a", "b", "c"])
    assert [(r.rank, r.model) for r in rows] == [(1, "b"), (2, "a"), (3, "c")]
    b, a, c = rows
    assert (a.n, a.solved, a.solve_rate, a.skipped, a.errors) == (2, 1, 0.5, 2, 1)
    assert a.combined == pytest.approx(0.6) and a.total_cost_usd == 4.0 and a.cost_per_solved_usd == 4.0
    assert (b.n, b.solved, b.solve_rate, b.median_seconds, b.mean_turns) == (2, 2, 1.0, 7.0, 4.0)
    assert (b.solve_rate_low, b.solve_rate_high) == pytest.approx(textbook_wilson(2, 2), abs=1e-6)
    assert (c.n, c.solve_rate, c.combined, c.solve_rate_low, c.coverage) == (0, None, None, None, {})


def test_ties_break_on_solve_rate_then_name() -> None:
    outcomes = [out("z", "1", combined=0.5), out("y", "1", combined=0.5, solved=False),
                out("x", "1", combined=0.5, solved=False)]
    assert [r.model for r in model_rows(outcomes)] == ["z", "x", "y"]


def test_unknown_cost_and_coverage() -> None:
    comps = (ComponentScore("tests", 1.0), ComponentScore("llm", None, "no judge"))
    rows = model_rows([out("a", "1", cost=None, components=comps), out("a", "2", components=comps[:1])])
    assert rows[0].total_cost_usd is None and rows[0].cost_per_solved_usd is None
    assert rows[0].coverage == {"llm": 0.0, "tests": 1.0}


def test_intent_rows_only_count_complete() -> None:
    outcomes = [out("a", "1", intent="docs"), out("a", "2", intent="docs", solved=False, combined=0.1),
                out("a", "3", intent="docs", status="failed", solved=None), out("b", "1", intent="docs"),
                out("a", "4", intent="build-new")]
    rows = intent_rows(outcomes)
    assert [(r.intent, r.model, r.n, r.solved, r.solve_rate) for r in rows] == [
        ("build-new", "a", 1, 1, 1.0), ("docs", "a", 2, 1, 0.5), ("docs", "b", 1, 1, 1.0)]
    assert rows[1].combined == pytest.approx(0.3)


def test_invalid_sessions_listed_once_with_reason() -> None:
    outcomes = [out("a", "2", status="skipped", reason="invalid session: gold patch does not apply"),
                out("b", "2", status="skipped", reason="invalid session: gold patch does not apply"),
                out("a", "1", status="skipped", reason="invalid session: no tests"),
                out("a", "3", status="skipped", reason="budget"), out("a", "4")]
    assert invalid_sessions(outcomes) == [
        {"session": "s/1", "reason": "invalid session: no tests"},
        {"session": "s/2", "reason": "invalid session: gold patch does not apply"}]
