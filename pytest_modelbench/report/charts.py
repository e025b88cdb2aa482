"""The HTML report's charts: the sessions x models heatmap, cost versus quality with its Pareto frontier, and the
trend across runs. Hand-written SVG, no script.

Pure module: each section takes the run's JSON artifact (and the store's trend history) and returns HTML; every
text from a session, a model or a user passes through :func:`esc`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_modelbench.report.markup import cut as _cut
from pytest_modelbench.report.markup import esc as _e
from pytest_modelbench.report.outcome import anchor
from pytest_modelbench.report.tables import model_rows_of

SESSION_LABEL_CHARS = 46
MODEL_LABEL_CHARS = 28


def _score_fill(v: float) -> str:
    """Red (0) through amber (0.5) to green (1)."""
    stops = ((0.0, (215, 48, 39)), (0.5, (253, 205, 97)), (1.0, (26, 152, 80)))
    v = min(1.0, max(0.0, v))
    for (a, ca), (b, cb) in zip(stops, stops[1:], strict=False):
        if v <= b:
            t = (v - a) / (b - a)
            return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))
    return "#1a9850"


def _ink_on(fill: str) -> str:
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#fff"


@dataclass(frozen=True)
class Cell:
    """One (session, model) square of the heatmap: every repeat of the item together."""

    combined: float | None
    solved: int
    scored: int
    statuses: tuple[str, ...]
    reasons: tuple[str, ...]


def heatmap_cells(outcomes: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Cell]:
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for o in outcomes:
        groups.setdefault((f"{o['source']}/{o['session_id']}", o["model"]), []).append(o)
    cells = {}
    for key, items in groups.items():
        scored = [o for o in items if o["status"] == "complete"]
        values = [o["combined_score"] for o in scored if o.get("combined_score") is not None]
        cells[key] = Cell(
            combined=sum(values) / len(values) if values else None,
            solved=sum(1 for o in scored if o.get("solved")),
            scored=len(scored),
            statuses=tuple(sorted({o["status"] for o in items})),
            reasons=tuple(sorted(({o.get("skip_reason") or "" for o in items}
                                  | {_tampered(o) for o in items}) - {""})),
        )
    return cells


def _tampered(outcome: Mapping[str, Any]) -> str:
    after = ((outcome.get("evidence") or {}).get("tests") or {}).get("after") or {}
    return f"tampered: {after['tampered']}" if after.get("tampered") else ""


def pareto_front(points: Sequence[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """The (name, cost, quality) points no other point beats on both: no cheaper-or-equal point has a higher
    quality and no equal-quality point is cheaper. Sorted by cost."""
    ordered = sorted(points, key=lambda p: (p[1], -p[2], p[0]))
    front: list[tuple[str, float, float]] = []
    best = -math.inf
    for p in ordered:
        if p[2] > best:
            front.append(p)
            best = p[2]
    return front


def heatmap_section(artifact: Mapping[str, Any], models: Sequence[str]) -> str:
    outcomes = artifact.get("outcomes") or []
    cells = heatmap_cells(outcomes)
    keys = sorted({s["key"] for s in artifact.get("sessions") or []} | {k for k, _ in cells})
    out = ['<section id="heatmap"><h2>Sessions × models: combined score</h2>']
    if not keys or not models:
        out.append('<p class="note">no outcome to show</p></section>')
        return "\n".join(out)
    label_w = int(min(SESSION_LABEL_CHARS, max(len(k) for k in keys)) * 6.4) + 14
    col_w, row_h = 66, 22
    longest = min(MODEL_LABEL_CHARS, max(len(m) for m in models))
    head_h = int(longest * 7 * 0.66) + 26  # model names rotated by 40 degrees
    width = label_w + col_w * len(models) + int(longest * 7 * 0.77)
    height = head_h + row_h * len(keys) + 8
    svg = [f'<svg width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="heatmap of combined score per session and model">']
    for j, m in enumerate(models):
        x = label_w + j * col_w + col_w / 2
        svg.append(f'<text x="{x:.1f}" y="{head_h - 6}" font-size="12" transform="rotate(-40 {x:.1f} {head_h - 6})">'
                   f"<title>{_e(m)}</title>{_e(_cut(m, MODEL_LABEL_CHARS))}</text>")
    for i, key in enumerate(keys):
        y = head_h + i * row_h
        svg.append(f'<text x="{label_w - 8}" y="{y + 15}" font-size="11.5" text-anchor="end">'
                   f"<title>{_e(key)}</title>{_e(_cut(key, SESSION_LABEL_CHARS))}</text>")
        for j, m in enumerate(models):
            x = label_w + j * col_w
            cell = cells.get((key, m))
            svg.append(_heatmap_cell(cell, key, m, x, y, col_w, row_h))
    svg.append("</svg>")
    out.append('<div class="scroll">' + "".join(svg) + "</div>")
    out.append('<p class="note">colour: mean combined score over the repeats scored (red 0, amber 0.5, green 1); '
               "✓ solved (every check test passed; k/n when only some repeats solved it); grey: not scored "
               "(hover for the reason); blank: not run.</p></section>")
    return "\n".join(out)


def _heatmap_cell(cell: Cell | None, key: str, model: str, x: float, y: float, w: int, h: int) -> str:
    rect = f'<rect x="{x + 1}" y="{y + 1}" width="{w - 2}" height="{h - 2}" rx="2" '
    if cell is None:
        return (rect + f'fill="#ffffff" stroke="#d8dde3"><title>{_e(key)} × {_e(model)}: not run</title></rect>')
    if cell.combined is None:
        why = "; ".join(cell.reasons) or ", ".join(cell.statuses)
        short = {"cancelled-over-budget": "budget", "failed": "error", "skipped": "skipped"}.get(
            cell.statuses[0] if cell.statuses else "", "—")
        return (f'<a href="{_e("#" + anchor(key, model))}"><g class="cell unscored">{rect}fill="#e4e7eb"><title>'
                f'{_e(key)} × {_e(model)}: {_e(", ".join(cell.statuses))}: {_e(why)}</title></rect>'
                f'<text x="{x + w / 2}" y="{y + 15}" font-size="11" text-anchor="middle" fill="#5b6470">'
                f"{_e(short)}</text></g></a>")
    fill = _score_fill(cell.combined)
    if cell.solved and cell.solved == cell.scored:
        mark = "✓ "
    elif cell.solved:
        mark = f"{cell.solved}/{cell.scored} "
    else:
        mark = ""
    klass = "cell solved" if cell.solved else "cell"
    href = _e(f"#{anchor(key, model)}")  # the cell opens the replay in the list below (no script)
    tip = (f"{key} × {model}: combined {cell.combined:.3f}; solved {cell.solved} of {cell.scored} scored"
           + (f"; {'; '.join(cell.reasons)}" if cell.reasons else ""))
    return (f'<a href="{href}"><g class="{klass}">{rect}fill="{fill}"><title>{_e(tip)}</title></rect>'
            f'<text x="{x + w / 2}" y="{y + 15}" font-size="11.5" text-anchor="middle" fill="{_ink_on(fill)}">'
            f"{_e(mark)}{cell.combined:.2f}</text></g></a>")


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def scatter_section(artifact: Mapping[str, Any], colors: Mapping[str, str]) -> str:
    rows = model_rows_of(artifact)
    points = [(r.model, float(r.total_cost_usd), float(r.combined)) for r in rows
              if r.total_cost_usd is not None and r.combined is not None]
    unplotted = [r for r in rows if r.total_cost_usd is None or r.combined is None]
    references = reference_models(artifact)
    out = ['<section id="scatter"><h2>Cost versus quality</h2>']
    if not points:
        out.append('<p class="note">no model has both a known cost and a combined score</p>')
    else:
        # The reference candidates (the recorded answer, no change) are yardsticks, not choices: they are drawn
        # hollow and left out of the frontier unless nothing else was scored.
        choices = [p for p in points if p[0] not in references] or points
        front = pareto_front(choices)
        out.append(_scatter_svg(points, front, references, colors))
        names = ", ".join(_e(p[0]) for p in front)
        out.append('<p class="note">x: total cost of the model\'s scored replays in this run (US dollars); y: mean '
                   "combined score. Dashed: the Pareto frontier, the models no other model beats on both cost and "
                   f"score: {names}." + (" Hollow: reference candidates (not on the frontier)."
                                          if len(choices) < len(points) else "") + "</p>")
    for r in unplotted:
        why = "cost unknown" if r.total_cost_usd is None else "no combined score"
        out.append(f'<p class="note">not plotted: {_e(r.model)} ({why})</p>')
    out.append("</section>")
    return "\n".join(out)


def reference_models(artifact: Mapping[str, Any]) -> set[str]:
    return {str(c.get("model")) for c in artifact.get("candidates") or [] if c.get("reference")}


def _score_axis(top: float, ph: float) -> Callable[[float], float]:
    """The y position of a score in [0, 1] on a plot area ``ph`` high starting at ``top`` (1.0 at the top)."""
    return lambda q: top + ph * (1 - q)


def _chart_frame(w: int, h: int, left: float, top: float, pw: float, ph: float, label: str) -> list[str]:
    """An SVG chart's opening: the element, the plot area, and the score grid 0.0-1.0 with its labels."""
    sy = _score_axis(top, ph)
    svg = [f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{_e(label)}">',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafbfc" stroke="#d8dde3"/>']
    for i in range(6):
        q = i / 5
        svg.append(f'<line x1="{left}" x2="{left + pw}" y1="{sy(q):.1f}" y2="{sy(q):.1f}" stroke="#e6e9ed"/>'
                   f'<text x="{left - 6}" y="{sy(q) + 4:.1f}" font-size="11" text-anchor="end">{q:.1f}</text>')
    return svg


def _scatter_svg(points: Sequence[tuple[str, float, float]], front: Sequence[tuple[str, float, float]],
                 references: set[str], colors: Mapping[str, str]) -> str:
    w, h, left, right, top, bottom = 540, 360, 56, 140, 16, 46
    pw, ph = w - left - right, h - top - bottom
    xmax = _nice_max(max(p[1] for p in points))

    def sx(c: float) -> float:
        return left + pw * c / xmax

    sy = _score_axis(top, ph)
    svg = _chart_frame(w, h, left, top, pw, ph, "cost versus combined score per model, with the Pareto frontier")
    for i in range(6):
        c = xmax * i / 5
        svg.append(f'<line x1="{sx(c):.1f}" x2="{sx(c):.1f}" y1="{top}" y2="{top + ph}" stroke="#e6e9ed"/>'
                   f'<text x="{sx(c):.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle">'
                   f"${_tick(c)}</text>")
    svg.append(f'<text x="{left + pw / 2}" y="{h - 6}" font-size="12" text-anchor="middle">total cost (USD)</text>'
               f'<text x="14" y="{top + ph / 2}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 14 {top + ph / 2})">combined score</text>')
    line = " ".join(f"{sx(c):.1f},{sy(q):.1f}" for _, c, q in front)
    svg.append(f'<g id="pareto"><polyline points="{line}" fill="none" stroke="#333" stroke-width="1.5" '
               'stroke-dasharray="5 4"/>')
    svg += [f'<circle cx="{sx(c):.1f}" cy="{sy(q):.1f}" r="9" fill="none" stroke="#333" stroke-width="1.2">'
            f"<title>Pareto frontier: {_e(n)}</title></circle>" for n, c, q in front]
    svg.append("</g>")
    # Models on the same spot share one label.
    spots: dict[tuple[int, int], list[tuple[str, float, float]]] = {}
    for p in points:
        spots.setdefault((round(sx(p[1]) / 10), round(sy(p[2]) / 10)), []).append(p)
    for group in spots.values():
        for n, c, q in group:
            paint = (f'fill="#fff" stroke="{colors.get(n, "#444")}" stroke-width="2"' if n in references
                     else f'fill="{colors.get(n, "#444")}"')
            svg.append(f'<circle class="point" cx="{sx(c):.1f}" cy="{sy(q):.1f}" r="5.5" '
                       f'{paint}><title>{_e(n)}: ${c:.4f}, combined {q:.3f}</title></circle>')
        n, c, q = group[0]
        label = _cut(", ".join(p[0] for p in group), 24)
        svg.append(f'<text x="{sx(c) + 14:.1f}" y="{sy(q) + 4:.1f}" font-size="12">{_e(label)}</text>')
    svg.append("</svg>")
    return '<div class="scroll">' + "".join(svg) + "</div>"


def _tick(c: float) -> str:
    if c == 0:
        return "0"
    return f"{c:.4f}".rstrip("0").rstrip(".") if c < 1 else f"{c:,.2f}"


def trend_section(artifact: Mapping[str, Any], history: Sequence[Mapping[str, Any]], models: Sequence[str],
           colors: Mapping[str, str]) -> str:
    run_id = (artifact.get("run") or {}).get("id")
    points = list(history)
    if not any(p.get("run_id") == run_id for p in points):
        own = {r.model: r.combined for r in model_rows_of(artifact) if r.combined is not None}
        if own:
            points.append({"run_id": run_id, "name": (artifact.get("run") or {}).get("name"),
                           "created": (artifact.get("run") or {}).get("created"), "combined": own})
    out = ['<section id="trend"><h2>Trend per model across runs</h2>']
    if not points:
        out.append('<p class="note">no scored run to plot</p></section>')
        return "\n".join(out)
    series = sorted({m for p in points for m in p.get("combined", {})},
                    key=lambda m: (models.index(m) if m in models else len(models), m))
    w, h, left, right, top, bottom = 760, 300, 56, 56, 16, 54
    pw, ph = w - left - right, h - top - bottom
    n = len(points)

    def sx(i: int) -> float:
        return left + (pw / 2 if n == 1 else pw * i / (n - 1))

    sy = _score_axis(top, ph)
    svg = _chart_frame(w, h, left, top, pw, ph, "mean combined score per model in each run, oldest first")
    step = max(1, math.ceil(n / 8))
    dates = {str(p.get("created") or "")[:10] for p in points}
    for i, p in enumerate(points):
        if i % step == 0 or i == n - 1:
            created = str(p.get("created") or "")
            # Date and time when several runs share a day (the usual case for a store used in CI).
            label = (created[5:16].replace("T", " ") if len(dates) < n else created[:10]) or f"run {i + 1}"
            bold = ' font-weight="700"' if p.get("run_id") == run_id else ""
            svg.append(f'<text x="{sx(i):.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle"{bold}>'
                       f"<title>{_e(p.get('run_id'))}</title>{_e(label)}</text>")
    svg.append(f'<text x="{left + pw / 2}" y="{h - 8}" font-size="12" text-anchor="middle">runs, oldest first '
               "(bold: this run)</text>")
    for m in series:
        pts = [(i, p["combined"][m]) for i, p in enumerate(points) if m in p.get("combined", {})]
        color = colors.get(m, "#444")
        if len(pts) > 1:
            line = " ".join(f"{sx(i):.1f},{sy(v):.1f}" for i, v in pts)
            svg.append(f'<polyline class="trend-line" points="{line}" fill="none" stroke="{color}" stroke-width="2"/>')
        svg += [f'<circle cx="{sx(i):.1f}" cy="{sy(v):.1f}" r="3.5" fill="{color}"><title>{_e(m)} in '
                f'{_e(points[i].get("run_id"))}: {v:.3f}</title></circle>' for i, v in pts]
    svg.append("</svg>")
    out.append('<div class="scroll">' + "".join(svg) + "</div>")
    out.append(_legend(series, colors))
    note = (f"{n} run(s) of the store with this rubric version; each point is the model's mean combined score "
            "in that run (the series the trend gate fits).")
    if n == 1:
        note += " One run only: a trend needs more runs."
    if len({p.get("session_set") for p in points if p.get("session_set")}) > 1:
        note += " The session set changed between runs, so points are not strictly comparable."
    out.append(f'<p class="note">{_e(note)}</p></section>')
    return "\n".join(out)


def _legend(models: Sequence[str], colors: Mapping[str, str]) -> str:
    items = "".join(f'<span><span class="sw" style="background:{colors.get(m, "#444")}"></span>{_e(m)}</span>'
                    for m in models)
    return f'<div class="legend">{items}</div>'


__all__ = ["Cell", "heatmap_cells", "heatmap_section", "pareto_front", "reference_models", "scatter_section",
           "trend_section"]
