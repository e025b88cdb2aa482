"""Replay modes for real candidates: zero-shot, iterative and agent (product.md §5).

Every model call goes through :class:`~pytest_modelbench.models.client.ModelClient` (the one door). Follow-up user
turns of the original session are replayed in order. Requests never contain machine-specific paths, so a rerun
sends identical requests and the response cache can answer them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_modelbench.models.client import CloudNotAllowed, ModelCallError, ModelClient, OverBudget, Reply
from pytest_modelbench.models.redact import redact_obj
from pytest_modelbench.records import MAX_CONTEXT_CHARS, Session
from pytest_modelbench.replay import ReplayResult
from pytest_modelbench.replay.agent import SYSTEM_NATIVE, SYSTEM_TEXT, TOOLS, ToolBox, ToolCall, text_tool_calls
from pytest_modelbench.replay.edits import apply_edits, extract_code, parse_edits
from pytest_modelbench.replay.workspace import copy_workspace, walk_files
from pytest_modelbench.runners import Runner

MODES = ("zero-shot", "iterative", "agent")
SYSTEM_EDITS = (
    "You are a software engineer. Answer with the complete new content of every file you change, each in a fenced "
    "code block whose opening line names the path, like ```python path=pkg/module.py. You may instead use "
    "SEARCH/REPLACE blocks: the path on its own line, then <<<<<<< SEARCH, the exact old lines, =======, the new "
    "lines, >>>>>>> REPLACE."
)


@dataclass(frozen=True)
class ReplayConfig:
    mode: str | None = None  # None: zero-shot for function sessions, agent for repository sessions
    max_iterations: int = 3
    max_turns: int = 20
    tool_protocol: str = "native"  # or "text"


def default_mode(session: Session) -> str:
    return "zero-shot" if session.check.kind == "function" else "agent"


@dataclass
class _Tally:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = 0.0
    cached: int = 0
    ahead: int = 0  # calls the door made ahead of the item
    attempts: int = 0
    retried_errors: list[str] = field(default_factory=list)
    provider_models: set[str] = field(default_factory=set)
    # Every attempt of each call that needed more than one, or waited for a provider's rate-limit window.
    retried_calls: list[dict[str, Any]] = field(default_factory=list)

    def log_attempts(self, call: int, log: list[dict[str, Any]]) -> None:
        if len(log) > 1 or any(a.get("waited_s") for a in log):
            self.retried_calls.append({"call": call, "attempts": log})

    def add(self, reply: Reply) -> None:
        self.log_attempts(self.calls + 1, reply.attempt_log)
        self.calls += 1
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        self.cached += int(reply.cached)
        self.ahead += int(reply.ahead)
        self.attempts += reply.attempts
        self.retried_errors += reply.errors
        if reply.provider_model:
            self.provider_models.add(reply.provider_model)
        if self.cost is not None:
            self.cost = None if reply.cost_usd is None else self.cost + reply.cost_usd


class _Cancelled(Exception):
    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def replay_with_model(session: Session, model: str, workspace: Path, *, client: ModelClient, runner: Runner,
                      checker: Any, pristine: Path, config: ReplayConfig) -> ReplayResult:
    """Let ``model`` work on ``workspace``. Model errors end the replay with a status, never with an exception."""
    mode = config.mode or default_mode(session)
    tally = _Tally()
    transcript: list[dict[str, Any]] = []
    evidence: dict[str, Any] = {"mode": mode}
    if mode == "iterative":
        evidence["leaks_test_output"] = True
    status, reason = "complete", ""
    try:
        if mode == "agent":
            evidence.update(_agent(session, model, workspace, client, runner, config, tally, transcript))
        else:
            evidence.update(_one_shot(session, model, workspace, client, tally, transcript))
            if mode == "iterative":
                evidence.update(_iterate(session, model, workspace, client, checker, pristine, config, tally,
                                         transcript))
    except _Cancelled as exc:
        status, reason = exc.status, exc.reason
    evidence.update({
        "model_calls": tally.calls, "prompt_tokens": tally.prompt_tokens, "completion_tokens": tally.completion_tokens,
        "cached_calls": tally.cached, "cached": tally.calls > 0 and tally.cached == tally.calls,
        "calls_made_ahead": tally.ahead,
        "http_attempts": tally.attempts, "provider_models": sorted(tally.provider_models),
        "retried_errors": tally.retried_errors, "retried_calls": tally.retried_calls,
        "transcript": redact_obj(transcript),
    })
    if reason:
        evidence["error"] = reason
    return ReplayResult(turns=tally.calls, cost_usd=tally.cost, evidence=evidence, status=status, reason=reason)


def _call(client: ModelClient, model: str, messages: list[dict[str, Any]], tally: _Tally,
          tools: list[dict[str, Any]] | None = None) -> Reply:
    try:
        reply = client.complete(model, messages, tools)
    except OverBudget as exc:
        raise _Cancelled("cancelled-over-budget", f"cancelled-over-budget: {exc}") from None
    except CloudNotAllowed as exc:
        raise _Cancelled("skipped", str(exc)) from None
    except ModelCallError as exc:
        tally.retried_errors += exc.errors
        tally.log_attempts(tally.calls + 1, exc.attempt_log)
        raise _Cancelled("failed", f"model call failed after retries: {exc}") from None
    tally.add(reply)
    return reply


def _files_context(workspace: Path) -> str:
    parts, used = [], 0
    for rel, path in sorted(walk_files(workspace).items()):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        block = f"```path={rel}\n{text}```\n"
        if used + len(block) > MAX_CONTEXT_CHARS:
            parts.append(f"(more files not shown: {rel} ...)\n")
            break
        parts.append(block)
        used += len(block)
    return "".join(parts)


def _apply_answer(session: Session, workspace: Path, content: str | None) -> dict[str, Any]:
    if session.check.kind == "function":
        code = extract_code(content or "")
        if code is None:
            return {"changed": [], "edit_errors": ["no code in the answer"]}
        target = workspace / session.check.solution_file
        if f"def {session.check.entry_point}" not in code and target.exists():
            code = target.read_text(encoding="utf-8") + code  # a bare body completes the prompt's stub
        target.write_text(code, encoding="utf-8")
        return {"changed": [session.check.solution_file], "edit_errors": []}
    edits = parse_edits(content or "")
    if not edits:
        return {"changed": [], "edit_errors": ["no edits found in the answer"]}
    applied = apply_edits(workspace, edits)
    return {"changed": applied.changed, "edit_errors": applied.errors}


def first_messages(session: Session, workspace: Path | None) -> list[dict[str, Any]]:
    """The messages of a zero-shot replay's first call; ``workspace`` (the session's start) is read only for a
    repository session. The controller sends the same ones ahead of the item (run/ahead.py)."""
    if session.check.kind == "function":
        return [{"role": "user", "content": session.prompt}]
    assert workspace is not None, "a repository session's first request lists its files"
    return [{"role": "system", "content": SYSTEM_EDITS},
            {"role": "user", "content": f"{session.prompt}\n\nRepository files:\n{_files_context(workspace)}"}]


def calls_ahead(session: Session, mode: str | None) -> bool:
    """Whether a replay's first answers can be asked for before its item runs: only when its requests depend on
    nothing but the session and the previous answers (zero-shot, and the zero-shot start of iterative). An agent's
    next request depends on what its tools did in the sandbox, which happens in the worker."""
    return (mode or default_mode(session)) in ("zero-shot", "iterative")


def _one_shot(session: Session, model: str, workspace: Path, client: ModelClient, tally: _Tally,
              transcript: list[dict[str, Any]]) -> dict[str, Any]:
    messages = first_messages(session, workspace)
    changed: list[str] = []
    errors: list[str] = []
    for turn in (None, *session.turns):
        if turn is not None:
            messages.append({"role": "user", "content": turn})
        transcript.extend(messages[len(transcript):])
        reply = _call(client, model, messages, tally)
        messages.append({"role": "assistant", "content": reply.content or ""})
        transcript.append(messages[-1])
        result = _apply_answer(session, workspace, reply.content)
        changed += result["changed"]
        errors += result["edit_errors"]
    return {"changed": sorted(set(changed)), "edit_errors": errors}


def _iterate(session: Session, model: str, workspace: Path, client: ModelClient, checker: Any, pristine: Path,
             config: ReplayConfig, tally: _Tally, transcript: list[dict[str, Any]]) -> dict[str, Any]:
    rounds = 0
    errors: list[str] = []
    messages = list(transcript)
    for _ in range(config.max_iterations):
        with tempfile.TemporaryDirectory(prefix="modelbench-iter-", dir=getattr(checker, "scratch", None)) as tmp:
            counts = checker.run(session, copy_workspace(workspace, Path(tmp) / "ws"), pristine).counts
        if counts.all_passed:
            break
        rounds += 1
        feedback = (f"The check failed ({counts.passed}/{counts.total} tests passed). Output:\n{counts.detail}\n"
                    "Fix the code; answer in the same format as before.")
        messages.append({"role": "user", "content": feedback})
        transcript.append(messages[-1])
        reply = _call(client, model, messages, tally)
        messages.append({"role": "assistant", "content": reply.content or ""})
        transcript.append(messages[-1])
        errors += _apply_answer(session, workspace, reply.content)["edit_errors"]
    return {"iterations": rounds, "iteration_edit_errors": errors}


def _agent(session: Session, model: str, workspace: Path, client: ModelClient, runner: Runner,
           config: ReplayConfig, tally: _Tally, transcript: list[dict[str, Any]]) -> dict[str, Any]:
    text = config.tool_protocol == "text"
    listing = "\n".join(sorted(walk_files(workspace)))
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_TEXT if text else SYSTEM_NATIVE},
        {"role": "user", "content": f"{session.prompt}\n\nFiles in the repository:\n{listing}"},
    ]
    box = ToolBox(workspace, runner)
    turns_left = config.max_turns
    stopped_by_limit = False
    for turn in (None, *session.turns):
        if turn is not None:
            messages.append({"role": "user", "content": turn})
        box.finished = False
        while not box.finished:
            if turns_left <= 0:
                stopped_by_limit = True
                break
            turns_left -= 1
            reply = _call(client, model, messages, tally, None if text else TOOLS)
            if text:
                calls = text_tool_calls(reply.content, tally.calls)
                messages.append({"role": "assistant", "content": reply.content or ""})
            else:
                calls = [ToolCall(c.get("id") or f"call_{tally.calls}_{i}", str(c.get("name")),
                                  str(c.get("arguments") or "")) for i, c in enumerate(reply.tool_calls)]
                messages.append({"role": "assistant", "content": reply.content,
                                 "tool_calls": [{"id": c.id, "type": "function",
                                                 "function": {"name": c.name, "arguments": c.arguments}}
                                                for c in calls] or None})
                if not calls:
                    messages[-1].pop("tool_calls")
            if not calls:
                break  # an answer without tool calls ends this user turn
            results = [(c, box.call(c)) for c in calls]
            if text:
                body = "\n\n".join(f"TOOL RESULT ({c.name}):\n{r}" for c, r in results)
                messages.append({"role": "user", "content": body})
            else:
                messages.extend({"role": "tool", "tool_call_id": c.id, "content": r} for c, r in results)
        if stopped_by_limit:
            break
    transcript.extend(messages)
    return {"tool_errors": box.errors, "commands_run": box.commands, "stopped_by_max_turns": stopped_by_limit,
            "tool_protocol": "text" if text else "native"}
