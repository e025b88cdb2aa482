"""The HTML report: one self-contained file (inline CSS, hand-written SVG, no script, nothing fetched).

Pure module: takes the JSON artifact of a run (``store/artifact.py``) and the trend history of the store
(``report/runs.py``) and returns a string. Every text that came from a session, a model or a user passes through
:func:`_e` (``html.escape``). A Content-Security-Policy forbids every fetch and every script as a second guard.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from pytest_modelbench.analysis.leaderboard import RANK_RULE, ModelRow
from pytest_modelbench.report import CAVEAT, REGRESSION_HEADERS, regression_rows
from pytest_modelbench.report.formats import fixed as _f
from pytest_modelbench.report.formats import usd as _usd

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22")
SESSION_LABEL_CHARS = 46
MODEL_LABEL_CHARS = 28

CSS = """
:root { color-scheme: light; --ink: #1b1f24; --muted: #5b6470; --line: #d8dde3; --bg: #ffffff; --band: #f5f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink);
       background: var(--bg); }
main { max-width: 1320px; margin: 0 auto; padding: 18px 24px 40px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p.meta, p.note, .muted { color: var(--muted); }
p.meta { margin: 0 0 6px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
#leaderboard-table, #sessions-table { width: 100%; }
th, td { padding: 3px 7px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top;
         font-size: 13px; }
#leaderboard-table td:nth-child(2), #recommendations td:first-child,
#per-intent-table td:first-child { white-space: nowrap; }
.row { display: flex; flex-wrap: wrap; gap: 0 40px; align-items: flex-start; }
.row > section { flex: 0 1 auto; min-width: 0; }
.row > section p.note { max-width: 520px; }
th { background: var(--band); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
.scroll { overflow-x: auto; }
.warn { background: #fff6e0; border-left: 4px solid #e0a000; padding: 6px 10px; margin: 6px 0; }
.bad { background: #fdecea; border-left: 4px solid #c62828; padding: 6px 10px; margin: 6px 0; }
.ok { background: #e9f6ec; border-left: 4px solid #2e7d32; padding: 6px 10px; margin: 6px 0; }
#caveat { margin-top: 28px; padding: 10px 14px; background: var(--band); border-left: 4px solid #5b6470; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 6px 0; }
.legend span.sw { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px;
                  vertical-align: -1px; }
.prompt { max-width: 640px; overflow-wrap: anywhere; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
nav { margin: 8px 0 0; color: var(--muted); }
nav a { color: #1f5fa8; text-decoration: none; margin-right: 10px; }
"""


def _e(value: Any) -> str:
    """Escape any value for HTML text and attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _color(model_index: int) -> str:
    return PALETTE[model_index % len(PALETTE)]


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


# -- data shaping (no new aggregates: the per-model numbers are the artifact's) -------------------------------------


def model_rows_of(artifact: Mapping[str, Any]) -> list[ModelRow]:
    """The artifact's per-model aggregates as :class:`ModelRow` (fields the artifact lacks keep their defaults)."""
    names = {f.name for f in fields(ModelRow)}
    return [ModelRow(**{k: v for k, v in d.items() if k in names})
            for d in (artifact.get("aggregates") or {}).get("per_model", [])]


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
            reasons=tuple(sorted({o.get("skip_reason") or "" for o in items} - {""})),
        )
    return cells


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


# -- sections ------------------------------------------------------------------------------------------------------


def _header(artifact: Mapping[str, Any]) -> str:
    run = artifact.get("run") or {}
    config = run.get("config") or {}
    rubric = config.get("rubric") or {}
    bits = [f"status {_e(run.get('status'))}" + (" (interrupted)" if run.get("interrupted") else ""),
            f"created {_e(run.get('created'))}", f"completed {_e(run.get('completed'))}",
            f"rubric {_e(rubric.get('name', '?'))} v{_e(rubric.get('version', '?'))}",
            f"runner {_e(config.get('runner_used') or config.get('runner') or '?')}",
            f"{len(artifact.get('sessions') or [])} session(s)", f"{len(artifact.get('candidates') or [])} model(s)",
            f"sample seed {_e(config.get('sample_seed'))}"]
    if config.get("git_commit"):
        bits.append(f"git {_e(str(config['git_commit'])[:12])}")
    name = run.get("name")
    title = f"modelbench report — run {_e(run.get('id'))}" + (f" ({_e(name)})" if name else "")
    nav = "".join(f'<a href="#{i}">{t}</a>' for i, t in (
        ("leaderboard", "leaderboard"), ("heatmap", "heatmap"), ("scatter", "cost vs quality"), ("trend", "trend"),
        ("recommendations", "recommendations"), ("sessions", "sessions"), ("caveat", "caveat")))
    out = [f"<h1>{title}</h1>", f'<p class="meta">{" · ".join(bits)}</p>', f"<nav>{nav}</nav>"]
    for w in artifact.get("warnings") or []:
        out.append(f'<div class="warn">warning: {_e(w)}</div>')
    return "\n".join(out)


def _leaderboard(artifact: Mapping[str, Any]) -> str:
    from pytest_modelbench.report.terminal import leaderboard_table

    rows = model_rows_of(artifact)
    out = ['<section id="leaderboard"><h2>Leaderboard</h2>']
    if not rows:
        out.append('<p class="note">no model was scored in this run</p></section>')
        return "\n".join(out)
    headers, body = leaderboard_table(rows)
    out.append(_table(headers, body, numeric_from=2, table_id="leaderboard-table"))
    out.append('<p class="note">solve rate with its 95% Wilson interval; static, llm, cost and combined are mean '
               "rubric scores (0-1) over scored replays; missing components are never imputed.</p>")
    out.append(f'<p class="note">{_e(RANK_RULE)}.</p>')
    per_intent = (artifact.get("aggregates") or {}).get("per_intent") or []
    if per_intent:
        out.append('<h3 id="per-intent">Per intent</h3>')
        out.append(_intent_pivot(per_intent, [r.model for r in rows]))
        out.append('<p class="note">per intent and model: solved / scored replays, and the mean combined score.</p>')
    invalid = (artifact.get("aggregates") or {}).get("invalid_sessions") or []
    if invalid:
        out.append(f"<h3>Left out of the leaderboard ({len(invalid)} invalid session(s))</h3><ul>")
        out += [f"<li><code>{_e(i.get('session'))}</code>: {_e(i.get('reason'))}</li>" for i in invalid]
        out.append("</ul>")
    out.append("</section>")
    return "\n".join(out)


def _intent_pivot(per_intent: Sequence[Mapping[str, Any]], order: Sequence[str]) -> str:
    """The artifact's per-intent rows, one line per intent and one column per model."""
    models = [m for m in order if any(d.get("model") == m for d in per_intent)]
    models += sorted({str(d.get("model")) for d in per_intent} - set(models))
    intents = list(dict.fromkeys(str(d.get("intent")) for d in per_intent))
    by = {(str(d.get("intent")), str(d.get("model"))): d for d in per_intent}
    body = []
    for intent in intents:
        line: list[Any] = [intent]
        for m in models:
            d = by.get((intent, m))
            line.append("—" if d is None else f"{d.get('solved')}/{d.get('n')} · {_f(d.get('combined'))}")
        body.append(line)
    return _table(["intent", *models], body, numeric_from=1, table_id="per-intent-table")


def _table(headers: Sequence[str], body: Sequence[Sequence[Any]], *, numeric_from: int = 99,
           table_id: str | None = None) -> str:
    def cls(i: int) -> str:
        return ' class="num"' if i >= numeric_from else ""

    head = "".join(f"<th{cls(i)}>{_e(h)}</th>" for i, h in enumerate(headers))
    rows = "".join("<tr>" + "".join(f"<td{cls(i)}>{_e(c)}</td>" for i, c in enumerate(r)) + "</tr>" for r in body)
    ident = f' id="{_e(table_id)}"' if table_id else ""
    return f'<div class="scroll"><table{ident}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _heatmap(artifact: Mapping[str, Any], models: Sequence[str]) -> str:
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
        return (f'<g class="cell unscored">{rect}fill="#e4e7eb"><title>{_e(key)} × {_e(model)}: '
                f'{_e(", ".join(cell.statuses))}: {_e(why)}</title></rect>'
                f'<text x="{x + w / 2}" y="{y + 15}" font-size="11" text-anchor="middle" fill="#5b6470">'
                f"{_e(short)}</text></g>")
    fill = _score_fill(cell.combined)
    if cell.solved and cell.solved == cell.scored:
        mark = "✓ "
    elif cell.solved:
        mark = f"{cell.solved}/{cell.scored} "
    else:
        mark = ""
    klass = "cell solved" if cell.solved else "cell"
    tip = (f"{key} × {model}: combined {cell.combined:.3f}; solved {cell.solved} of {cell.scored} scored"
           + (f"; {'; '.join(cell.reasons)}" if cell.reasons else ""))
    return (f'<g class="{klass}">{rect}fill="{fill}"><title>{_e(tip)}</title></rect>'
            f'<text x="{x + w / 2}" y="{y + 15}" font-size="11.5" text-anchor="middle" fill="{_ink_on(fill)}">'
            f"{_e(mark)}{cell.combined:.2f}</text></g>")


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def _scatter(artifact: Mapping[str, Any], colors: Mapping[str, str]) -> str:
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


def _trend(artifact: Mapping[str, Any], history: Sequence[Mapping[str, Any]], models: Sequence[str],
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


def _recommendations(artifact: Mapping[str, Any]) -> str:
    recs = artifact.get("recommendations")
    out = ['<section id="recommendations"><h2>Recommendations per intent</h2>']
    if not recs:
        out.append('<p class="note">no recommendation data in this run</p></section>')
        return "\n".join(out)
    body = []
    for r in recs:
        if not isinstance(r, Mapping):
            body.append([_e(r), "", "", "", "", ""])
            continue
        if r.get("model") is None:
            pick = f"insufficient evidence ({r.get('reason', '')})"
        else:
            pick = str(r.get("model"))
        ci = (f"{_f(r.get('combined'), 3)} [{_f(r.get('combined_low'), 3)}, {_f(r.get('combined_high'), 3)}]"
              if r.get("combined") is not None else "—")
        runner = ("—" if not r.get("runner_up") else
                  f"{r['runner_up']} {_f(r.get('runner_up_combined'), 3)} "
                  f"[{_f(r.get('runner_up_low'), 3)}, {_f(r.get('runner_up_high'), 3)}]")
        body.append([r.get("intent", r.get("task_pattern", "")), pick, r.get("confidence", "—"), ci,
                     r.get("n", "—"), runner])
    out.append(_table(["intent", "recommended model", "confidence", "combined [95% CI]", "n", "runner-up"], body))
    out.append("</section>")
    return "\n".join(out)


def _regressions(artifact: Mapping[str, Any]) -> str:
    regs = artifact.get("regressions") or []
    out = ['<section id="regressions"><h2>Regressions</h2>']
    if not regs:
        out.append('<div class="ok">no regression recorded for this run</div></section>')
        return "\n".join(out)
    body = regression_rows(regs)
    out.append(f'<div class="bad">{len(regs)} regression(s): this run failed the gate</div>')
    out.append(_table(REGRESSION_HEADERS, body))
    out.append("</section>")
    return "\n".join(out)


def _sessions(artifact: Mapping[str, Any]) -> str:
    sessions = artifact.get("sessions") or []
    out = [f'<section id="sessions"><h2>Sessions ({len(sessions)})</h2>']
    if not sessions:
        out.append('<p class="note">no session in this run</p></section>')
        return "\n".join(out)
    body = []
    missing = 0
    for s in sorted(sessions, key=lambda s: s.get("key", "")):
        source, _, ident = str(s.get("key", "")).partition("/")
        prompt = s.get("prompt_first_line")
        if prompt is None:
            missing += 1
        body.append([ident, source, s.get("intent", ""), s.get("size_band", ""),
                     "—" if prompt is None else prompt])
    head = "".join(f"<th>{h}</th>" for h in ("id", "source", "intent", "size", "prompt (first line)"))
    rows = "".join(f"<tr><td><code>{_e(r[0])}</code></td><td>{_e(r[1])}</td><td>{_e(r[2])}</td><td>{_e(r[3])}</td>"
                   f'<td class="prompt">{_e(r[4])}</td></tr>' for r in body)
    out.append(f'<div class="scroll"><table id="sessions-table"><thead><tr>{head}</tr></thead>'
               f"<tbody>{rows}</tbody></table></div>")
    if missing:
        out.append(f'<p class="note">{missing} session(s) without a prompt line: this artifact predates it '
                   "or was rebuilt from the store, which does not keep prompts.</p>")
    out.append("</section>")
    return "\n".join(out)


def _budget(artifact: Mapping[str, Any]) -> str:
    b = artifact.get("budget") or {}
    if not b:
        return ""
    cap = "none" if b.get("cap_usd") is None else _usd(b["cap_usd"])
    parts = [f"cap {cap}", f"spent {_usd(b.get('spent_usd'))}"]
    if "judge_spent_usd" in b:
        parts.append(f"judge {_usd(b.get('judge_spent_usd'))}")
    parts.append(f"skipped over budget {b.get('skipped', 0)}")
    if "requests_sent" in b:
        parts.append(f"model requests {b.get('requests_sent')}, cache hits {b.get('cache_hits', 0)}")
    return f'<section id="budget"><h2>Budget</h2><p>{_e("; ".join(parts))}</p></section>'


def render_html(artifact: Mapping[str, Any], history: Sequence[Mapping[str, Any]] = (),
                generator: str = "pytest-modelbench") -> str:
    """The whole report for one run.

    ``history``: the store's runs with this rubric version up to this one, oldest first, each
    ``{"run_id", "name", "created", "combined": {model: mean combined}, "session_set"}`` (``report/runs.py``);
    without it the trend shows this run alone.
    """
    rows = model_rows_of(artifact)
    models = [r.model for r in rows]
    for c in artifact.get("candidates") or []:
        if c.get("model") not in models:
            models.append(c.get("model"))
    models += sorted({o["model"] for o in artifact.get("outcomes") or []} - set(models))
    run_models = list(models)
    for p in history:
        for m in p.get("combined", {}):
            if m not in models:
                models.append(m)
    colors = {m: _color(i) for i, m in enumerate(models)}
    run = artifact.get("run") or {}
    title = f"modelbench {run.get('id', '')}"
    body = "\n".join((
        _header(artifact), _leaderboard(artifact), _regressions(artifact),
        '<div class="row">', _heatmap(artifact, run_models), _scatter(artifact, colors), "</div>",
        _trend(artifact, history, models, colors), _recommendations(artifact),
        _sessions(artifact), _budget(artifact), f'<p id="caveat">{_e(CAVEAT)}</p>',
        f'<p class="meta">generated by {_e(generator)} from the run\'s JSON artifact; this file loads nothing.</p>',
    ))
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head>\n"
            f"<body><main>\n{body}\n</main></body></html>\n")


__all__ = ["CSP", "Cell", "heatmap_cells", "model_rows_of", "pareto_front", "render_html"]
