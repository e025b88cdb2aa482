"""Combine component scores with the rubric's weights, renormalising over the components present."""

from __future__ import annotations

from collections.abc import Iterable

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


def combine(rubric: Rubric, measured: dict[str, ComponentScore]) -> tuple[list[ComponentScore], float | None]:
    """Fill in every component the rubric names (missing ones with their reason) and compute combined.

    Returns the full component list (static sub-components, then top-level) and the combined score.
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
    return subs + top, weighted_mean(top, weights)
