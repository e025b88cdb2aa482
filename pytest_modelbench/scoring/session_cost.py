"""The cost component of a session's outcomes, once all its candidates are done, and the combined score again.

The cost of one candidate is relative to the session's other candidates (``scoring/cost.py`` holds the formula),
so it is scored after the others, on the controller under xdist. Pure module: no pytest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from pytest_modelbench.records import Outcome
from pytest_modelbench.scoring.combine import combine, made_progress
from pytest_modelbench.scoring.cost import cost_scores
from pytest_modelbench.scoring.rubric import Rubric


def wants_cost(rubric: Rubric) -> bool:
    """Whether the rubric weighs the cost component at all (else outcomes stay as they are)."""
    return rubric.weight("cost") > 0


def score_session_cost(rubric: Rubric, group: Sequence[Outcome]) -> list[Outcome]:
    """``group``: the complete outcomes of one session and repeat index. Returns them in the same order with the
    cost component added, the combined score recomputed, and the cost evidence (what was compared)."""
    scores = cost_scores({o.model: o.cost_usd for o in group}, {o.model: o.solved for o in group},
                         version=rubric.version)
    updated = []
    for o in group:
        measured = {c.name: c for c in o.components if c.present or c.reason}
        measured["cost"] = scores[o.model]
        # static is recomputed by combine from its sub-components
        components, combined = combine(rubric, {k: v for k, v in measured.items() if k != "static"},
                                       made_progress(o.solved, o.evidence.get("tests")))
        evidence = {**o.evidence, "cost": {"replay_cost_usd": o.cost_usd,
                                           "judge_cost_usd": (o.evidence.get("llm") or {}).get("cost_usd"),
                                           "compared_with": sorted(m.model for m in group)}}
        updated.append(dataclasses.replace(o, components=tuple(components), combined_score=combined,
                                           evidence=evidence))
    return updated


__all__ = ["score_session_cost", "wants_cost"]
