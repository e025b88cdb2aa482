"""The HTML report: one self-contained file (inline CSS, hand-written SVG, no script, nothing fetched).

Pure module: takes the JSON artifact of a run (``store/artifact.py``) and the trend history of the store
(``report/runs.py``) and returns a string; the charts are drawn by ``report/charts.py``. Every text that came from
a session, a model or a user passes through ``report.markup.esc`` (``html.escape``). A Content-Security-Policy
forbids every fetch and every script as a second guard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_modelbench.analysis.leaderboard import RANK_RULE
from pytest_modelbench.report import CAVEAT, REGRESSION_HEADERS, regression_rows
from pytest_modelbench.report.charts import (
    Cell,
    heatmap_cells,
    heatmap_section,
    pareto_front,
    reference_models,
    scatter_section,
    trend_section,
)
from pytest_modelbench.report.markup import esc as _e
from pytest_modelbench.report.outcome import OUTCOME_CSS, model_anchor, outcomes_section
from pytest_modelbench.report.tables import fmt as _f
from pytest_modelbench.report.tables import leaderboard_table, model_rows_of
from pytest_modelbench.report.tables import usd as _usd

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22")

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


def _color(model_index: int) -> str:
    return PALETTE[model_index % len(PALETTE)]


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
        ("recommendations", "recommendations"), ("sessions", "sessions"), ("replays", "replays"),
        ("caveat", "caveat")))
    out = [f"<h1>{title}</h1>", f'<p class="meta">{" · ".join(bits)}</p>', f"<nav>{nav}</nav>"]
    for w in artifact.get("warnings") or []:
        out.append(f'<div class="warn">warning: {_e(w)}</div>')
    return "\n".join(out)


def _leaderboard(artifact: Mapping[str, Any]) -> str:
    rows = model_rows_of(artifact)
    out = ['<section id="leaderboard"><h2>Leaderboard</h2>']
    if not rows:
        out.append('<p class="note">no model was scored in this run</p></section>')
        return "\n".join(out)
    headers, body = leaderboard_table(rows)
    out.append(_table(headers, body, numeric_from=2, table_id="leaderboard-table",
                      links={1: [f"#{model_anchor(r.model)}" for r in rows]}))
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
           table_id: str | None = None, links: Mapping[int, Sequence[str]] | None = None) -> str:
    """``links``: per column index, one href per row (the leaderboard's model opens its replays)."""
    def cls(i: int) -> str:
        return ' class="num"' if i >= numeric_from else ""

    def cell(i: int, j: int, c: Any) -> str:
        href = (links or {}).get(i)
        return f'<a href="{_e(href[j])}">{_e(c)}</a>' if href else _e(c)

    head = "".join(f"<th{cls(i)}>{_e(h)}</th>" for i, h in enumerate(headers))
    rows = "".join("<tr>" + "".join(f"<td{cls(i)}>{cell(i, j, c)}</td>" for i, c in enumerate(r)) + "</tr>"
                   for j, r in enumerate(body))
    ident = f' id="{_e(table_id)}"' if table_id else ""
    return f'<div class="scroll"><table{ident}><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


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
        '<div class="row">', heatmap_section(artifact, run_models), scatter_section(artifact, colors), "</div>",
        trend_section(artifact, history, models, colors), _recommendations(artifact),
        _sessions(artifact), outcomes_section(artifact.get("outcomes") or [], run_models),
        _budget(artifact), f'<p id="caveat">{_e(CAVEAT)}</p>',
        f'<p class="meta">generated by {_e(generator)} from the run\'s JSON artifact; this file loads nothing.</p>',
    ))
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}{OUTCOME_CSS}</style></head>\n"
            f"<body><main>\n{body}\n</main></body></html>\n")


__all__ = ["CSP", "Cell", "heatmap_cells", "model_rows_of", "pareto_front", "reference_models", "render_html"]
