"""The leaderboard's verdict columns: bootstrap interval of the mean combined, $ per solved, pass@k, repeat spread."""

from __future__ import annotations

import json
import math
import statistics

import pytest

from pytest_modelbench.analysis.leaderboard import model_rows
from pytest_modelbench.analysis.stats import bootstrap_mean_ci, pass_at_k
from pytest_modelbench.records import Outcome


def o(session: str, model: str, combined: float | None, solved: bool | None, repeat: int = 0,
      status: str = "complete", cost: float | None = 0.01) -> Outcome:
    return Outcome(session_id=session, source="cases", model=model, intent="fix-bug", status=status,  # type: ignore[arg-type]
                   solved=solved, static_score=None, llm_score=None, combined_score=combined, cost_usd=cost,
                   duration_seconds=1.0, num_turns=1, repeat_index=repeat)


def brute_pass_at_k(n: int, c: int, k: int) -> float:
    """Share of all k-subsets of the n attempts that contain at least one solved attempt."""
    from itertools import combinations

    attempts = [True] * c + [False] * (n - c)
    subsets = list(combinations(range(n), k))
    return sum(1 for s in subsets if any(attempts[i] for i in s)) / len(subsets)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 0, 1), (5, 1, 1), (5, 2, 3), (4, 4, 2), (6, 3, 6), (3, 1, 2)])
def test_pass_at_k_is_the_unbiased_estimator(n: int, c: int, k: int) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k))


def test_pass_at_k_rejects_k_outside_1_n() -> None:
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 0)


def test_combined_interval_is_the_seeded_bootstrap_of_scored_outcomes() -> None:
    values = [0.2, 0.4, 0.5, 0.9, 0.7, 0.65]
    outs = [o(f"s{i}", "m/a", v, v > 0.5) for i, v in enumerate(values)]
    outs.append(o("s9", "m/a", None, None, status="cancelled-over-budget", cost=None))
    (row,) = model_rows(outs)
    assert (row.combined_low, row.combined_high) == bootstrap_mean_ci(sorted(values), seed=0)
    assert row.combined_low < statistics.fmean(values) < row.combined_high
    # $ per solved: total over scored replays / solved (3 solved: 0.9, 0.7, 0.65).
    assert row.cost_per_solved_usd == pytest.approx(0.06 / 3)
    again = model_rows(list(reversed(outs)))
    assert json.dumps(again[0].to_dict()) == json.dumps(row.to_dict())


def test_single_attempt_runs_report_pass_at_1_and_no_spread() -> None:
    (row,) = model_rows([o("s1", "m/a", 1.0, True), o("s2", "m/a", 0.0, False)])
    assert row.repeats == 1 and row.pass_at_k == {"1": 0.5}
    assert row.spread_sd is None and row.spread_range is None


def test_repeats_give_pass_at_k_and_the_spread_across_repeats() -> None:
    # s1: solved 1 of 3; s2: solved 3 of 3; s3: 0 of 3.
    outs = [o("s1", "m/a", v, s, r) for r, (v, s) in enumerate([(0.9, True), (0.3, False), (0.4, False)])]
    outs += [o("s2", "m/a", 0.8, True, r) for r in range(3)]
    outs += [o("s3", "m/a", v, False, r) for r, v in enumerate([0.1, 0.2, 0.1])]
    (row,) = model_rows(outs)
    assert row.repeats == 3
    assert row.pass_at_k["1"] == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert row.pass_at_k["2"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert row.pass_at_k["3"] == pytest.approx((1 + 1 + 0) / 3)
    assert row.pass_at_k["1"] == pytest.approx(row.solve_rate)
    sds = [statistics.pstdev([0.9, 0.3, 0.4]), 0.0, statistics.pstdev([0.1, 0.2, 0.1])]
    assert row.spread_sd == pytest.approx(statistics.fmean(sds), abs=1e-6)
    assert row.spread_range == pytest.approx(0.6)


def test_pass_at_k_uses_only_sessions_with_at_least_k_scored_attempts() -> None:
    outs = [o("s1", "m/a", 1.0, True, 0), o("s1", "m/a", 0.0, False, 1),
            o("s2", "m/a", 0.0, False, 0), o("s2", "m/a", None, None, 1, status="failed", cost=None)]
    (row,) = model_rows(outs)
    assert row.pass_at_k == {"1": pytest.approx((0.5 + 0.0) / 2), "2": 1.0}
    assert math.isclose(row.spread_range or 0, 1.0)
