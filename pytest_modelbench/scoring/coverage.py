"""The ``coverage`` component: the share of the lines the candidate added that the check's tests execute.

The lines come from coverage.py run inside the sandboxed check (a tracer in the judge process for function checks);
added lines are the candidate's new statement lines in touched Python files.
"""

from __future__ import annotations

from typing import Any

from pytest_modelbench.records import ComponentScore
from pytest_modelbench.scoring.pyfiles import added_lines, statement_lines


def score_coverage(start: dict[str, str | None], candidate: dict[str, str],
                   executed: dict[str, list[int]] | None) -> tuple[ComponentScore, dict[str, Any]]:
    if not candidate:
        return ComponentScore("coverage", None, "no Python file touched"), {}
    if executed is None:
        return ComponentScore("coverage", None, "the check produced no coverage data"), {}
    added: dict[str, set[int]] = {}
    for rel, text in candidate.items():
        lines = added_lines(start.get(rel), text) & statement_lines(text)
        if lines:
            added[rel] = lines
    total = sum(len(v) for v in added.values())
    if total == 0:
        return ComponentScore("coverage", None, "no statement lines added"), {}
    covered = {rel: sorted(lines & set(executed.get(rel, ()))) for rel, lines in added.items()}
    hit = sum(len(v) for v in covered.values())
    evidence = {"added_lines": {rel: sorted(v) for rel, v in added.items()}, "covered_lines": covered,
                "added": total, "covered": hit}
    return ComponentScore("coverage", round(hit / total, 6)), evidence
