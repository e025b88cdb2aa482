"""The gate over a real store: baseline resolution and the trend over the store's history (no pytest run)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pytest_modelbench.analysis.gate import GateError, evaluate, resolve_baseline
from pytest_modelbench.records import Outcome
from pytest_modelbench.store.sqlite import Store


def outcomes(mean: float, model: str = "m/a", n: int = 5, status: str = "complete") -> list[Outcome]:
    return [Outcome(session_id=f"s{i}", source="cases", model=model, intent="fix-bug", status=status,  # type: ignore[arg-type]
                    solved=True if status == "complete" else None, static_score=None, llm_score=None,
                    combined_score=round(mean + (i - n // 2) * 0.01, 6) if status == "complete" else None,
                    cost_usd=0.0, duration_seconds=1.0, num_turns=1) for i in range(n)]


def add_run(store: Store, run_id: str, outs: list[Outcome], *, name: str | None = None, rubric_version: int = 1,
            status: str = "complete") -> None:
    store.create_run(run_id, name, rubric_version, sorted({o.model for o in outs}),
                     sorted({o.session_key for o in outs}), {})
    for o in outs:
        store.write_outcome(run_id, o)
    store.finish_run(run_id, status, 0.0, sorted({o.session_key for o in outs}))
    time.sleep(0.002)  # runs are ordered by creation time


def gate(store: Store, current: list[Outcome], **kw: object):
    args: dict = dict(baseline=None, baseline_spec=None, tolerance=0.05, force=False, seed=0, trend_window=10,
                      trend_threshold=-0.5)
    args.update(kw)
    return evaluate(store, "current", current, 1, None, **args)


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "m.db")
    yield s
    s.close()


def test_trend_of_minus_1_8_points_per_run_over_8_runs_fails(store: Store) -> None:
    for i in range(7):
        add_run(store, f"r{i}", outcomes(0.80 - 0.018 * i) + outcomes(0.6, model="m/flat"))
    result = gate(store, outcomes(0.80 - 0.018 * 7) + outcomes(0.6, model="m/flat"))
    (r,) = result.regressions
    assert r.model == "m/a" and r.metric == "combined_trend"
    assert r.evidence["slope_pp_per_run"] == pytest.approx(-1.8) and r.evidence["runs"] == 8


def test_trend_ignores_failed_runs_other_rubrics_and_needs_four_runs(store: Store) -> None:
    add_run(store, "old", outcomes(0.9))
    add_run(store, "crashed", outcomes(0.9), status="failed")
    add_run(store, "v2", outcomes(0.9), rubric_version=2)
    assert gate(store, outcomes(0.5)).regressions == ()  # two comparable runs: never fails
    add_run(store, "mid", outcomes(0.8))
    assert gate(store, outcomes(0.5)).regressions == ()  # three: a comparison of the first and last, not a trend
    add_run(store, "late", outcomes(0.7))
    assert [r.metric for r in gate(store, outcomes(0.5)).regressions] == ["combined_trend"]


def test_budget_skipped_run_never_fails_the_trend(store: Store) -> None:
    for i in range(4):
        add_run(store, f"r{i}", outcomes(0.8))
    assert gate(store, outcomes(0.8, status="cancelled-over-budget")).regressions == ()


def test_resolve_baseline_latest_name_id_and_unknown(store: Store, tmp_path: Path) -> None:
    assert resolve_baseline(store, "latest", 1, tmp_path) is None
    add_run(store, "a", outcomes(0.8), name="nightly")
    add_run(store, "b", outcomes(0.8))
    add_run(store, "c", outcomes(0.8), rubric_version=2)
    add_run(store, "d", outcomes(0.8), status="failed")
    assert resolve_baseline(store, "latest", 1, tmp_path).run_id == "b"  # type: ignore[union-attr]
    assert resolve_baseline(store, "nightly", 1, tmp_path).run_id == "a"  # type: ignore[union-attr]
    assert resolve_baseline(store, "c", 1, tmp_path).rubric_version == 2  # type: ignore[union-attr]
    with pytest.raises(GateError, match="--modelbench-baseline weekly: no complete run"):
        resolve_baseline(store, "weekly", 1, tmp_path)
    with pytest.raises(GateError, match="not a readable modelbench JSON artifact"):
        resolve_baseline(store, "missing.json", 1, tmp_path)


def test_baseline_gate_names_the_model_and_records_the_baseline_run(store: Store, tmp_path: Path) -> None:
    add_run(store, "base", outcomes(0.8, n=30) + outcomes(0.8, model="m/b", n=30))
    baseline = resolve_baseline(store, "latest", 1, tmp_path)
    result = gate(store, outcomes(0.7, n=30) + outcomes(0.79, model="m/b", n=30), baseline=baseline,
                  baseline_spec="latest", trend_window=2)
    (r,) = result.regressions
    assert (r.model, r.metric, r.evidence["baseline_run"]) == ("m/a", "combined", "base")
    assert r.delta == pytest.approx(-0.1)


def test_rubric_mismatch_warns_and_skips_unless_forced(store: Store, tmp_path: Path) -> None:
    add_run(store, "base", outcomes(0.8, n=30), rubric_version=2)
    baseline = resolve_baseline(store, "base", 1, tmp_path)
    skipped = gate(store, outcomes(0.5, n=30), baseline=baseline, baseline_spec="base")
    assert skipped.regressions == () and "no regression gate" in skipped.warnings[0]
    forced = gate(store, outcomes(0.5, n=30), baseline=baseline, baseline_spec="base", force=True)
    assert [r.metric for r in forced.regressions] == ["combined"]


def test_trend_over_changed_session_sets_uses_the_shared_sessions(store: Store) -> None:
    # Full runs at 0.8 where s0 scores low; then a -k run of s0 alone must not look like a drop.
    for i in range(3):
        add_run(store, f"r{i}", outcomes(0.8))
    subset = [o for o in outcomes(0.8) if o.session_id == "s0"]
    result = gate(store, subset)
    assert result.regressions == ()
    assert "slopes use the 1 session(s) they all share" in result.warnings[0]
    disjoint = [o for o in outcomes(0.1, n=8) if o.session_id == "s7"]
    assert "share no session" in gate(store, disjoint).warnings[0]


def test_runs_that_scored_nothing_are_neither_baseline_nor_trend_points(store: Store, tmp_path: Path) -> None:
    add_run(store, "full", outcomes(0.8))
    add_run(store, "collect-only", [])
    assert resolve_baseline(store, "latest", 1, tmp_path).run_id == "full"  # type: ignore[union-attr]
    add_run(store, "full2", outcomes(0.6))
    add_run(store, "collect-only2", [])
    add_run(store, "full3", outcomes(0.5))
    result = gate(store, outcomes(0.4))
    assert [r.evidence["runs"] for r in result.regressions] == [4] and result.warnings == ()
    assert gate(store, []) == gate(store, []).__class__()


def test_a_resumed_run_is_never_its_own_baseline(store: Store, tmp_path: Path) -> None:
    add_run(store, "a", outcomes(0.8), name="nightly")
    add_run(store, "b", outcomes(0.7), name="nightly")
    # Resuming "b" (say, after a crash at its very end): latest and its name point past it, to "a".
    assert resolve_baseline(store, "latest", 1, tmp_path).run_id == "b"  # type: ignore[union-attr]
    assert resolve_baseline(store, "latest", 1, tmp_path, exclude="b").run_id == "a"  # type: ignore[union-attr]
    assert resolve_baseline(store, "nightly", 1, tmp_path, exclude="b").run_id == "a"  # type: ignore[union-attr]
    with pytest.raises(GateError, match="--modelbench-baseline b: that is the run being resumed"):
        resolve_baseline(store, "b", 1, tmp_path, exclude="b")
