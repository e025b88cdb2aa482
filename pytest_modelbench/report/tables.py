"""The tables every report shares (terminal, HTML, markdown, the CLI): rows and cells over the aggregates.

Pure module: no pytest, no rendering library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from pytest_modelbench.analysis.leaderboard import IntentRow, ModelRow


def fmt(value: float | None, digits: int = 2) -> str:
    """A score or a duration; an em dash when missing."""
    return "—" if value is None else f"{value:.{digits}f}"


def usd(value: float | None) -> str:
    """Dollars to the hundredth of a cent; "unknown" when a price is unknown."""
    return "unknown" if value is None else f"${value:.4f}"


def model_rows_of(artifact: Mapping[str, Any]) -> list[ModelRow]:
    """The artifact's per-model aggregates as :class:`ModelRow` (fields the artifact lacks keep their defaults)."""
    names = {f.name for f in fields(ModelRow)}
    return [ModelRow(**{k: v for k, v in d.items() if k in names})
            for d in (artifact.get("aggregates") or {}).get("per_model", [])]


def leaderboard_table(rows: list[ModelRow]) -> tuple[list[str], list[list[Any]]]:
    headers = ["rank", "model", "n", "solved", "solve rate [95% CI]", "static", "llm", "cost", "combined [95% CI]",
               "total $", "$/solved", "median s", "turns", "skipped", "errors"]
    body = []
    for r in rows:
        rate = "—" if r.solve_rate is None else f"{r.solve_rate:.2f} [{r.solve_rate_low:.2f}, {r.solve_rate_high:.2f}]"
        combined = (fmt(r.combined) if r.combined is None or r.combined_low is None
                    else f"{r.combined:.2f} [{r.combined_low:.2f}, {r.combined_high:.2f}]")
        body.append([r.rank, r.model, r.n, r.solved, rate, fmt(r.static), fmt(r.llm), fmt(r.cost_score),
                     combined, usd(r.total_cost_usd), "—" if r.cost_per_solved_usd is None
                     else usd(r.cost_per_solved_usd), fmt(r.median_seconds), fmt(r.mean_turns, 1), r.skipped,
                     f"{r.errors} + {r.tampered} tampered" if r.tampered else r.errors])
    return headers, body


COMPACT_MODEL_WIDTH = 28  # so the default terminal table fits 120 columns; longer ids keep both ends


def short_model(model: str, width: int = COMPACT_MODEL_WIDTH) -> str:
    """A model id cut in the middle to ``width`` characters (provider and version stay readable)."""
    if len(model) <= width:
        return model
    head = (width - 1) // 2
    return model[:head] + "…" + model[len(model) - (width - 1 - head):]


COMPACT_ALIGN = ("right", "left", "right", "right", "left", "left", "right", "right")  # numbers parsed as text


def pipe_table(headers: list[str], body: list[list[Any]], align: tuple[str, ...]) -> str:
    """A github-style table without tabulate's two columns of padding per header (so 8 columns fit 120)."""
    cells = [[str(c) for c in row] for row in body]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if a == "right" else c.ljust(w)
                                 for c, w, a in zip(row, widths, align, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *map(line, cells)])


def compact_leaderboard_table(rows: list[ModelRow]) -> tuple[list[str], list[list[Any]]]:
    """The default terminal leaderboard: the columns a reader ranks by, within 120 columns (the wide table, the
    artifact and the HTML report keep every number)."""
    headers = ["rank", "model", "n", "solved", "solve rate [95% CI]", "combined [95% CI]", "$/solved", "errors"]
    body = []
    for r in rows:
        rate = "—" if r.solve_rate is None else f"{r.solve_rate:.2f} [{r.solve_rate_low:.2f}, {r.solve_rate_high:.2f}]"
        combined = (fmt(r.combined) if r.combined is None or r.combined_low is None
                    else f"{r.combined:.2f} [{r.combined_low:.2f}, {r.combined_high:.2f}]")
        errors = r.errors + r.tampered
        body.append([r.rank, short_model(r.model), r.n, r.solved, rate, combined,
                     "—" if r.cost_per_solved_usd is None else usd(r.cost_per_solved_usd),
                     f"{errors} ({r.tampered} tampered)" if r.tampered else errors])
    return headers, body


def intent_table(rows: list[IntentRow]) -> tuple[list[str], list[list[Any]]]:
    headers = ["intent", "model", "n", "solved", "solve rate", "combined"]
    return headers, [[r.intent, r.model, r.n, r.solved, fmt(r.solve_rate), fmt(r.combined)] for r in rows]


__all__ = ["COMPACT_ALIGN", "COMPACT_MODEL_WIDTH", "compact_leaderboard_table", "fmt", "intent_table",
           "leaderboard_table", "model_rows_of", "pipe_table", "short_model", "usd"]
