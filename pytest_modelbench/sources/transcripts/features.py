"""A session's features, merged from the parser states of its files (trunk and sub-agents).

:func:`summarize` gives the first prompt and follow-up turns, intent, size band, language, files touched and read,
tools used, original model(s), model calls, tokens, cost, test commands and whether they ended green. All text
was redacted by the parsers before it reached a state.
Pure module: no pytest.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from pytest_modelbench.intent import explain_intent, size_band
from pytest_modelbench.sources.transcripts.common import Tokens, estimate_cost, language_of
from pytest_modelbench.sources.transcripts.simulate import relative
from pytest_modelbench.sources.transcripts.state import ParserState


@dataclass(frozen=True)
class SessionFeatures:
    """What the index knows about one past session (prompts and commands already redacted; file contents kept)."""

    key: str
    source: str
    session_id: str
    path: str
    cwd: str
    started: str | None
    ended: str | None
    prompt: str
    followups: tuple[str, ...]
    intent: str
    intent_reason: str
    size_band: str
    language: str
    models: tuple[str, ...]
    model: str | None
    calls: int
    tokens: Tokens
    cache_create_1h: int
    cost_usd: float | None
    cost_estimated: bool
    tools: dict[str, int]
    files_touched: tuple[str, ...]
    files_read: tuple[str, ...]
    test_commands: tuple[tuple[str, bool | None], ...]
    outcome: str  # green | red | unknown | none: how the session's last test command ended
    check_command: str | None
    branch: str | None = None
    git_commit: str | None = None
    version: str | None = None
    subagents: int = 0
    broken_lines: int = 0
    # exact | incomplete (some calls carry only a placeholder output count, or none) | unknown (no usage at all)
    tokens_status: str = "exact"

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}  # not asdict(): no deep copies needed
        d["tokens"] = self.tokens.to_dict()
        d["test_commands"] = [list(t) for t in self.test_commands]
        return d


def merged_ops(states: Sequence[ParserState]) -> list[dict[str, Any]]:
    """The operations of every part of a session on the branch it ended on, in time order (each part's own order
    kept)."""
    return list(heapq.merge(*[s.on_branch(s.ops, lambda op: op.get("line")) for s in states],
                            key=lambda op: op.get("ts") or ""))


def summarize(key: str, states: Sequence[ParserState], path: str) -> SessionFeatures | None:
    """Merge the parser states of a session's files (trunk and sub-agents); None without a trunk file."""
    trunks = sorted((s for s in states if s.role == "trunk"), key=lambda s: s.first_ts or "")
    if not trunks:
        return None
    # One API call counts once: prefer the trunk's copy (sidechain replays repeat message ids), then the final one.
    groups: dict[str, list[Any]] = {}
    for s in sorted(states, key=lambda s: s.role != "trunk"):
        for mid, row in s.groups.items():
            old = groups.get(mid)
            if old is None or (old[6] and not row[6]) or (old[6] == row[6] and row[1] > old[1]):
                groups[mid] = row
    tokens = Tokens()
    hour = 0
    cost: float | None = 0.0
    estimated = False
    per_model: dict[str, int] = {}
    placeholders = 0
    for row in groups.values():
        inp, out, create, create_1h, cache_read, model, _side, cost_usd, _ts = row[:9]
        placeholders += placeholder(row)
        t = Tokens(inp, out, cache_read, create)
        tokens += t
        hour += create_1h
        if model:
            per_model[model] = per_model.get(model, 0) + 1
        if cost_usd is not None:
            cost = None if cost is None else cost + float(cost_usd)
        else:
            estimated = True
            c = estimate_cost(model, t, create_1h)
            cost = None if (cost is None or c is None) else cost + c
    # Model calls without any usage: legacy Codex rollouts (no token events) count their calls from the items.
    untracked = sum(s.item_calls for s in states if s.format == "codex" and not s.groups)
    status = "unknown" if untracked and not groups else "incomplete" if untracked or placeholders else "exact"
    if status == "unknown":
        cost = None  # never a silent $0 for usage nobody recorded
    if cost is not None:
        cost = round(cost, 6)
    # Prompts on the branch the session ended on; the same text sent again is a turn of its own (duplicated lines
    # were already dropped by uuid).
    prompts = [p for s in trunks for p in s.on_branch(s.all_prompts, lambda p: p[2] if len(p) > 2 else None)]
    prompts.sort(key=lambda p: p[0] or "")
    texts = [p[1] for p in prompts]
    cwd = next((s.cwd for s in trunks if s.cwd), "") or ""
    ops = merged_ops(states)
    touched: list[str] = []
    read: list[str] = []
    tests: list[tuple[str, bool | None]] = []
    for op in ops:
        kind = op.get("op")
        if kind == "test":
            tests.append((op.get("cmd") or "", op.get("ok")))
            continue
        if kind in ("seen", "unreadable"):  # unreadable: no path to name
            continue
        rel = relative(str(op.get("path") or ""), cwd) or str(op.get("path"))
        bucket = read if kind == "read" else touched
        if rel not in bucket:
            bucket.append(rel)
    outcome = "none"
    if tests:
        last = tests[-1][1]
        outcome = "unknown" if last is None else ("green" if last else "red")
    green = [cmd for cmd, ok in tests if ok]
    check = green[-1] if green else (tests[-1][0] if tests else None)
    prompt = texts[0] if texts else ""
    intent, why = explain_intent(prompt)
    models = tuple(sorted(per_model, key=lambda m: (-per_model[m], m)))
    tools: dict[str, int] = {}
    for s in states:
        for name, n in s.tools.items():
            tools[name] = tools.get(name, 0) + n
    first = trunks[0]
    return SessionFeatures(
        key=key, source=first.format, session_id=first.session_id or key.split("/", 1)[-1], path=path,
        cwd=cwd, started=min((s.first_ts for s in trunks if s.first_ts), default=None),
        ended=max((s.last_ts for s in states if s.last_ts), default=None),
        prompt=prompt, followups=tuple(texts[1:]), intent=intent, intent_reason=why,
        size_band=size_band(len(groups) + untracked, tokens.output),
        language=language_of(touched) if language_of(touched) != "unknown" else language_of(read),
        models=models, model=models[0] if models else None, calls=len(groups) + untracked, tokens=tokens,
        cache_create_1h=hour,
        cost_usd=cost, cost_estimated=estimated and cost is not None, tools=dict(sorted(tools.items())),
        files_touched=tuple(touched), files_read=tuple(read), test_commands=tuple(tests), outcome=outcome,
        check_command=check, branch=first.branch, git_commit=first.git_commit,
        version=first.version, subagents=sum(1 for s in states if s.role == "subagent"),
        broken_lines=sum(s.broken for s in states), tokens_status=status,
    )


# A real output count is rarely under one token per 4-5 characters shown; one that implies more than 8 characters
# per token (with slack for short replies) is the placeholder of a streamed message whose final usage was not saved.
PLACEHOLDER_CHARS_PER_TOKEN = 8
PLACEHOLDER_SLACK = 64


def placeholder(row: Sequence[Any]) -> bool:
    """Whether a model call's output count is only a placeholder (Claude Code rows record the characters shown)."""
    if len(row) < 10 or not isinstance(row[9], int):
        return False
    return bool(row[9] > PLACEHOLDER_CHARS_PER_TOKEN * row[1] + PLACEHOLDER_SLACK)
