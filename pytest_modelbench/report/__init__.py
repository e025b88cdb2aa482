"""Renderers over the shared aggregates: terminal, HTML and markdown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

CAVEAT = (
    "Caveat: a replay is not the original session. Candidates get the same prompts and starting files, not the same "
    "hidden context, tools or human. Results are evidence about replays."
)

REGRESSION_HEADERS = ["model", "metric", "baseline", "current", "delta", "evidence"]


def regression_rows(regressions: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """The artifact's regression entries as table rows (unescaped text), for the HTML and markdown reports."""
    from pytest_modelbench.analysis.regression import Regression

    def num(v: float | None) -> str:
        return "—" if v is None else f"{v:.3f}"

    rows = []
    for d in regressions:
        try:
            evidence = Regression(**d).evidence_text()
        except (TypeError, KeyError, ValueError):
            evidence = str(d.get("evidence", ""))
        delta = d.get("delta")
        rows.append([str(d.get("model")), str(d.get("metric")), num(d.get("baseline")), num(d.get("current")),
                     "—" if delta is None else f"{delta:+.3f}", evidence])
    return rows


__all__ = ["CAVEAT", "REGRESSION_HEADERS", "regression_rows"]
