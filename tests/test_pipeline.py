"""The item pipeline without pytest's plugin: one demo session through ``replay.pipeline.run_item``, the unscored
Outcome constructor, and the plan's errors as plain UserErrors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_modelbench.errors import UserError
from pytest_modelbench.records import ComponentScore, Outcome, Session
from pytest_modelbench.replay import ReplayResult, SessionCache
from pytest_modelbench.replay.check import Checker
from pytest_modelbench.replay.pipeline import ItemContext, run_item
from pytest_modelbench.replay.reference import replay_reference
from pytest_modelbench.runners import make_runner
from pytest_modelbench.sampling.plan import PlanError, PlanRequest, build_plan
from pytest_modelbench.sampling.sample import stratified_sample
from pytest_modelbench.scoring.context import ScoreContext
from pytest_modelbench.scoring.rubric import resolve_rubric
from pytest_modelbench.scoring.tests import score_tests
from pytest_modelbench.sources import SourceError
from pytest_modelbench.sources.demo import DemoSource

SESSION_ID = "fix-bug-slugify-unicode"


@pytest.fixture(scope="module")
def demo_session() -> Session:
    (session,) = [s for s in DemoSource().sessions() if s.id == SESSION_ID]
    return session


def _score_tests_only(context: ScoreContext) -> list[list[ComponentScore]]:
    component, evidence = score_tests(context.before, context.after)
    context.evidence["tests"] = evidence
    return [[component]]


@pytest.fixture
def item_context(tmp_path: Path) -> Iterator[ItemContext]:
    runner, _ = make_runner("local")
    (tmp_path / "scratch").mkdir()
    checker = Checker(runner, tmp_path / "scratch")
    replays: list[str] = []

    def replay(session: Session, model: str, workspace: Path, repeat_index: int) -> ReplayResult | None:
        replays.append(model)
        return replay_reference(model, session, workspace)

    try:
        yield ItemContext(runner=runner, checker=checker, cache=SessionCache(tmp_path / "sessions"),
                          rubric=resolve_rubric("tests-only", tmp_path), replay=replay, score=_score_tests_only)
    finally:
        checker.close()


def test_gold_solves_and_noop_does_not_without_pytest_plugin(demo_session: Session,
                                                             item_context: ItemContext) -> None:
    gold = run_item(demo_session, "replay/gold", 0, item_context)
    noop = run_item(demo_session, "replay/noop", 1, item_context)
    assert (gold.status, gold.solved, gold.combined_score) == ("complete", True, 1.0)
    assert gold.evidence["tests"]["after"]["passed"] == gold.evidence["tests"]["after"]["total"] > 0
    assert gold.evidence["runner"] == "local"
    assert (noop.status, noop.solved, noop.repeat_index) == ("complete", False, 1)
    assert noop.combined_score is not None and noop.combined_score < 1.0
    assert noop.evidence["touched"] == {"added": [], "modified": [], "deleted": []}
    assert gold.evidence["touched"]["modified"] and gold.evidence["diff"]
    assert (gold.session_key, noop.model) == (demo_session.key, "replay/noop")


def test_a_replay_that_does_not_complete_is_unscored_with_its_reason(demo_session: Session,
                                                                      item_context: ItemContext) -> None:
    def refuse(session: Session, model: str, workspace: Path, repeat_index: int) -> ReplayResult:
        return ReplayResult(turns=2, cost_usd=0.25, evidence={"calls": 2}, status="cancelled-over-budget",
                            reason="the budget cap was reached")

    def never(context: ScoreContext) -> list[list[ComponentScore]]:
        raise AssertionError("an unscored replay must not be scored")

    context = ItemContext(runner=item_context.runner, checker=item_context.checker, cache=item_context.cache,
                          rubric=item_context.rubric, replay=refuse, score=never)
    outcome = run_item(demo_session, "openai/any", 0, context)
    assert (outcome.status, outcome.skip_reason, outcome.cost_usd, outcome.num_turns) == (
        "cancelled-over-budget", "the budget cap was reached", 0.25, 2)
    assert outcome.combined_score is None and outcome.solved is None and outcome.components == ()
    assert outcome.evidence == {"replay": {"calls": 2}}


def test_a_model_no_replay_handles_is_a_harness_error(demo_session: Session, item_context: ItemContext) -> None:
    context = ItemContext(runner=item_context.runner, checker=item_context.checker, cache=item_context.cache,
                          rubric=item_context.rubric, replay=lambda *_: None, score=_score_tests_only)
    with pytest.raises(RuntimeError, match="no pytest_modelbench_replay implementation handles model 'x/y'"):
        run_item(demo_session, "x/y", 0, context)


def test_outcome_unscored_records_no_score_and_its_reason(demo_session: Session) -> None:
    outcome = Outcome.unscored(demo_session, "m", "skipped", repeat_index=2, reason="invalid session: gold fails",
                               evidence={"gold": {"passed": 0}}, duration_seconds=1.5)
    assert (outcome.session_id, outcome.source, outcome.intent) == (demo_session.id, "demo", demo_session.intent)
    assert (outcome.status, outcome.repeat_index, outcome.skip_reason) == ("skipped", 2, "invalid session: gold fails")
    assert [outcome.solved, outcome.static_score, outcome.llm_score, outcome.combined_score, outcome.cost_usd] == [
        None] * 5
    assert (outcome.duration_seconds, outcome.num_turns, outcome.components) == (1.5, 0, ())
    assert Outcome.from_dict(outcome.to_dict()) == outcome
    evidence = {"error": "boom"}
    failed = Outcome.unscored(demo_session, "m", "failed", evidence=evidence)
    evidence["error"] = "changed"
    assert failed.evidence == {"error": "boom"} and failed.skip_reason == ""  # the caller's dict is copied


def _request(*specs: str) -> PlanRequest:
    return PlanRequest(specs=specs)


def _sample(source: object, sessions: list[Session], size: int | None, seed: int) -> list[Session]:
    return stratified_sample(sessions, size, seed)


def test_plan_samples_every_source_and_names_a_bad_one() -> None:
    plan = build_plan(_request("demo"), lambda spec: DemoSource() if spec == "demo" else None, _sample)
    assert len(plan.sessions) == len(DemoSource().sessions()) and sum(plan.strata["demo"].values()) == len(
        plan.sessions)
    with pytest.raises(SourceError, match=r"^--sessions nowhere: not a known source \(demo, humaneval\)"):
        build_plan(_request("demo", "nowhere"), lambda spec: DemoSource() if spec == "demo" else None, _sample)
    with pytest.raises(PlanError, match=r"^--sessions again: session demo/\S+ is also provided by --sessions demo$"):
        build_plan(_request("demo", "again"), lambda spec: DemoSource(), _sample)
    assert issubclass(PlanError, UserError) and issubclass(SourceError, UserError)


@pytest.mark.parametrize("module", ["pytest_modelbench.replay.pipeline", "pytest_modelbench.sampling.plan",
                                    "pytest_modelbench.scoring.session_cost", "pytest_modelbench.models.precheck",
                                    "pytest_modelbench.store.artifact", "pytest_modelbench.report.terminal",
                                    "pytest_modelbench.report.html"])
def test_pure_modules_do_not_import_pytest(module: str) -> None:
    code = f"import sys, {module}; assert 'pytest' not in sys.modules and '_pytest' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
