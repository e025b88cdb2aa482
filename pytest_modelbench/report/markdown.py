"""Markdown over a run's JSON artifact: the leaderboard and the regressions (``modelbench export --format md`` and
the GitHub step summary). Pure: no pytest. Cells are escaped so a session or model text cannot break the table or
inject markup."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_modelbench.report import CAVEAT, REGRESSION_HEADERS, regression_rows
from pytest_modelbench.report.tables import leaderboard_table, model_rows_of


def cell(value: Any) -> str:
    """One table cell: HTML-escaped (GitHub renders inline HTML), pipes escaped, on one line."""
    text = html.escape("" if value is None else str(value), quote=False)
    return " ".join(text.replace("|", "\\|").split())


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def leaderboard_markdown(artifact: Mapping[str, Any]) -> str:
    rows = model_rows_of(artifact)
    if not rows:
        return "_no model was scored in this run_"
    headers, body = leaderboard_table(rows)
    return table(headers, body)


def regressions_markdown(artifact: Mapping[str, Any]) -> str:
    regs = artifact.get("regressions") or []
    if not regs:
        return "No regression."
    return f"**{len(regs)} regression(s)**\n\n" + table(REGRESSION_HEADERS, regression_rows(regs))


def summary_markdown(artifact: Mapping[str, Any]) -> str:
    """Heading, leaderboard, regressions, warnings and the caveat: one run in markdown."""
    run = artifact.get("run") or {}
    name = f" ({cell(run['name'])})" if run.get("name") else ""
    status = cell(run.get("status"))
    if run.get("interrupted"):
        status += ", interrupted"
    parts = [f"## modelbench — run `{cell(run.get('id'))}`{name}",
             f"{len(artifact.get('sessions') or [])} session(s), {len(artifact.get('candidates') or [])} model(s); "
             f"status {status}",
             "### Leaderboard", leaderboard_markdown(artifact),
             "### Regressions", regressions_markdown(artifact)]
    warnings = artifact.get("warnings") or []
    if warnings:
        parts.append("\n".join(f"- warning: {cell(w)}" for w in warnings))
    parts.append(f"_{cell(CAVEAT)}_")
    return "\n\n".join(parts) + "\n"


__all__ = ["cell", "leaderboard_markdown", "regressions_markdown", "summary_markdown", "table"]
