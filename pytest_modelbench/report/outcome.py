"""One replay, opened: the HTML ``<details>`` of the report and the text of ``modelbench show --outcome``.

Pure module: takes one outcome of the JSON artifact (``store/artifact.py``) as a mapping. What is shown comes from
the outcome's evidence: the replay transcript (prompt, follow-ups, the model's messages and tool calls with their
results), the diff, the check before and after, each rubric component with its value or its missing reason, tokens,
cost, time, attempts and cache status. Every text passes through ``report.markup.esc``; a long text is cut with a
visible note (the full text stays in the artifact).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pytest_modelbench.report.markup import esc as _e
from pytest_modelbench.report.tables import fmt as _f
from pytest_modelbench.report.tables import usd as _usd

# Why these limits: a 500-outcome report must stay a file a browser opens quickly (docs/report.md states the budget).
MESSAGE_CHARS = 3000  # one transcript message, tool call or tool result
TRANSCRIPT_CHARS = 16000  # a whole transcript: later messages are left out, with a note
DIFF_CHARS = 8000
DETAIL_CHARS = 2000  # the check's failure detail
# So one outcome is at most about 30 KB of HTML: 500 of them stay under OUTCOMES_500_BUDGET whatever the models wrote.
OUTCOME_BYTES = 30_000
OUTCOMES_500_BUDGET = 500 * OUTCOME_BYTES


def outcome_key(outcome: Mapping[str, Any]) -> str:
    """``<source>/<session>[<model>]`` as pytest's node id names it (``#<repeat>`` after it for repeats > 0)."""
    repeat = int(outcome.get("repeat_index") or 0)
    return f"{outcome.get('source')}/{outcome.get('session_id')}[{outcome.get('model')}]" + (
        f"#{repeat}" if repeat else "")


def anchor(session_key: str, model: str, repeat: int = 0) -> str:
    """A stable HTML id for one outcome: readable, and unique even when two keys clean up to the same text."""
    raw = f"{session_key}\x00{model}\x00{repeat}"
    clean = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{session_key}-{model}").strip("-")[:60]
    return f"o-{clean}-{hashlib.sha1(raw.encode()).hexdigest()[:8]}"


def outcome_anchor(outcome: Mapping[str, Any]) -> str:
    return anchor(f"{outcome.get('source')}/{outcome.get('session_id')}", str(outcome.get("model")),
                  int(outcome.get("repeat_index") or 0))


def cut(text: str, limit: int) -> tuple[str, str]:
    """``text`` up to ``limit`` characters and, when cut, the note saying how much was left out."""
    if len(text) <= limit:
        return text, ""
    return text[:limit], f"cut: {len(text) - limit} more characters of {len(text)} are in the JSON artifact"


def _content(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # content parts: keep the text ones, name the others
        parts = []
        for p in content:
            if isinstance(p, Mapping) and p.get("type") == "text":
                parts.append(str(p.get("text", "")))
            else:
                parts.append(f"[{p.get('type', 'part') if isinstance(p, Mapping) else 'part'}]")
        return "\n".join(parts)
    return str(content)


def _tool_calls(message: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, arguments) of an assistant message's tool calls (OpenAI shape)."""
    calls = []
    for call in message.get("tool_calls") or []:
        fn = (call.get("function") or {}) if isinstance(call, Mapping) else {}
        args = fn.get("arguments", "")
        calls.append((str(fn.get("name", "?")), _readable_args(args)))
    return calls


def _readable_args(args: Any) -> str:
    """A tool call's JSON arguments as ``key: value`` lines, a file's content as its lines (not one escaped
    string); arguments that are not a JSON object are shown as they came."""
    value = args
    if isinstance(args, str):
        try:
            value = json.loads(args)
        except ValueError:
            return args
    if not isinstance(value, Mapping):
        return args if isinstance(args, str) else json.dumps(args)
    lines = []
    for k, v in value.items():
        text = v if isinstance(v, str) else json.dumps(v)
        lines.append(f"{k}:\n{text}" if "\n" in text else f"{k}: {text}")
    return "\n".join(lines)


def _messages(transcript: Sequence[Any]) -> Iterator[tuple[str, str, str, list[tuple[str, str]]] | int]:
    """The transcript's messages as (role, label, text, tool calls), until about TRANSCRIPT_CHARS are shown; then
    the number of messages left out (an int), once. Shared by the HTML and the terminal views."""
    users, used = 0, 0
    for i, m in enumerate(transcript):
        if not isinstance(m, Mapping):
            continue
        if used >= TRANSCRIPT_CHARS:
            yield len(transcript) - i
            return
        role = str(m.get("role", "?"))
        users += role == "user"
        label = {"user": "prompt" if users == 1 else "follow-up", "assistant": "model",
                 "tool": f"tool result{' ' + str(m['name']) if m.get('name') else ''}"}.get(role, role)
        text, calls = _content(m), _tool_calls(m)
        used += min(len(text), MESSAGE_CHARS) + sum(min(len(args), MESSAGE_CHARS) for _, args in calls)
        yield role, label, text, calls


def facts(outcome: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The numbers of one replay, as (label, value): status, scores, tokens, cost, time, attempts, cache."""
    ev = outcome.get("evidence") or {}
    replay = ev.get("replay") or {}
    rows = [("status", str(outcome.get("status"))),
            ("solved", "—" if outcome.get("solved") is None else "yes" if outcome.get("solved") else "no"),
            ("combined", _f(outcome.get("combined_score"), 3)),
            ("cost", _usd(outcome.get("cost_usd"))),
            ("time", f"{_f(outcome.get('duration_seconds'))} s"),
            ("turns", str(outcome.get("num_turns", "—")))]
    if replay:
        rows += [("mode", str(replay.get("mode", "—"))),
                 ("tokens", f"{replay.get('prompt_tokens', '—')} prompt, {replay.get('completion_tokens', '—')} "
                            "completion"),
                 ("model calls", f"{replay.get('model_calls', '—')}; HTTP attempts {replay.get('http_attempts', '—')}"
                                 + (f"; retried: {', '.join(map(str, replay['retried_errors']))}"
                                    if replay.get("retried_errors") else "")),
                 ("cache", f"{replay.get('cached_calls', 0)} of {replay.get('model_calls', '—')} call(s) answered "
                           "from the cache" if replay.get("cached_calls") else "not from the cache")]
        if replay.get("provider_models"):
            rows.append(("provider model", ", ".join(map(str, replay["provider_models"]))))
        if replay.get("edit_errors"):
            rows.append(("edit errors", "; ".join(map(str, replay["edit_errors"]))))
    if outcome.get("skip_reason"):
        rows.append(("reason", str(outcome["skip_reason"])))
    if ev.get("error"):
        rows.append(("error", str(ev["error"])))
    return rows


def _check_line(label: str, run: Mapping[str, Any] | None) -> tuple[str, str]:
    if not run:
        return label, "not run"
    text = (f"{run.get('passed', 0)} passed, {run.get('failed', 0)} failed, {run.get('errors', 0)} errors"
            f" of {run.get('total', '?')}; exit {run.get('exit_code')}" + ("; timed out" if run.get("timed_out")
                                                                          else ""))
    return label, text


def checks(outcome: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(label, summary, failure detail) of the check before and after the candidate's change."""
    tests = (outcome.get("evidence") or {}).get("tests") or {}
    out = []
    for when in ("before", "after"):
        run = tests.get(when)
        label, text = _check_line(f"check {when}", run)
        detail = str((run or {}).get("detail") or "")
        out.append((label, text, detail))
    return out


def _html_pre(text: str, limit: int, klass: str = "") -> str:
    shown, note = cut(text, limit)
    cls = f' class="{klass}"' if klass else ""
    return f"<pre{cls}>{_e(shown)}</pre>" + (f'<p class="cut">{_e(note)}</p>' if note else "")


def _diff_html(diff: str) -> str:
    shown, note = cut(diff, DIFF_CHARS)
    lines = []
    for line in shown.splitlines():
        klass = ("add" if line.startswith("+") and not line.startswith("+++") else
                 "del" if line.startswith("-") and not line.startswith("---") else "")
        lines.append(f'<span class="{klass}">{_e(line)}</span>' if klass else _e(line))
    return '<pre class="diff">' + "\n".join(lines) + "</pre>" + (f'<p class="cut">{_e(note)}</p>' if note else "")


def outcome_html(outcome: Mapping[str, Any]) -> str:
    """One replay as a ``<details>`` element (opens without script; its id is the heatmap cell's link)."""
    ev = outcome.get("evidence") or {}
    replay = ev.get("replay") or {}
    status = str(outcome.get("status"))
    verdict = ("solved" if outcome.get("solved") else "not solved") if status == "complete" else status
    summary = (f"<code>{_e(outcome.get('session_id'))}</code> × <code>{_e(outcome.get('model'))}</code>"
               + (f" (repeat {_e(outcome.get('repeat_index'))})" if outcome.get("repeat_index") else "")
               + f' — <span class="verdict">{_e(verdict)}</span>, combined {_e(_f(outcome.get("combined_score")))}')
    # The id is on the body, inside the <details>: following a link to it makes the browser open the <details>
    # (the HTML "ancestor details revealing" step of fragment navigation), no script needed.
    out = [f'<details class="outcome"><summary>{summary}</summary>',
           f'<div class="body" id="{_e(outcome_anchor(outcome))}"><table class="facts">']
    out += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts(outcome)]
    out.append("</table>")
    transcript = replay.get("transcript") or []
    out.append("<h4>Transcript</h4>")
    if not transcript:
        out.append('<p class="note">no model transcript: a reference candidate (the recorded change or none) or a '
                   "replay that did not reach the model</p>")
    for entry in _messages(transcript):
        if isinstance(entry, int):
            out.append(f'<p class="cut">cut: {entry} more message(s) are in the JSON artifact</p>')
            break
        role, label, text, calls = entry
        out.append(f'<div class="msg {_e(role)}"><div class="who">{_e(label)}</div>')
        if text:
            out.append(_html_pre(text, MESSAGE_CHARS))
        for name, args in calls:
            out.append(f'<div class="who">tool call {_e(name)}</div>' + _html_pre(args, MESSAGE_CHARS, "args"))
        out.append("</div>")
    out.append("<h4>Diff</h4>")
    diff = str(ev.get("diff") or "")
    out.append(_diff_html(diff) if diff else '<p class="note">no change</p>')
    out.append("<h4>Check</h4><table class=\"facts\">")
    for label, text, detail in checks(outcome):
        out.append(f"<tr><th>{_e(label)}</th><td>{_e(text)}"
                   + (_html_pre(detail, DETAIL_CHARS, "detail") if detail else "") + "</td></tr>")
    out.append("</table><h4>Rubric</h4><table class=\"facts\">")
    for c in outcome.get("components") or []:
        value = c.get("value")
        shown = f"{value:.3f}" if isinstance(value, int | float) else f"missing: {c.get('reason') or 'no reason'}"
        out.append(f"<tr><th>{_e(c.get('name'))}</th><td>{_e(shown)}</td></tr>")
    out.append("</table></div></details>")
    return "".join(out)


def outcomes_section(outcomes: Sequence[Mapping[str, Any]], models: Sequence[str]) -> str:
    """Every replay of the run, one heading per model (the leaderboard row's link) and one ``<details>`` each."""
    out = [f'<section id="replays"><h2>Replays ({len(outcomes)})</h2>',
           '<p class="note">click a replay (or a heatmap cell, or a model in the leaderboard) to open it: prompt, '
           "the model's messages and tool calls, diff, check and rubric. Long texts are cut; the JSON artifact "
           "keeps them whole.</p>"]
    order = list(models) + sorted({str(o.get("model")) for o in outcomes} - set(models))
    for model in order:
        mine = sorted((o for o in outcomes if o.get("model") == model),
                      key=lambda o: (str(o.get("source")), str(o.get("session_id")), int(o.get("repeat_index") or 0)))
        if not mine:
            continue
        out.append(f'<h3 id="{_e(model_anchor(model))}"><code>{_e(model)}</code> ({len(mine)})</h3>')
        out += [outcome_html(o) for o in mine]
    out.append("</section>")
    return "\n".join(out)


def model_anchor(model: str) -> str:
    return "m-" + re.sub(r"[^A-Za-z0-9_-]+", "-", model).strip("-")[:60] + "-" + hashlib.sha1(
        model.encode()).hexdigest()[:6]


def outcome_text(outcome: Mapping[str, Any], width: int = 100) -> str:
    """The same view for the terminal (``modelbench show RUN --outcome KEY``); texts cut like the report's."""
    lines = [f"outcome {outcome_key(outcome)}", ""]
    lines += [f"  {k:<15} {v}" for k, v in facts(outcome)]
    ev = outcome.get("evidence") or {}
    transcript = (ev.get("replay") or {}).get("transcript") or []
    lines += ["", "transcript:"]
    if not transcript:
        lines.append("  (no model transcript: a reference candidate, or the replay did not reach the model)")
    for entry in _messages(transcript):
        if isinstance(entry, int):
            lines.append(f"(cut: {entry} more message(s) are in the JSON artifact)")
            break
        _, label, text, calls = entry
        lines.append(f"--- {label} " + "-" * max(0, width - len(label) - 5))
        shown, note = cut(text, MESSAGE_CHARS)
        lines += shown.splitlines() or [""]
        for name, args in calls:
            lines.append(f"[tool call {name}] {cut(args, MESSAGE_CHARS)[0]}")
        if note:
            lines.append(f"({note})")
    diff = str(ev.get("diff") or "")
    lines += ["", "diff:"]
    shown, note = cut(diff, DIFF_CHARS)
    lines += shown.splitlines() if diff else ["  (no change)"]
    if note:
        lines.append(f"({note})")
    lines += ["", "check:"]
    for label, text, detail in checks(outcome):
        lines.append(f"  {label}: {text}")
        if detail:
            lines += ["    " + line for line in cut(detail, DETAIL_CHARS)[0].splitlines()]
    lines += ["", "rubric:"]
    for c in outcome.get("components") or []:
        value = c.get("value")
        shown_value = f"{value:.3f}" if isinstance(value, int | float) else f"missing: {c.get('reason')}"
        lines.append(f"  {c.get('name', '?'):<12} {shown_value}")
    return "\n".join(lines)


def find_outcome(outcomes: Sequence[Mapping[str, Any]], key: str) -> Mapping[str, Any] | None:
    """The outcome named ``<source>/<session>[<model>]`` (``#<repeat>`` for a later repeat)."""
    for o in outcomes:
        if outcome_key(o) == key:
            return o
    return None


OUTCOME_CSS = """
details.outcome { border: 1px solid var(--line); border-radius: 4px; margin: 4px 0; }
details.outcome > summary { cursor: pointer; padding: 4px 8px; background: var(--band); }
details.outcome[open] > summary { border-bottom: 1px solid var(--line); }
details.outcome .body:target { outline: 2px solid #1f5fa8; }
details.outcome .body { padding: 6px 10px; }
details.outcome h4 { margin: 10px 0 4px; font-size: 13px; }
details.outcome pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 2px 0; padding: 6px 8px;
                      background: #f6f8fa; border-radius: 3px; font-size: 12px; max-height: 420px; overflow: auto; }
details.outcome .msg { margin: 4px 0; }
details.outcome .who { font-size: 12px; font-weight: 600; color: var(--muted); }
details.outcome .msg.assistant .who { color: #1f5fa8; }
pre.diff span.add { background: #e6ffec; display: block; }
pre.diff span.del { background: #ffebe9; display: block; }
p.cut { color: #8a5a00; font-size: 12px; margin: 0 0 6px; }
table.facts th { text-align: left; background: none; width: 130px; }
"""

__all__ = ["OUTCOMES_500_BUDGET", "OUTCOME_BYTES", "OUTCOME_CSS", "anchor", "cut", "find_outcome", "model_anchor",
           "outcome_anchor", "outcome_html", "outcome_key", "outcome_text", "outcomes_section"]
