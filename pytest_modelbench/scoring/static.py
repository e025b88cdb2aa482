"""The built-in static components of one replay: tests, then lint, complexity, types and coverage (product.md §7).

One entry point for the built-in ``pytest_modelbench_score`` hook: it fills the context's evidence and returns the
components the rubric weights. From rubric v2 on, the quality components of a replay that changed no file are
missing with the reason "no change": untouched files are not clean code the candidate wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_modelbench.records import ComponentScore
from pytest_modelbench.scoring.context import ScoreContext
from pytest_modelbench.scoring.tests import score_tests

QUALITY = ("lint", "complexity", "types", "coverage")
NO_CHANGE = "no change"


def wanted_components(context: ScoreContext) -> set[str]:
    """Components (top-level and static sub-components) the rubric gives a positive weight."""
    rubric = context.rubric
    return {name for name, w in rubric.static_weights if w > 0} | {name for name, w in rubric.weights if w > 0}


def static_components(context: ScoreContext) -> list[ComponentScore]:
    """``tests`` always (``solved`` and the combination rule read it), the quality components the rubric weights."""
    from pytest_modelbench.scoring.complexity import score_complexity
    from pytest_modelbench.scoring.coverage import score_coverage
    from pytest_modelbench.scoring.lint import score_lint
    from pytest_modelbench.scoring.types import score_types

    version = context.rubric.version
    component, evidence = score_tests(context.before, context.after, context.gold_counts, version=version)
    context.evidence["tests"] = evidence
    scores = [component]
    wanted = wanted_components(context)
    measures: dict[str, Callable[[], tuple[ComponentScore, dict[str, Any]]]] = {
        "lint": lambda: score_lint({k: v for k, v in context.start_files.items() if v is not None},
                                   context.candidate_files),
        "complexity": lambda: score_complexity(context.start_files, context.candidate_files, context.gold_files),
        "types": lambda: score_types(context.start_all, context.start_files, context.candidate_files),
        "coverage": lambda: score_coverage(context.start_files, context.candidate_files, context.executed),
    }
    python = context.session.language == "python"
    unchanged = version >= 2 and not context.changed
    for name in QUALITY:
        if name not in wanted:
            continue
        if unchanged:
            scores.append(ComponentScore(name, None, NO_CHANGE))
            continue
        if not python:
            scores.append(ComponentScore(name, None, "not python"))
            continue
        component, evidence = measures[name]()
        context.evidence[name] = evidence
        scores.append(component)
    return scores
