"""The ``cost`` component, once every candidate of a session is done (on the controller under xdist).

Rubric v2 (the default): value for money per solved task. A solved outcome scores the cheapest cost among the
candidates that solved the same session divided by its own cost (1.0 when its own cost is $0); an unsolved outcome
scores 0, money spent for nothing. Rubric v1: the cheapest candidate's cost / this one's, solved or not.

An unknown price is missing, never $0. The reference candidates (replay/gold, replay/noop) cost nothing and are
harness validation, not contestants: the cheapest is taken among the other candidates when there are any, else every
real model would score 0 whenever gold runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from pytest_modelbench.records import REFERENCE_MODELS, ComponentScore

PRICE_UNKNOWN = "price unknown"
NOTHING_TO_COMPARE = "no known cost to compare with"


def _ratio(cost: float | None, cheapest: float | None) -> ComponentScore:
    if cost is None:
        return ComponentScore("cost", None, PRICE_UNKNOWN)
    if cost == 0:
        return ComponentScore("cost", 1.0)
    if cheapest is None:
        return ComponentScore("cost", None, NOTHING_TO_COMPARE)
    return ComponentScore("cost", round(cheapest / cost, 6))


def _cheapest(costs: Mapping[str, float | None], reference: frozenset[str]) -> float | None:
    contestants = {m: c for m, c in costs.items() if m not in reference} or dict(costs)
    known = [c for c in contestants.values() if c is not None]
    return min(known) if known else None


def cost_scores_v1(costs: Mapping[str, float | None],
                   reference: frozenset[str] = frozenset(REFERENCE_MODELS)) -> dict[str, ComponentScore]:
    """v1: ``costs`` is model -> replay cost in $ (None = unknown price) for the complete outcomes of one session."""
    cheapest = _cheapest(costs, reference)
    out = {}
    for model, cost in costs.items():
        if cost is not None and cheapest is None:
            out[model] = ComponentScore("cost", None, NOTHING_TO_COMPARE)
        else:
            out[model] = _ratio(cost, cheapest)
    return out


def cost_scores(costs: Mapping[str, float | None], solved: Mapping[str, bool | None] | None = None,
                version: int = 2,
                reference: frozenset[str] = frozenset(REFERENCE_MODELS)) -> dict[str, ComponentScore]:
    """The cost component of every complete outcome of one session.

    ``costs``: model -> replay cost in $ (None = unknown price); ``solved``: model -> whether it solved the session
    (v2 only); ``version``: the rubric version.
    """
    if version < 2:
        return cost_scores_v1(costs, reference)
    solved = solved or {}
    solvers = {m: c for m, c in costs.items() if solved.get(m)}
    real_ran = any(m not in reference for m in costs)
    # When real candidates ran, the $0 reference candidates never set the price a real solver is measured against.
    cheapest = _cheapest({m: c for m, c in solvers.items() if m not in reference} if real_ran else solvers,
                         frozenset())
    return {model: _ratio(cost, cheapest) if solved.get(model) else ComponentScore("cost", 0.0)
            for model, cost in costs.items()}
