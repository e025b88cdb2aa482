"""The ``complexity`` component: radon cyclomatic complexity of touched functions, against the gold change.

1.0 when the candidate's total is at or below gold's, 0 at twice gold's, linear between. Radon parses the files and
never executes them.
"""

from __future__ import annotations

from typing import Any

from pytest_modelbench.records import ComponentScore
from pytest_modelbench.scoring.pyfiles import touched_functions


def _complexities(source: str) -> dict[str, int] | None:
    from radon.complexity import cc_visit

    try:
        blocks = cc_visit(source)
    except (SyntaxError, ValueError):
        return None
    out: dict[str, int] = {}
    for block in blocks:
        if hasattr(block, "methods"):  # a class: its methods are listed separately too
            continue
        name = f"{block.classname}.{block.name}" if getattr(block, "classname", None) else block.name
        out[name] = out.get(name, 0) + int(block.complexity)
    return out


def touched_complexity(before: dict[str, str | None], after: dict[str, str]) -> tuple[int, dict[str, int]] | None:
    """Sum of the complexity of functions new or changed in ``after``; None when a file does not parse."""
    total = 0
    per: dict[str, int] = {}
    for rel, text in after.items():
        touched = touched_functions(before.get(rel), text)
        cc = _complexities(text)
        if touched is None or cc is None:
            return None
        for name in touched:
            value = cc.get(name, 1)
            per[f"{rel}::{name}"] = value
            total += value
    return total, per


def score_complexity(start: dict[str, str | None], candidate: dict[str, str],
                     gold: dict[str, str]) -> tuple[ComponentScore, dict[str, Any]]:
    cand = touched_complexity(start, candidate)
    if cand is None:
        return ComponentScore("complexity", None, "a touched file does not parse"), {}
    ref = touched_complexity(start, gold)
    if ref is None:
        return ComponentScore("complexity", None, "a file of the gold change does not parse"), {}
    (c_total, c_per), (g_total, g_per) = cand, ref
    evidence = {"candidate": c_total, "gold": g_total, "candidate_functions": c_per, "gold_functions": g_per}
    if not c_per:
        return ComponentScore("complexity", None, "no function touched"), evidence
    if g_total == 0:
        return ComponentScore("complexity", None, "the gold change touches no function"), evidence
    if c_total <= g_total:
        return ComponentScore("complexity", 1.0), evidence
    return ComponentScore("complexity", round(max(0.0, 1.0 - (c_total - g_total) / g_total), 6)), evidence
