"""One item from start to outcome: prepare the session, replay the candidate, run the check, score, combine.

Pure module: no pytest. The plugin (``run/items.py``) calls :func:`run_item` with an :class:`ItemContext` whose
``replay`` and ``score`` callables call the ``pytest_modelbench_replay`` and ``pytest_modelbench_score`` hooks;
a test or a script can pass plain functions instead.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from pytest_modelbench.records import ComponentScore, Outcome, OutcomeStatus, Session
from pytest_modelbench.replay import ReplayResult, SessionCache
from pytest_modelbench.replay.check import Checker
from pytest_modelbench.replay.workspace import copy_workspace, touched_files, unified_diff, walk_files
from pytest_modelbench.runners import Runner
from pytest_modelbench.scoring.combine import combine, made_progress
from pytest_modelbench.scoring.context import ScoreContext
from pytest_modelbench.scoring.rubric import Rubric

# (session, model, workspace, repeat index) -> what the candidate did, or None when nothing handles the model
ReplayHook = Callable[[Session, str, Path, int], ReplayResult | None]
# score context -> one list of components per scorer (a scorer may return None: it measured nothing)
ScoreHook = Callable[[ScoreContext], Iterable[Iterable[ComponentScore] | None]]


@dataclass(frozen=True)
class ItemContext:
    """What every item of a run shares: where code runs, how it is checked, the per-run session cache, the rubric,
    and how a candidate is replayed and scored."""

    runner: Runner
    checker: Checker
    cache: SessionCache
    rubric: Rubric
    replay: ReplayHook
    score: ScoreHook


def wants_coverage(rubric: Rubric) -> bool:
    """Whether the check must measure line coverage (only when the rubric weighs the coverage component)."""
    return dict(rubric.static_weights).get("coverage", 0) > 0 and rubric.weight("static") > 0


def run_item(session: Session, model: str, repeat_index: int, context: ItemContext) -> Outcome:
    """Replay ``model`` on ``session``, run the check, score it. Raises only when the harness itself breaks."""
    start = time.monotonic()
    coverage = wants_coverage(context.rubric)
    checker = context.checker
    prepared = context.cache.prepare(session, checker, coverage)
    if not prepared.valid:
        return Outcome.unscored(session, model, "skipped", repeat_index=repeat_index, reason=prepared.invalid_reason,
                                evidence={"gold": prepared.gold.to_dict(), "before": prepared.before.to_dict()},
                                duration_seconds=round(time.monotonic() - start, 3))
    with tempfile.TemporaryDirectory(prefix="modelbench-replay-", dir=checker.scratch) as tmp:
        if model == "replay/gold":
            # The gold replay is exactly the harness validation just run: same workspace, same check.
            replay = ReplayResult(0, 0.0, {"mode": "reference", "applied": "gold"})
            after, touched, workspace = prepared.gold, prepared.gold_touched, prepared.gold_workspace
            seconds, executed = prepared.gold_seconds, prepared.gold_executed
            files = python_files(prepared.pristine, workspace, touched)
        else:
            workspace = copy_workspace(prepared.pristine, Path(tmp) / "ws")
            found = context.replay(session, model, workspace, repeat_index)
            if found is None:
                raise RuntimeError(f"no pytest_modelbench_replay implementation handles model {model!r}")
            replay = found
            if replay.status != "complete":
                status = cast(OutcomeStatus, replay.status)  # skipped, failed or cancelled-over-budget
                return Outcome.unscored(session, model, status, repeat_index=repeat_index, reason=replay.reason,
                                        evidence={"replay": replay.evidence}, cost_usd=replay.cost_usd,
                                        duration_seconds=round(time.monotonic() - start, 3), num_turns=replay.turns)
            touched = touched_files(prepared.pristine, workspace)
            # Read what static scoring needs now: the check restores test files and config in place.
            files = python_files(prepared.pristine, workspace, touched)
            check_start = time.monotonic()
            check = checker.run(session, workspace, prepared.pristine, coverage)
            after, executed = check.counts, check.executed
            seconds = time.monotonic() - check_start
        candidate_files, start_files, diff = files
        gold_candidate, _, _ = python_files(prepared.pristine, prepared.gold_workspace, prepared.gold_touched)
        score_context = ScoreContext(
            session, model, context.rubric, prepared.before, after, prepared.pristine, workspace,
            prepared.gold_workspace, candidate_files=candidate_files, start_files=start_files,
            gold_files=gold_candidate, start_all=all_python_files(prepared.pristine), executed=executed,
            diff=diff, gold_counts=prepared.gold, touched=touched,
        )
        measured: dict[str, ComponentScore] = {}
        for result in context.score(score_context):
            for component in result or ():
                measured.setdefault(component.name, component)  # the first scorer to measure a component wins
        components, combined = combine(context.rubric, measured,
                                       made_progress(after.all_passed, score_context.evidence.get("tests")))
    by_name = {c.name: c for c in components}
    evidence = {
        **score_context.evidence,
        "replay": replay.evidence,
        "touched": touched,
        "diff": diff,
        "runner": context.runner.name,
        "check_seconds": round(seconds, 3),
    }
    return Outcome(
        session_id=session.id, source=session.source, model=model, intent=session.intent,
        repeat_index=repeat_index,
        status="complete",
        solved=after.all_passed,
        static_score=by_name["static"].value if "static" in by_name else None,
        llm_score=by_name["llm"].value if "llm" in by_name else None,
        combined_score=combined,
        cost_usd=replay.cost_usd,
        duration_seconds=round(time.monotonic() - start, 3),
        num_turns=replay.turns,
        components=tuple(components),
        evidence=evidence,
    )


def python_files(pristine: Path, workspace: Path,
                 touched: dict[str, list[str]]) -> tuple[dict[str, str], dict[str, str | None], str]:
    """Touched Python files after and at the start (None: new), and the redacted diff of the whole change."""
    from pytest_modelbench.models.redact import redact

    after: dict[str, str] = {}
    start: dict[str, str | None] = {}
    for rel in (*touched.get("added", ()), *touched.get("modified", ())):
        if not rel.endswith(".py") or (workspace / rel).is_symlink():  # a link is never read through
            continue
        try:
            after[rel] = (workspace / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        old = pristine / rel
        start[rel] = old.read_text(encoding="utf-8", errors="replace") if old.is_file() else None
    return after, start, redact(unified_diff(pristine, workspace))


def all_python_files(root: Path) -> dict[str, str]:
    """Every readable Python file under ``root`` (relative path -> text)."""
    out = {}
    for rel, path in walk_files(root).items():
        if rel.endswith(".py"):
            try:
                out[rel] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
    return out


__all__ = ["ItemContext", "ReplayHook", "ScoreHook", "all_python_files", "python_files", "run_item",
           "wants_coverage"]
