"""The gate under noise (issue 19): models of fixed quality whose answers are random from run to run must not fail
it, a real drop must. Seeded generators, so every count here is deterministic; pure analysis/, no pytest run."""

from __future__ import annotations

import random
from typing import Any

import pytest

from pytest_modelbench.analysis.gate import trend_panel, trend_regressions
from pytest_modelbench.analysis.regression import (
    ALPHA_PAIRED,
    PairedRow,
    compare_runs,
    paired_rows,
    regressions_of,
    trend,
    trend_rows,
)

QUALITIES = {"m/half": 0.5, "m/seventy": 0.7, "m/eighty": 0.8}


def flaky_run(rng: random.Random, qualities: dict[str, float], sessions: int = 30,
              repeats: int = 1) -> list[dict[str, Any]]:
    """One run as store rows: each answer right with the model's probability, drawn afresh (the loopback model of
    issue 19); the combined score is the solved bit plus a fixed static part per session."""
    rows = []
    for model, q in sorted(qualities.items()):
        for s in range(sessions):
            for r in range(repeats):
                solved = rng.random() < q
                rows.append({"source_session_id": f"cases/s{s:03d}", "candidate_model": model, "repeat_index": r,
                             "status": "complete", "solved": int(solved),
                             "combined_score": round(0.7 * solved + 0.3 * (0.5 + (s % 5) / 10), 4)})
    return rows


# -- the paired gate ----------------------------------------------------------------------------------------------


def test_three_flaky_unchanged_models_rarely_fail_the_paired_gate() -> None:
    # The experiment, 100 times over: 3 models x 2 metrics compared with the previous run at 30 sessions.
    # Before the Holm correction (and with a 5% test per model and metric) this failed about one run in five.
    rng = random.Random(19)
    runs = [flaky_run(rng, QUALITIES) for _ in range(101)]
    failed = [i for i in range(1, 101) if compare_runs(runs[i - 1], runs[i], seed=i)]
    assert len(failed) <= 5, f"{len(failed)} of 100 unchanged runs failed the paired gate: {failed}"


def test_uncorrected_tests_would_have_cried_wolf_on_the_same_runs() -> None:
    # The same runs judged one test at a time at 5% (alpha=0.05 with a family of one, i.e. the old rule): the
    # correction is what keeps the rate down, so the previous test can fail.
    rng = random.Random(19)
    runs = [flaky_run(rng, QUALITIES) for _ in range(101)]
    naive = 0
    for i in range(1, 101):
        rows = paired_rows(runs[i - 1], runs[i])
        naive += any(r.delta is not None and r.delta < 0 and min(r.p_combined_drop, r.p_solve_drop) < 0.05
                     for r in rows)
    assert naive > 5


def test_a_real_drop_from_0_8_to_0_3_fails_the_paired_gate() -> None:
    rng = random.Random(3)
    caught = 0
    for i in range(20):
        before = flaky_run(rng, QUALITIES)
        after = flaky_run(rng, {**QUALITIES, "m/eighty": 0.3})
        found = compare_runs(before, after, seed=i)
        assert {r.model for r in found} <= {"m/eighty"}, found
        caught += bool(found)
    assert caught >= 18  # the power of a 50-point drop at 30 sessions among 6 tests is about 98%


def row(model: str, p_combined: float, p_solve: float, delta: float = -0.2) -> PairedRow:
    return PairedRow(model=model, pairs=30, baseline=0.8, current=0.8 + delta, delta=delta, ci=(delta - 0.1, -0.01),
                     solved_pairs=30, baseline_solve_rate=0.8, current_solve_rate=0.8 + delta, losses=9, gains=3,
                     p=2 * p_solve, p_combined_drop=p_combined, p_solve_drop=p_solve)


def test_holm_over_every_model_and_metric() -> None:
    # p = 0.015 passes alone (2 tests: 0.015 * 2 < 0.04) but not among 5 models (10 tests: 0.015 * 10 > 0.04).
    alone = regressions_of([row("m/a", 0.015, 0.5)])
    assert [(r.model, r.metric) for r in alone] == [("m/a", "combined")]
    assert alone[0].evidence["p_holm"] == pytest.approx(0.03) and alone[0].evidence["tests"] == 2
    crowd = [row("m/a", 0.015, 0.5)] + [row(f"m/{i}", 0.6, 0.6, delta=0.0) for i in range(4)]
    assert regressions_of(crowd) == []
    # A strong signal survives the crowd, and Holm's step-down then tests the next one at alpha/(m-1).
    strong = [row("m/a", 0.001, 0.5), row("m/b", 0.004, 0.5)] + [row(f"m/{i}", 0.6, 0.6, 0.0) for i in range(3)]
    assert [r.model for r in regressions_of(strong)] == ["m/a", "m/b"]
    assert ALPHA_PAIRED <= 0.05


def test_solve_rate_tolerance() -> None:
    # 200 pairs, 8 lost and none gained: a 4-point drop, certain (p = 2^-8) but within the default 5-point tolerance.
    base = [{"source_session_id": f"s{i}", "candidate_model": "m/a", "repeat_index": 0, "status": "complete",
             "solved": 1, "combined_score": 0.9} for i in range(200)]
    cur = [{**b, "solved": int(i >= 8)} for i, b in enumerate(base)]
    assert compare_runs(base, cur) == []
    (r,) = compare_runs(base, cur, solve_tolerance=0.02)
    assert (r.metric, r.delta, r.evidence["solve_tolerance"]) == ("solve_rate", -0.04, 0.02)
    assert r.evidence["p_one_sided"] == pytest.approx(2 ** -8)


def test_more_repeats_catch_a_drop_that_one_run_misses() -> None:
    # A 15-point drop of a flaky 0.8 model at 30 sessions: usually missed with one repeat, caught with five.
    rng = random.Random(5)
    one = five = 0
    for i in range(20):
        one += bool(compare_runs(flaky_run(rng, {"m/a": 0.8}), flaky_run(rng, {"m/a": 0.65}), seed=i))
        five += bool(compare_runs(flaky_run(rng, {"m/a": 0.8}, repeats=5), flaky_run(rng, {"m/a": 0.65}, repeats=5),
                                  seed=i))
    assert one <= 10 and five >= 16, (one, five)


# -- the trend gate -----------------------------------------------------------------------------------------------


def test_twelve_noisy_runs_of_three_unchanged_models_never_fail_the_trend() -> None:
    # The 12 runs on 30 items, judged at every run from the 2nd on with a window of 10; the plain slope of
    # the run means is often below -0.5 points per run, the per-session evidence is not there.
    for seed in range(5):
        rng = random.Random(seed)
        runs = [flaky_run(rng, QUALITIES) for _ in range(12)]
        steep = 0
        for i in range(1, 12):
            history = runs[max(0, i - 9):i]
            found, _ = trend_regressions(history, runs[i], 10, -0.5)
            assert found == [], (seed, i, [r.describe() for r in found])
            panel, _ = trend_panel([*history, runs[i]])
            steep += sum(1 for r in trend_rows(panel) if r.slope_pp is not None and r.slope_pp < -0.5)
        assert steep > 0  # what the old gate failed on


def test_a_real_drop_fails_the_trend_gate() -> None:
    # Six runs at 0.8, then 0.3 for three runs: the per-session slopes are all pulled down.
    rng = random.Random(8)
    runs = [flaky_run(rng, {"m/a": 0.8}) for _ in range(6)] + [flaky_run(rng, {"m/a": 0.3}) for _ in range(3)]
    found, _ = trend_regressions(runs[:-1], runs[-1], 10, -0.5)
    (r,) = found
    assert r.metric == "combined_trend" and r.evidence["sessions"] == 30 and r.evidence["runs"] == 9
    assert r.evidence["upper_pp_per_run"] < 0 and r.evidence["p_holm"] < 0.01
    assert r.evidence["session_slope_pp_per_run"] == pytest.approx(r.evidence["slope_pp_per_run"])


def test_a_slow_decline_over_sessions_is_caught_and_flat_noise_is_not() -> None:
    # -2 points per run over 10 runs of 100 flaky sessions, next to an unchanged model.
    rng = random.Random(11)
    runs = [flaky_run(rng, {"m/falling": 0.8 - 0.02 * i, "m/flat": 0.7}, sessions=100) for i in range(10)]
    found, _ = trend_regressions(runs[:-1], runs[-1], 10, -0.5)
    assert [r.model for r in found] == ["m/falling"]


def test_trend_needs_four_runs_and_two_sessions() -> None:
    falling = {f"s{i}": [0.9, 0.6, 0.3] for i in range(5)}
    assert trend({"m/a": falling}) == []  # 3 runs: (last - first) / 2 is a comparison of two runs
    assert len(trend({"m/a": {k: [1.0, *v] for k, v in falling.items()}})) == 1
    assert trend({"m/a": {"s0": [0.9, 0.7, 0.5, 0.3]}}) == []  # one session is no evidence across sessions
