"""The ``cost`` component, once every candidate of a session is done (on the controller under xdist).

cheapest candidate's cost / this candidate's cost; 1.0 when both are 0; missing when a price is unknown.
"""

from __future__ import annotations

from pytest_modelbench.records import ComponentScore


def cost_scores(costs: dict[str, float | None],
                reference: frozenset[str] = frozenset({"replay/gold", "replay/noop"})) -> dict[str, ComponentScore]:
    """``costs``: model -> replay cost in $ (None = unknown price) for the complete outcomes of one session.

    The reference candidates cost nothing and are harness validation, not contestants: the cheapest is taken among
    the other candidates when there are any, else every real model would score 0 whenever gold and noop run.
    """
    contestants = {m: c for m, c in costs.items() if m not in reference} or costs
    known = [c for c in contestants.values() if c is not None]
    cheapest = min(known) if known else None
    out = {}
    for model, cost in costs.items():
        if cost is None:
            out[model] = ComponentScore("cost", None, "price unknown")
        elif cheapest is None:
            out[model] = ComponentScore("cost", None, "no known cost to compare with")
        elif cost == 0:
            out[model] = ComponentScore("cost", 1.0)
        else:
            out[model] = ComponentScore("cost", round(cheapest / cost, 6))
    return out
