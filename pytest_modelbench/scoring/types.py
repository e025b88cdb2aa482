"""The ``types`` component: annotation completeness (parameters and returns) of touched functions.

Compared with the starting files' completeness: 1.0 when not lower, else the ratio. Read with ``ast``, never run.
"""

from __future__ import annotations

from typing import Any

from pytest_modelbench.records import ComponentScore
from pytest_modelbench.scoring.pyfiles import FunctionInfo, functions, touched_functions


def completeness(funcs: list[FunctionInfo]) -> tuple[int, int]:
    """(annotated slots, slots): every parameter but self/cls, plus the return."""
    slots = sum(f.params + 1 for f in funcs)
    annotated = sum(f.annotated_params + int(f.has_return_annotation) for f in funcs)
    return annotated, slots


def score_types(start_all: dict[str, str], start: dict[str, str | None],
                candidate: dict[str, str]) -> tuple[ComponentScore, dict[str, Any]]:
    """``start_all``: every Python file of the start (the project's habit); ``start``/``candidate``: touched files."""
    touched: list[FunctionInfo] = []
    for rel, text in candidate.items():
        found = touched_functions(start.get(rel), text)
        if found is None:
            return ComponentScore("types", None, "a touched file does not parse"), {}
        touched += found.values()
    if not touched:
        return ComponentScore("types", None, "no function touched"), {}
    base_funcs: list[FunctionInfo] = []
    for text in start_all.values():
        found = functions(text)
        base_funcs += (found or {}).values()
    c_ann, c_slots = completeness(touched)
    b_ann, b_slots = completeness(base_funcs)
    cand = c_ann / c_slots if c_slots else 1.0
    base = b_ann / b_slots if b_slots else 0.0
    evidence = {"candidate_annotated": c_ann, "candidate_slots": c_slots, "start_annotated": b_ann,
                "start_slots": b_slots, "candidate_ratio": round(cand, 6), "start_ratio": round(base, 6)}
    if base == 0 or cand >= base:
        return ComponentScore("types", 1.0), evidence
    return ComponentScore("types", round(cand / base, 6)), evidence
