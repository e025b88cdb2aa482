"""Codex CLI rollouts (``~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl``): one incremental parser per file.

The rules follow ``docs/transcript-formats.md`` §2:

* the session id is ``session_meta.id``; a sub-agent thread (``source.subagent.thread_spawn``) is attached to its
  parent thread, and its replayed start-up token events (same second as its ``session_meta``) are not counted;
* the model comes from the latest ``turn_context``;
* tokens come from ``event_msg/token_count``: the delta of ``total_token_usage`` (repeated totals count once),
  else ``last_token_usage``; normalised so that ``input`` = ``input_tokens - cached_input_tokens`` and
  ``cache_read`` = ``cached_input_tokens`` (cached and reasoning tokens are subsets of input and output);
* prompts come from ``event_msg/user_message`` (clean), else from user ``message`` items that are not injected
  context (AGENTS.md, ``<environment_context>``, ``<user_instructions>``);
* ``arguments`` and ``output`` are JSON inside a string, or plain text: both are read;
* ``apply_patch`` (custom tool, function call, or a shell here-doc) becomes add / update / delete operations;
* legacy files (no envelope) are read too; ``record_type`` lines are ignored; their cwd is the one the
  ``<environment_context>`` message names, their model calls are counted from the response items (a run of model
  items after an input), and their tokens and cost are unknown (no token events).

Pure module: no pytest.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

from pytest_modelbench.models.redact import redact
from pytest_modelbench.sources.transcripts.commands import parse_test_command, removed_paths
from pytest_modelbench.sources.transcripts.common import BadLine, opt_field
from pytest_modelbench.sources.transcripts.state import ParserState

FORMAT = "codex"
_INJECTED = ("# AGENTS.md instructions", "<environment_context>", "<user_instructions>", "<INSTRUCTIONS>",
             "<permissions instructions>", "<user_shell_command>", "<turn_aborted>")
_EXIT = re.compile(r"(?:Process exited with code|Exit code:?)\s*(-?\d+)")
_ENV_CWD = re.compile(r"<cwd>([^<]+)</cwd>|Current working directory:\s*(?P<line>\S[^\n]*)")
ROOTS_HELP = "$CODEX_HOME/sessions and $CODEX_HOME/archived_sessions (CODEX_HOME defaults to ~/.codex)"
_RESPONSE_ITEM_TYPES = ("message", "reasoning", "function_call", "function_call_output", "custom_tool_call",
                        "custom_tool_call_output", "local_shell_call", "web_search_call", "ghost_snapshot")


def default_roots() -> list[Path]:
    """``$CODEX_HOME`` (default ``~/.codex``) ``/sessions`` and ``/archived_sessions``; only folders that exist."""
    home = Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex").expanduser()
    return [p for p in (home / "sessions", home / "archived_sessions") if p.is_dir()]


def _usage(d: Any) -> list[int] | None:
    """``[input, cached, output]`` from a Codex usage object, or None."""
    if not isinstance(d, dict):
        return None
    out = []
    for key in ("input_tokens", "cached_input_tokens", "output_tokens"):
        v = d.get(key, 0)
        if v is None:
            v = 0
        if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
            raise BadLine(f"usage field '{key}' is not a token count")
        out.append(int(v))
    return out


def _maybe_json(text: Any) -> Any:
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
    return ""


def parse_patch(text: str, base: str) -> list[dict[str, Any]]:
    """Operations of a Codex ``*** Begin Patch`` … ``*** End Patch`` block; paths joined to ``base``."""
    ops: list[dict[str, Any]] = []
    lines = text.split("\n")
    i = 0

    def full(p: str) -> str:
        p = p.strip()
        return p if os.path.isabs(p) else os.path.join(base, p)

    current: dict[str, Any] | None = None
    hunk: list[list[str]] | None = None  # [old, new]
    anchor = ""
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("*** Add File: "):
            current = {"op": "add", "path": full(line[14:]), "content": ""}
            ops.append(current)
            body = []
            while i < len(lines) and not lines[i].startswith("*** "):
                if lines[i].startswith("+"):
                    body.append(lines[i][1:])
                i += 1
            current["content"] = "\n".join(body) + ("\n" if body else "")
            current = None
        elif line.startswith("*** Delete File: "):
            ops.append({"op": "delete", "path": full(line[17:])})
            current = None
        elif line.startswith("*** Update File: "):
            current = {"op": "update", "path": full(line[17:]), "hunks": [], "move": None}
            ops.append(current)
            hunk, anchor = None, ""
        elif line.startswith("*** Move to: ") and current is not None:
            current["move"] = full(line[13:])
        elif line.startswith("@@") and current is not None:
            anchor = line[2:].strip()
            hunk = None
        elif current is not None and current["op"] == "update" and line[:1] in (" ", "-", "+") \
                and not line.startswith("*** "):
            if hunk is None:
                hunk = [[], []]
                current["hunks"].append([hunk[0], hunk[1], anchor])
                anchor = ""
            if line[0] in " -":
                hunk[0].append(line[1:])
            if line[0] in " +":
                hunk[1].append(line[1:])
        elif line.startswith("*** End Patch"):
            current = None
        elif line == "" and current is not None and current["op"] == "update" and hunk is not None \
                and i < len(lines) and lines[i][:1] in (" ", "-", "+"):
            hunk[0].append("")  # an empty context line written without its leading space
            hunk[1].append("")
    return ops


def _patch_in(command: str) -> str | None:
    start = command.find("*** Begin Patch")
    if start < 0:
        return None
    end = command.find("*** End Patch", start)
    return command[start: end + len("*** End Patch")] if end >= 0 else command[start:]


def _command_of(name: str, args: Any) -> tuple[str, str] | None:
    """``(command line, workdir)`` of a shell-like call, or None."""
    if not isinstance(args, dict):
        return None
    workdir = args.get("workdir")
    if not isinstance(workdir, str):
        workdir = ""
    cmd = args.get("command", args.get("cmd"))
    if isinstance(cmd, list) and all(isinstance(c, str) for c in cmd):
        if len(cmd) >= 3 and os.path.basename(cmd[0]) in ("bash", "sh", "zsh") and cmd[1] in ("-lc", "-c"):
            return cmd[2], workdir
        return shlex.join(cmd), workdir
    if isinstance(cmd, str):
        return cmd, workdir
    return None


class CodexParser:
    """Incremental parser of one Codex rollout file; ``state`` is saved between imports and resumed."""

    def __init__(self, path: Path, state: ParserState | None = None) -> None:
        self.path = path
        self.state = state if state is not None else ParserState(format=FORMAT)

    def dump(self) -> ParserState:
        return self.state

    def feed(self, d: dict[str, Any]) -> None:
        kind = d.get("type")
        ts = opt_field(d, "timestamp", str)
        payload = d.get("payload")
        if "payload" not in d:
            if "record_type" in d:
                self.state.ignored += 1
                return
            if kind in _RESPONSE_ITEM_TYPES:  # legacy: bare response items
                kind, payload = "response_item", d
            elif isinstance(d.get("id"), str) and "type" not in d:  # legacy first line
                kind, payload = "session_meta", d
            else:
                raise BadLine("neither an envelope (type, payload) nor a legacy record")
        if not isinstance(kind, str) or not isinstance(payload, dict):
            raise BadLine("'payload' is not an object")
        handler = {"session_meta": self._meta, "turn_context": self._turn, "response_item": self._item,
                   "event_msg": self._event}.get(kind)
        if handler is None:
            self.state.ignored += 1  # compacted, world_state, inter_agent_communication, unknown
            return
        handler(payload, ts)
        st = self.state
        if ts:
            st.first_ts = min(st.first_ts or ts, ts)
            st.last_ts = max(st.last_ts or ts, ts)

    def _meta(self, p: dict[str, Any], ts: str | None) -> None:
        sid = opt_field(p, "id", str)
        if not sid:
            raise BadLine("session_meta without id")
        cwd = opt_field(p, "cwd", str)
        git = opt_field(p, "git", dict) or {}
        source = p.get("source")
        parent = None
        if isinstance(source, dict):
            spawn = (source.get("subagent") or {}).get("thread_spawn") if isinstance(source.get("subagent"),
                                                                                      dict) else None
            if isinstance(spawn, dict) and isinstance(spawn.get("parent_thread_id"), str):
                parent = spawn["parent_thread_id"]
        st = self.state
        if st.thread_id is not None:
            return  # a resumed session appends to its file: the first meta line names it
        st.thread_id = sid
        st.session_id = parent or sid
        if parent:
            st.role, st.parent_id, st.agent_id = "subagent", parent, sid
            meta_ts = opt_field(p, "timestamp", str) or ts
            st.meta_second = meta_ts[:19] if meta_ts else None
        st.cwd = cwd
        st.version = opt_field(p, "cli_version", str)
        st.git_commit = git.get("commit_hash") if isinstance(git.get("commit_hash"), str) else None
        st.branch = git.get("branch") if isinstance(git.get("branch"), str) else None

    def _turn(self, p: dict[str, Any], ts: str | None) -> None:
        model = opt_field(p, "model", str)
        cwd = opt_field(p, "cwd", str)
        if model:
            self.state.model = model
        if cwd and not self.state.cwd:
            self.state.cwd = cwd

    def _item(self, p: dict[str, Any], ts: str | None) -> None:
        itype = p.get("type")
        st = self.state
        model_item = itype in ("reasoning", "function_call", "custom_tool_call", "local_shell_call",
                               "web_search_call") or (itype == "message" and p.get("role") == "assistant")
        if model_item:
            if st.awaiting:
                st.item_calls += 1
            st.awaiting = False
        elif itype in ("message", "function_call_output", "custom_tool_call_output"):
            st.awaiting = True  # an input: the next model item answers it in a new call
        if itype == "message":
            role = opt_field(p, "role", str)
            text = _message_text(p.get("content"))
            if role == "user" and not st.cwd and "<environment_context>" in text:
                m = _ENV_CWD.search(text)  # legacy rollouts have no session_meta: the cwd is only said here
                if m:
                    st.cwd = (m.group(1) or m.group("line")).strip()
            if role == "user" and text.strip() and not text.lstrip().startswith(_INJECTED):
                st.item_prompts.append([ts, redact(text.strip())])
        elif itype in ("function_call", "custom_tool_call", "local_shell_call"):
            call_id = opt_field(p, "call_id", str) or opt_field(p, "id", str)
            name = opt_field(p, "name", str) or ("shell" if itype == "local_shell_call" else None)
            if not call_id or not name:
                raise BadLine(f"{itype} without call_id or name")
            if itype == "local_shell_call":
                action = opt_field(p, "action", dict) or {}
                args: Any = {"command": action.get("command"), "workdir": action.get("working_directory")}
            elif itype == "custom_tool_call":
                args = opt_field(p, "input", str) or ""
            else:
                raw = p.get("arguments")
                if raw is not None and not isinstance(raw, str | dict):
                    raise BadLine("'arguments' is neither a string nor an object")
                args = _maybe_json(raw)
            st.tools[name] = st.tools.get(name, 0) + 1
            st.pending[call_id] = [name, _compact(name, args), ts]
        elif itype in ("function_call_output", "custom_tool_call_output"):
            call_id = opt_field(p, "call_id", str)
            if not call_id:
                raise BadLine(f"{itype} without call_id")
            output = p.get("output")
            pending = st.pending.pop(call_id, None)
            if pending is not None:
                self._result(call_id, pending, output, ts)
        elif itype == "web_search_call":
            st.tools["web_search"] = st.tools.get("web_search", 0) + 1
        else:
            st.ignored += 1

    def _event(self, p: dict[str, Any], ts: str | None) -> None:
        etype = p.get("type")
        st = self.state
        if etype == "user_message":
            message = opt_field(p, "message", str)
            if message and message.strip() and not message.lstrip().startswith(_INJECTED):
                st.prompts.append([ts, redact(message.strip())])
        elif etype == "token_count":
            info = p.get("info")
            if info is None:
                return
            if not isinstance(info, dict):
                raise BadLine("token_count info is not an object")
            total, last = _usage(info.get("total_token_usage")), _usage(info.get("last_token_usage"))
            prev = st.prev_total
            if total is not None:
                if prev is not None and total == prev:
                    return  # the same totals repeated on a later event
                if prev is not None and all(t >= q for t, q in zip(total, prev, strict=True)):
                    delta = [t - q for t, q in zip(total, prev, strict=True)]
                else:
                    delta = last if (prev is not None and last is not None) else total
                st.prev_total = total
            elif last is not None:
                delta = last
            else:
                return
            if not any(delta):
                return
            if st.role == "subagent" and st.meta_second and ts and ts[:19] == st.meta_second:
                return  # the parent's history replayed when the sub-agent thread starts
            st.calls += 1
            inp, cached, out = delta
            key = f"{st.thread_id or 'codex'}:{st.calls}"
            st.groups[key] = [max(inp - cached, 0), out, 0, 0, cached, st.model, 0, None, ts]
        elif etype in ("exec_command_end", "patch_apply_end"):
            call_id = p.get("call_id")
            if isinstance(call_id, str):
                code = p.get("exit_code")
                if etype == "patch_apply_end":
                    code = 0 if p.get("success") is True else 1
                if isinstance(code, int) and not isinstance(code, bool):
                    st.exits[call_id] = code
        else:
            st.ignored += 1

    def _result(self, call_id: str, pending: list[Any], output: Any, ts: str | None) -> None:
        name, args, call_ts = pending
        st = self.state
        when = call_ts or ts
        code = st.exits.pop(call_id, None)
        parsed = _maybe_json(output)
        text = output if isinstance(output, str) else ""
        if isinstance(parsed, dict):
            meta = parsed.get("metadata")
            if isinstance(meta, dict) and isinstance(meta.get("exit_code"), int):
                code = meta["exit_code"]
            output_text = parsed.get("output")
            if isinstance(output_text, str):
                text = output_text
        if code is None:
            m = _EXIT.search(text or "")
            if m:
                code = int(m.group(1))
            elif text.startswith("Success."):
                code = 0
        ok = None if code is None else code == 0
        base = args.get("workdir") or st.cwd or ""
        if args.get("patch") or args.get("is_patch"):
            if ok is not False:
                ops = parse_patch(args.get("patch") or "", base)
                if not ops:
                    # It changed files (it did not fail) but its text is not a patch (redacted upstream, cut):
                    # the gold cannot be rebuilt, and the user is told so rather than "changed no files".
                    ops = [{"op": "unreadable", "tool": name}]
                for op in ops:
                    op["ts"] = when
                    st.ops.append(op)  # file contents kept as written: a replay is built from them
            return
        command = args.get("command")
        if not command:
            return
        if parse_test_command(command) is not None:
            st.ops.append({"op": "test", "cmd": redact(command), "ok": ok, "ts": when, "cwd": base})
        if ok:
            for p in removed_paths(command):
                st.ops.append({"op": "delete", "path": p if os.path.isabs(p) else os.path.join(base, p),
                                  "ts": when})


def _compact(name: str, args: Any) -> dict[str, Any]:
    if name == "apply_patch":
        text = args if isinstance(args, str) else (args.get("input") or args.get("patch")) if isinstance(
            args, dict) else None
        return {"patch": text if isinstance(text, str) else "", "is_patch": True}
    found = _command_of(name, args)
    if found is None:
        return {}
    command, workdir = found
    patch = _patch_in(command)
    if patch:
        return {"patch": patch, "workdir": workdir}
    if command.split(maxsplit=1)[:1] in (["apply_patch"], ["applypatch"]):
        return {"patch": "", "is_patch": True, "workdir": workdir}  # a patch call whose text is unreadable
    return {"command": command, "workdir": workdir}

