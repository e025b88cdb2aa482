"""The regression and trend gates over histories with known numbers (pure, no pytest run)."""

from __future__ import annotations

import json
import random

import pytest

from pytest_modelbench.analysis.regression import compare_runs, mean_combined, trend, trend_rows
from pytest_modelbench.records import Outcome


def outcome(i: int, model: str, combined: float | None, solved: bool | None, status: str = "complete",
            repeat: int = 0) -> Outcome:
    return Outcome(session_id=f"s{i:02d}", source="cases", model=model, intent="fix-bug", status=status,  # type: ignore[arg-type]
                   solved=solved, static_score=None, llm_score=None, combined_score=combined, cost_usd=0.0,
                   duration_seconds=1.0, num_turns=1, repeat_index=repeat)


def history(drop: float, noise: float = 0.02, n: int = 30, seed: int = 11,
            model: str = "m/a") -> tuple[list[Outcome], list[Outcome]]:
    """Baseline scores spread over items; the current run is the baseline minus ``drop``, plus noise."""
    rng = random.Random(seed)
    base, cur = [], []
    for i in range(n):
        b = rng.uniform(0.4, 0.9)
        c = min(1.0, max(0.0, b - drop + rng.gauss(0, noise)))
        base.append(outcome(i, model, round(b, 4), True))
        cur.append(outcome(i, model, round(c, 4), True))
    return base, cur


def test_ten_point_drop_over_30_pairs_fails_and_names_the_model() -> None:
    base, cur = history(drop=0.10)
    steady_base, steady_cur = history(drop=0.0, seed=3, model="m/steady")
    found = compare_runs(base + steady_base, cur + steady_cur, tolerance=0.05, seed=0)
    assert [(r.model, r.metric) for r in found] == [("m/a", "combined")]
    r = found[0]
    assert r.delta == pytest.approx(-0.10, abs=0.02)
    assert r.evidence["pairs"] == 30 and r.evidence["ci"][1] < 0
    assert "m/a" in r.describe() and "combined" in r.describe()


@pytest.mark.parametrize("seed", range(5))
def test_two_point_drop_passes(seed: int) -> None:
    base, cur = history(drop=0.02, seed=seed)
    assert compare_runs(base, cur, tolerance=0.05) == []


@pytest.mark.parametrize("seed", range(5))
def test_unchanged_scores_with_noise_pass(seed: int) -> None:
    base, cur = history(drop=0.0, noise=0.05, seed=seed)
    assert compare_runs(base, cur, tolerance=0.05, seed=seed) == []


def test_large_drop_without_a_significant_interval_passes() -> None:
    # Two pairs: a big mean drop, but the paired interval does not exclude 0.
    base = [outcome(0, "m/a", 0.9, True), outcome(1, "m/a", 0.5, True)]
    cur = [outcome(0, "m/a", 0.3, True), outcome(1, "m/a", 0.6, True)]
    assert compare_runs(base, cur) == []


def test_solved_rate_drop_is_a_mcnemar_regression() -> None:
    base = [outcome(i, "m/a", 0.6, True) for i in range(20)]
    cur = [outcome(i, "m/a", 0.6, i >= 8) for i in range(20)]  # 8 lost, 0 gained, combined unchanged
    (r,) = compare_runs(base, cur)
    assert (r.metric, r.baseline, r.current, r.delta) == ("solve_rate", 1.0, 0.6, -0.4)
    # Two-sided p for the table; the one-sided p (2^-8) Holm-adjusted over 2 tests (combined and solve rate).
    assert r.evidence == {"pairs": 20, "losses": 8, "gains": 0, "p": 0.0078125, "solve_tolerance": 0.05,
                          "p_one_sided": 0.00390625, "p_holm": 0.0078125, "tests": 2, "alpha": 0.04}
    few = [outcome(i, "m/a", 0.6, i >= 2) for i in range(20)]  # 2 lost: p = 0.5
    assert compare_runs(base, few) == []


def test_budget_skipped_and_errored_items_never_cause_a_failure() -> None:
    base, cur = history(drop=0.0, noise=0.01)
    cur = [outcome(int(o.session_id[1:]), o.model, None, None,
                   status="cancelled-over-budget" if i % 2 else "failed") if i < 20 else o
           for i, o in enumerate(cur)]
    assert compare_runs(base, cur) == []
    # All of the current run skipped for budget: nothing is paired, nothing fails.
    skipped = [outcome(i, "m/a", None, None, status="cancelled-over-budget") for i in range(30)]
    assert compare_runs(base, skipped) == []


def test_pairing_uses_session_model_and_repeat_index() -> None:
    base = [outcome(i, "m/a", 0.9, True, repeat=0) for i in range(10)]
    cur = [outcome(i, "m/a", 0.1, False, repeat=1) for i in range(10)]
    assert compare_runs(base, cur) == []  # different repeat index: no pairs


def test_store_rows_and_artifact_dicts_pair_like_outcomes() -> None:
    base, cur = history(drop=0.10)
    rows = [{"source_session_id": o.session_key, "candidate_model": o.model, "repeat_index": 0, "status": o.status,
             "combined_score": o.combined_score, "solved": 1} for o in base]
    dicts = [o.to_dict() for o in cur]
    assert compare_runs(rows, dicts) == compare_runs(base, cur)


def test_statistics_are_byte_identical_on_rerun() -> None:
    base, cur = history(drop=0.10)
    first = json.dumps([r.to_dict() for r in compare_runs(base, cur, seed=4)], sort_keys=True)
    second = json.dumps([r.to_dict() for r in compare_runs(list(base), list(cur), seed=4)], sort_keys=True)
    assert first == second


def test_mean_combined_per_model() -> None:
    outs = [outcome(0, "m/a", 0.5, True), outcome(1, "m/a", 0.7, True), outcome(2, "m/a", None, None, "failed"),
            outcome(0, "m/b", 0.2, False)]
    assert mean_combined(outs) == {"m/a": 0.6, "m/b": 0.2}


def panel_of(series: list[float], sessions: int = 5) -> dict[str, list[float | None]]:
    """Sessions spread around a run-mean series by a fixed offset each (so every session has the series' slope)."""
    return {f"s{i}": [round(v + (i - sessions // 2) * 0.01, 6) for v in series] for i in range(sessions)}


def test_trend_of_minus_1_8_points_per_run_over_8_runs_fails() -> None:
    falling = [round(0.80 - 0.018 * i, 6) for i in range(8)]
    (r,) = trend({"m/a": panel_of(falling), "m/flat": panel_of([0.7] * 8)}, window=10, threshold=-0.5)
    assert r.model == "m/a" and r.metric == "combined_trend"
    assert r.evidence["slope_pp_per_run"] == pytest.approx(-1.8)
    assert r.evidence["runs"] == 8 and r.evidence["sessions"] == 5


def test_flat_and_noisy_flat_series_pass() -> None:
    rng = random.Random(2)
    assert trend({"m/a": panel_of([0.7] * 8)}) == []
    noisy = {f"s{i}": [0.7 + rng.uniform(-0.2, 0.2) for _ in range(10)] for i in range(30)}
    assert trend({"m/a": noisy}) == []


def test_fewer_than_four_runs_never_fail() -> None:
    assert trend({"m/a": panel_of([0.9, 0.1])}) == []
    assert trend({"m/a": panel_of([0.9, 0.5, 0.1])}) == []
    assert len(trend({"m/a": panel_of([0.9, 0.7, 0.5, 0.1])})) == 1


def test_trend_uses_only_the_window() -> None:
    series = [0.9, 0.5, 0.1] + [0.5] * 5  # an old collapse, flat over the last 5 runs
    assert trend({"m/a": panel_of(series)}, window=5) == []
    assert len(trend({"m/a": panel_of(series)}, window=8)) == 1


def test_a_steep_plain_slope_without_evidence_over_sessions_passes() -> None:
    # Run means fall 2 points per run, but only because one of 20 sessions collapsed: the others are flat, so the
    # mean per-session slope is not significantly below 0 and the plain slope stays information.
    sessions: dict[str, list[float | None]] = {f"s{i}": [0.7] * 6 for i in range(19)}
    sessions["s19"] = [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
    assert trend({"m/a": sessions}) == []
    (row,) = trend_rows({"m/a": sessions})
    assert row.slope_pp == pytest.approx(-1.0) and row.session_slope_pp == pytest.approx(-1.0)
    assert row.p_decline > 0.01
