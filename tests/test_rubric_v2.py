"""Rubric v2, unit by unit: tests = the change, cost per solved task, "no change", the progress rule, the rank."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_modelbench.analysis.leaderboard import RANK_RULE, model_rows
from pytest_modelbench.records import CheckSpec, ComponentScore, FileSet, GoldSpec, Outcome, Session, TestCounts
from pytest_modelbench.replay.check import run_check
from pytest_modelbench.replay.workspace import copy_workspace, write_fileset
from pytest_modelbench.runners.local import LocalRunner
from pytest_modelbench.scoring.combine import combine, made_progress
from pytest_modelbench.scoring.context import ScoreContext
from pytest_modelbench.scoring.cost import cost_scores
from pytest_modelbench.scoring.rubric import resolve_rubric
from pytest_modelbench.scoring.static import NO_CHANGE, static_components
from pytest_modelbench.scoring.tests import NOTHING_TO_FIX, score_tests

P, F, E, S = "passed", "failed", "error", "skipped"


def run(*cases: tuple[str, str], ok: bool | None = None, **kw: object) -> TestCounts:
    """A check run with these per-test results (what read_junit returns)."""
    n = {s: sum(1 for _, x in cases if x == s) for s in (P, F, E, S)}
    done = ok if ok is not None else n[F] + n[E] == 0
    return TestCounts(n[P], n[F], n[E], n[S], 0 if done else 1, cases=tuple(cases), **kw)  # type: ignore[arg-type]


# A session whose check has two tests failing at the start (t1, t2) and two passing (k1, k2); gold passes all four.
BEFORE = run(("m::t1", F), ("m::t2", F), ("m::k1", P), ("m::k2", P))
GOLD = run(("m::t1", P), ("m::t2", P), ("m::k1", P), ("m::k2", P))


@pytest.mark.parametrize(("after", "value", "delta", "fixed", "broken"), [
    (BEFORE, 0.0, 0.0, 0, 0),  # noop: nothing changed, nothing gained
    (GOLD, 1.0, 1.0, 2, 0),
    (run(("m::t1", P), ("m::t2", F), ("m::k1", P), ("m::k2", P)), 0.5, 0.5, 1, 0),  # half the failing tests fixed
    (run(("m::t1", F), ("m::t2", F), ("m::k1", F), ("m::k2", P)), 0.0, -0.5, 0, 1),  # broke a passing test
    (run(("m::t1", P), ("m::t2", P), ("m::k1", E), ("m::k2", P)), 0.5, 0.5, 2, 1),  # fixed two, broke one
    (run(("m::t1", P), ("m::t2", F), ("m::k1", S), ("m::k2", F)), 0.0, -0.5, 1, 2),  # a skip is not a pass
    # A candidate's own extra test in the check folder is not one of the check's tests.
    (run(("m::t1", F), ("m::t2", F), ("m::k1", P), ("m::k2", P), ("m::mine", P)), 0.0, 0.0, 0, 0),
    # No honest result file (timeout): nothing passes after the replay, every passing test is lost.
    (TestCounts(0, 0, 0, 0, None, timed_out=True, result_file_found=False), 0.0, -1.0, 0, 2),
])
def test_tests_v2_scores_the_change(after: TestCounts, value: float, delta: float, fixed: int, broken: int) -> None:
    component, evidence = score_tests(BEFORE, after, GOLD)
    assert component == ComponentScore("tests", value)
    assert evidence["test_pass_delta"] == pytest.approx(delta)
    assert (evidence["to_fix"], evidence["to_keep"], evidence["fixed"], evidence["broken"]) == (2, 2, fixed, broken)
    assert evidence["solved"] is after.all_passed and evidence["per_test"] is True
    assert "cases" not in evidence["after"]  # counts only: evidence stays small on large suites


def test_tests_v2_counts_tests_the_start_could_not_run_and_ignores_what_gold_skips() -> None:
    # The hidden check imports a module the start lacks: a collection error at the start, four tests in gold.
    before = run(("tests.test_check::", E))
    gold = run(("m::a", P), ("m::b", P), ("m::c", P), ("m::d", P), ("m::slow", S))
    half = run(("m::a", P), ("m::b", P), ("m::c", F), ("m::d", F), ("m::slow", S))
    component, evidence = score_tests(before, half, gold)
    assert component.value == 0.5 and (evidence["to_fix"], evidence["to_keep"]) == (4, 0)
    assert evidence["still_failing"] == ["m::c", "m::d"]


def test_tests_v2_without_a_gold_record_uses_the_tests_either_run_judged() -> None:
    after = run(("m::t1", P), ("m::t2", F), ("m::k1", P), ("m::k2", P))
    component, evidence = score_tests(BEFORE, after)
    assert component.value == 0.5 and evidence["to_fix"] == 2


def test_tests_v2_from_counts_when_tests_have_no_names() -> None:
    # A function check (HumanEval): one test, known by its counts only.
    stub, solved = TestCounts(0, 1, 0, 0, 1), TestCounts(1, 0, 0, 0, 0)
    assert score_tests(stub, solved, solved)[0].value == 1.0
    component, evidence = score_tests(stub, stub, solved)
    assert component.value == 0.0 and evidence["per_test"] is False and evidence["test_pass_delta"] == 0.0


def test_tests_v2_with_nothing_to_fix_is_missing_unless_something_broke() -> None:
    green = run(("m::k", P))
    component, evidence = score_tests(green, green, green)
    assert component == ComponentScore("tests", None, NOTHING_TO_FIX) and evidence["test_pass_delta"] is None
    assert score_tests(green, run(("m::k", F)), green)[0] == ComponentScore("tests", 0.0)


def test_tests_v1_is_still_the_level() -> None:
    half = run(("m::t1", P), ("m::t2", F), ("m::k1", P), ("m::k2", P))
    assert score_tests(BEFORE, BEFORE, GOLD, version=1)[0].value == 0.5  # noop keeps the tests that passed
    assert score_tests(BEFORE, half, GOLD, version=1)[0].value == 0.75


def test_cost_v2_prices_solved_tasks() -> None:
    costs = {"cheap-solver": 0.10, "dear-solver": 0.40, "cheaper-failer": 0.01, "unknown": None,
             "replay/gold": 0.0, "replay/noop": 0.0}
    solved = {"cheap-solver": True, "dear-solver": True, "cheaper-failer": False, "unknown": True,
              "replay/gold": True, "replay/noop": False}
    s = cost_scores(costs, solved)
    assert s["cheap-solver"].value == 1.0 and s["dear-solver"].value == 0.25  # gold's $0 sets no price
    assert s["cheaper-failer"] == ComponentScore("cost", 0.0)  # money spent for nothing
    assert s["unknown"] == ComponentScore("cost", None, "price unknown")  # never $0
    assert s["replay/gold"].value == 1.0 and s["replay/noop"].value == 0.0
    # v1 priced attempts: the cheapest candidate, solved or not.
    v1 = cost_scores(costs, solved, version=1)
    assert v1["cheaper-failer"].value == 1.0 and v1["cheap-solver"].value == pytest.approx(0.1)


def test_cost_v2_free_solver_and_references_alone() -> None:
    s = cost_scores({"local": 0.0, "cloud": 0.2}, {"local": True, "cloud": True})
    assert s["local"].value == 1.0 and s["cloud"].value == 0.0  # $0 solved it: $0.20 buys nothing more
    refs = cost_scores({"replay/gold": 0.0, "replay/noop": 0.0}, {"replay/gold": True, "replay/noop": False})
    assert refs["replay/gold"].value == 1.0 and refs["replay/noop"].value == 0.0


def test_combined_is_zero_without_progress_whatever_else_is_present(tmp_path: Path) -> None:
    v2, v1 = resolve_rubric("default", tmp_path), resolve_rubric("v1", tmp_path)
    measured = {"tests": ComponentScore("tests", 0.0), "lint": ComponentScore("lint", 1.0),
                "llm": ComponentScore("llm", 0.9)}
    assert made_progress(False, {"test_pass_delta": 0.0}) is False
    assert made_progress(False, {"test_pass_delta": -0.5}) is False
    assert made_progress(False, {"test_pass_delta": 0.25}) is True and made_progress(True, None) is True
    assert made_progress(None, {}) is None
    assert combine(v2, measured, False)[1] == 0.0
    assert combine(v2, measured, None)[1] == pytest.approx((0.4 * 0.15 / 0.65 + 0.4 * 0.9) / 0.8, abs=1e-6)
    assert combine(v1, measured, False)[1] == combine(v1, measured)[1] > 0  # v1 has no such rule
    partial = {**measured, "tests": ComponentScore("tests", 0.5), "cost": ComponentScore("cost", 0.0)}
    static = (0.5 * 0.5 + 0.15 * 1.0) / 0.65
    assert combine(v2, partial, True)[1] == pytest.approx((0.4 * static + 0.4 * 0.9 + 0.2 * 0) / 1.0, abs=1e-6)


def test_rubric_names_v2_default_v1_selectable(tmp_path: Path) -> None:
    assert resolve_rubric("default", tmp_path).version == 2
    assert resolve_rubric("tests-only", tmp_path).version == 2
    v1 = resolve_rubric("v1", tmp_path)
    assert (v1.name, v1.version) == ("v1", 1)
    assert v1.weights == resolve_rubric("default", tmp_path).weights  # same weights, other definitions


def _session(tmp: Path) -> tuple[Session, Path]:
    session = Session("s", "cases", "fix-bug", "fix it", FileSet((("calc.py", "def add(a, b):\n    return a - b\n"),)),
                      CheckSpec(paths=("tests",)), GoldSpec())
    pristine = tmp / "pristine"
    write_fileset(session.workspace, pristine)
    return session, pristine


def test_quality_components_of_an_untouched_workspace_are_missing_no_change(tmp_path: Path) -> None:
    session, pristine = _session(tmp_path)
    for rubric_name, expect_missing in (("default", True), ("v1", False)):
        rubric = resolve_rubric(rubric_name, tmp_path)
        context = ScoreContext(session, "replay/noop", rubric, BEFORE, BEFORE, pristine, pristine, pristine,
                               start_all={"calc.py": "def add(a, b):\n    return a - b\n"}, gold_counts=GOLD,
                               touched={"added": [], "modified": [], "deleted": []})
        by_name = {c.name: c for c in static_components(context)}
        assert set(by_name) == {"tests", "lint", "complexity", "types", "coverage"}
        for name in ("lint", "complexity", "types", "coverage"):
            assert (by_name[name].reason == NO_CHANGE) is expect_missing, (rubric_name, name, by_name[name])
            assert by_name[name].value is None  # v1 too: nothing touched, for v1's own reasons
    touched = ScoreContext(session, "m", resolve_rubric("default", tmp_path), BEFORE, BEFORE, pristine, pristine,
                           pristine, touched={"added": ["notes.txt"], "modified": [], "deleted": []})
    assert {c.name: c.reason for c in static_components(touched)}["lint"] == "no Python file touched"


def test_junit_results_name_every_test(tmp_path: Path) -> None:
    """The check's result file gives per-test results (real pytest in the local runner)."""
    check = {
        "tests/test_mixed.py": "import pytest\n\n\ndef test_ok():\n    pass\n\n\ndef test_bad():\n    assert 0\n\n\n"
                               "@pytest.mark.skip\ndef test_skip():\n    pass\n\n\n@pytest.fixture\ndef boom():\n"
                               "    raise RuntimeError\n\n\ndef test_err(boom):\n    pass\n",
    }
    gone = {"tests/test_gone.py": "import not_a_module_anywhere\n\n\ndef test_never():\n    pass\n"}
    session, pristine = _session(tmp_path)

    def check_run(files: dict[str, str], name: str) -> TestCounts:
        with_check = Session(session.id, session.source, session.intent, session.prompt, session.workspace,
                             CheckSpec(paths=("tests",), files=FileSet(tuple(files.items()))), session.gold)
        workspace = copy_workspace(pristine, tmp_path / name)
        return run_check(with_check, workspace, pristine, LocalRunner(), tmp_path).counts

    counts = check_run(check, "ws")
    states = dict(counts.cases)
    assert states == {"tests.test_mixed::test_ok": P, "tests.test_mixed::test_bad": F,
                      "tests.test_mixed::test_skip": S, "tests.test_mixed::test_err": E}
    assert (counts.passed, counts.failed, counts.errors, counts.skipped) == (1, 1, 1, 1)
    # A test module that cannot be imported (a hidden check at the start) stops the run: one failing entry.
    assert check_run(gone, "ws2").cases == (("::tests.test_gone", E),)
    again = TestCounts(**{k: v for k, v in counts.to_dict().items() if k != "total"} | {
        "cases": [list(c) for c in counts.cases]})  # as read back from JSON
    assert again == counts


def o(model: str, sid: str, combined: float, solved: bool, delta: float | None) -> Outcome:
    return Outcome(session_id=sid, source="s", model=model, intent="fix-bug", status="complete", solved=solved,
                   static_score=None, llm_score=None, combined_score=combined, cost_usd=0.0, duration_seconds=1.0,
                   num_turns=1, evidence={"tests": {"test_pass_delta": delta}})


def test_a_replay_that_breaks_tests_ranks_below_one_that_does_nothing() -> None:
    rows = model_rows([o("a-breaker", "1", 0.0, False, -0.5), o("b-noop", "1", 0.0, False, 0.0),
                       o("c-half", "1", 0.4, False, 0.5)])
    assert [r.model for r in rows] == ["c-half", "b-noop", "a-breaker"]
    assert rows[2].tests_change == -0.5
    assert "rank:" in RANK_RULE and "$/solved" in RANK_RULE


def test_the_html_report_says_what_rank_means() -> None:
    from pytest_modelbench.report.html import render_html

    rows = [r.to_dict() for r in model_rows([o("m", "1", 1.0, True, 1.0)])]
    page = render_html({"run": {"id": "bench_x", "config": {}}, "outcomes": [], "sessions": [], "candidates": [],
                        "aggregates": {"per_model": rows}})
    assert "rank: by mean combined score" in page and "$/solved" in page
