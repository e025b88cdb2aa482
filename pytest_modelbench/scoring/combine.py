"""Combine component scores with the rubric's weights, renormalising over the components present."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pytest_modelbench.records import ComponentScore
from pytest_modelbench.scoring.rubric import STATIC_SUB, TOP_LEVEL, Rubric

NOT_IMPLEMENTED = "no scorer measured it"


def weighted_mean(scores: Iterable[ComponentScore], weights: dict[str, float]) -> float | None:
    """Σ wᵢ·scoreᵢ / Σ wᵢ over present components with a positive weight; None when none is present."""
    num = den = 0.0
    for s in scores:
        w = weights.get(s.name, 0.0)
        if s.value is not None and w > 0:
            num += w * s.value
            den += w
    return round(num / den, 6) if den else None


def made_progress(solved: bool | None, tests_evidence: Mapping[str, Any] | None) -> bool | None:
    """Whether a replay solved its session or fixed more tests than it broke (rubric v2's ``test_pass_delta`` > 0,
    from the tests component's evidence); None when not known (no check result)."""
    if solved is None:
        return None
    delta = (tests_evidence or {}).get("test_pass_delta")
    return bool(solved) or (isinstance(delta, int | float) and delta > 0)


def combine(rubric: Rubric, measured: dict[str, ComponentScore],
            progress: bool | None = None) -> tuple[list[ComponentScore], float | None]:
    """Fill in every component the rubric names (missing ones with their reason) and compute combined.

    Returns the full component list (static sub-components, then top-level) and the combined score. From rubric
    v2 on, a replay that made no ``progress`` (see :func:`made_progress`: it neither solved the session nor improved
    its tests) combines to 0 whatever else is present: lint, types or a judge's grade of doing nothing is no reason
    to rank above a replay that tried.
    """
    static_weights = dict(rubric.static_weights)
    subs = [measured.get(name, ComponentScore(name, None, NOT_IMPLEMENTED)) for name in STATIC_SUB
            if name in static_weights]
    static_value = weighted_mean(subs, static_weights)
    top: list[ComponentScore] = []
    weights = dict(rubric.weights)
    custom = [name for name in weights if name not in TOP_LEVEL]
    for name in (*TOP_LEVEL, *custom):
        if name not in weights:
            continue
        if name == "static":
            top.append(ComponentScore("static", static_value, "" if static_value is not None else "no sub-score"))
        else:
            top.append(measured.get(name, ComponentScore(name, None, NOT_IMPLEMENTED)))
    combined = weighted_mean(top, weights)
    if rubric.version >= 2 and progress is False:
        combined = 0.0
    return subs + top, combined
