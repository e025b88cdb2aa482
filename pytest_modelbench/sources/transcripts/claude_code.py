"""Claude Code transcripts (``~/.claude/projects/<encoded-cwd>/<session>.jsonl``): one incremental parser per file.

The rules follow ``docs/transcript-formats.md`` §1:

* the session id is the file stem when it is a UUID (the authoritative id of a trunk file), else the ``sessionId``
  of the lines; lines of another session in a trunk file are the replayed prefix of a resumed session: skipped;
* sub-agent files (``agent-*.jsonl`` flat, or under ``<session>/subagents/``) carry the parent's ``sessionId`` and
  are attached to it (tokens, cost, tools, edits), never listed as sessions of their own;
* only the branch the session ended on counts: every line's ``parentUuid`` is kept and the ops and prompts of a
  branch abandoned by a checkpoint rewind are left out (``ParserState.active_lines``);
* an Edit's ``toolUseResult.originalFile`` is kept for every edit: it is the file as that edit found it (a hook
  or the user may have changed it since the session's previous edit);
* lines are deduplicated by ``uuid`` (the same prompt sent again is a new line, so a new turn); assistant lines
  are grouped by ``message.id`` (one API call streamed over several lines) keeping the final usage (the largest
  output count, the later line on a tie);
* tokens are normalised (``input`` = uncached input; cache creation = the ``ephemeral_5m + ephemeral_1h`` object
  when present, else ``cache_creation_input_tokens``); ``<synthetic>`` and API-error lines count nothing;
* ``costUSD`` (Claude Code <= 1.0.8) is used when present; otherwise cost is estimated from the prices;
* prompts are typed user text only: tool results, ``isMeta`` text, compaction summaries, local slash commands,
  ``<local-command-*>``/``<bash-*>``/``<system-reminder>`` blocks and interruption markers are not prompts;
* a line of the wrong shape is counted as broken and skipped.

The parser state (:class:`ParserState`) is saved between imports, so a grown file is read on from where the last
import stopped.
Pure module: no pytest.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pytest_modelbench.models.redact import redact
from pytest_modelbench.sources.transcripts.commands import parse_test_command, removed_paths
from pytest_modelbench.sources.transcripts.common import BadLine, opt_field
from pytest_modelbench.sources.transcripts.state import ParserState

FORMAT = "claude-code"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

# Slash commands that run in the client without a model call (their output comes back as local-command-stdout).
LOCAL_COMMANDS = frozenset(
    "/add-dir /agents /bug /clear /compact /config /context /cost /doctor /exit /export /help /hooks /ide /login "
    "/logout /mcp /memory /model /permissions /plugin /privacy-settings /release-notes /resume /rewind /status "
    "/statusline /terminal-setup /theme /upgrade /usage /vim /todos /output-style /fast".split()
)
_NOT_PROMPTS = ("<local-command-", "<bash-input>", "<bash-stdout>", "<bash-stderr>", "<task-notification>",
                "<system-reminder>", "<user-memory-input>", "[Request interrupted", "Caveat: The messages below",
                "This session is being continued from a previous conversation")
_COMMAND = re.compile(r"<command-name>\s*(/?[^<\s]+)\s*</command-name>")
_COMMAND_ARGS = re.compile(r"<command-args>(.*?)</command-args>", re.S)
_IDE_TAGS = re.compile(r"<(ide_[a-z_]+|system-reminder)>.*?</\1>", re.S)
_ARROW_LINE = re.compile(r"^\s*\d+(?:→|\t)(.*)$")
_EXIT_CODE = re.compile(r"^Exit code (\d+)")
MAX_SEEN_PATHS = 200
ROOTS_HELP = "$CLAUDE_CONFIG_DIR, else ~/.claude/projects and ~/.config/claude/projects"


def default_roots() -> list[Path]:
    """``$CLAUDE_CONFIG_DIR`` (comma-separated; each a config dir holding ``projects/`` or that folder itself),
    else ``~/.claude/projects`` and ``~/.config/claude/projects``; only folders that exist."""
    env = os.environ.get("CLAUDE_CONFIG_DIR", "").strip()
    candidates: list[Path] = []
    if env:
        for part in env.split(","):
            if part.strip():
                p = Path(part.strip()).expanduser()
                candidates.append(p / "projects" if (p / "projects").is_dir() else p)
    else:
        home = Path.home()
        candidates = [home / ".claude" / "projects", home / ".config" / "claude" / "projects"]
    return [p for p in dict.fromkeys(candidates) if p.is_dir()]


def is_subagent_file(path: Path) -> bool:
    return path.name.startswith("agent-") or path.parent.name == "subagents"


def _int(d: dict[str, Any], key: str) -> int:
    value = opt_field(d, key, (int, float))
    if value is None:
        return 0
    if isinstance(value, bool) or value < 0:
        raise BadLine(f"field '{key}' is not a token count")
    return int(value)


def _text_of(content: Any) -> str:
    """Text of a tool_result ``content`` (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
    return ""


def prompt_text(text: str) -> str | None:
    """The prompt a user typed, or None for injected text, local commands and markers."""
    text = text.strip()
    if not text:
        return None
    m = _COMMAND.search(text)
    if m:
        name = m.group(1) if m.group(1).startswith("/") else "/" + m.group(1)
        if name in LOCAL_COMMANDS:
            return None
        args = _COMMAND_ARGS.search(text)
        return f"{name} {args.group(1).strip() if args else ''}".strip()
    if text.startswith(_NOT_PROMPTS):
        return None
    text = _IDE_TAGS.sub("", text).strip()
    return text or None


def read_content(text: str) -> str:
    """File content from a Read result in ``cat -n`` form (``     1→line`` or ``     1<TAB>line``)."""
    body = text.split("\n<system-reminder>", 1)[0]
    out = []
    for line in body.split("\n"):
        m = _ARROW_LINE.match(line)
        if m is None:
            if not line.strip():
                continue
            break
        out.append(m.group(1))
    return "\n".join(out) + ("\n" if out else "")


class ClaudeParser:
    """Incremental parser of one Claude Code JSONL file; ``state`` is saved between imports and resumed."""

    def __init__(self, path: Path, state: ParserState | None = None) -> None:
        self.path = path
        if state is None:
            stem = path.stem
            subagent = is_subagent_file(path)
            sid = stem if (UUID_RE.match(stem) and not subagent) else None
            if subagent and path.parent.name == "subagents" and UUID_RE.match(path.parent.parent.name):
                sid = path.parent.parent.name
            state = ParserState(format=FORMAT, session_id=sid, id_from_stem=sid is not None,
                                role="subagent" if subagent else "trunk")
        self.state = state
        self._uuids: set[str] = set(state.uuids)
        self._paths: set[str] = set(state.paths)

    def dump(self) -> ParserState:
        self.state.uuids = sorted(self._uuids)
        self.state.paths = sorted(self._paths)
        return self.state

    # -- one line ---------------------------------------------------------------------------------------------

    def feed(self, d: dict[str, Any]) -> None:
        kind = d.get("type")
        if not isinstance(kind, str):
            raise BadLine("no 'type'")
        line_id = d.get("uuid")
        if isinstance(line_id, str) and line_id not in self.state.parents:
            # Every line with a uuid (progress and system lines too) can be the parent of the next one.
            parent = d.get("parentUuid") or d.get("logicalParentUuid")
            self.state.parents[line_id] = parent if isinstance(parent, str) else None
        if kind not in ("user", "assistant"):
            self.state.ignored += 1  # progress, system, summary, snapshots, queue operations, unknown types
            return
        uuid = opt_field(d, "uuid", str)
        sid = opt_field(d, "sessionId", str)
        ts = opt_field(d, "timestamp", str)
        cwd = opt_field(d, "cwd", str)
        sidechain = bool(opt_field(d, "isSidechain", bool))
        message = d.get("message")
        if not isinstance(message, dict):
            raise BadLine("'message' is not an object")
        st = self.state
        if uuid is not None and uuid in self._uuids:
            st.duplicates += 1
            return
        if st.session_id is None and sid:
            st.session_id = sid
        elif sid and sid != st.session_id and st.role == "trunk":
            st.foreign += 1  # the replayed prefix of a resumed session: it belongs to the older session
            return
        handler = self._assistant if kind == "assistant" else self._user
        n_ops, n_prompts = len(st.ops), len(st.prompts)
        handler(d, message, ts, sidechain)
        if uuid is not None and st.role == "trunk" and not sidechain:
            # Tag what this line recorded with the line, so a rewound branch can be left out (ParserState.active_lines).
            for op in st.ops[n_ops:]:
                op["line"] = uuid
            for prompt in st.prompts[n_prompts:]:
                prompt.append(uuid)
            st.leaf = uuid
        # Only after the line was understood: state changes below cannot be half-done.
        if uuid is not None:
            self._uuids.add(uuid)
        if ts:
            st.first_ts = min(st.first_ts or ts, ts)
            st.last_ts = max(st.last_ts or ts, ts)
        if cwd and st.cwd is None:
            st.cwd = cwd
        branch = opt_field(d, "gitBranch", str)
        if branch and branch != "HEAD" and st.branch is None:
            st.branch = branch
        version = opt_field(d, "version", str)
        if version:
            st.version = version
        agent = opt_field(d, "agentId", str)
        if agent and st.agent_id is None:
            st.agent_id = agent

    def _assistant(self, d: dict[str, Any], message: dict[str, Any], ts: str | None, sidechain: bool) -> None:
        mid = opt_field(message, "id", str)
        if not mid:
            raise BadLine("assistant line without message.id")
        model = opt_field(message, "model", str)
        content = message.get("content")
        if content is not None and not isinstance(content, list | str):
            raise BadLine("'message.content' is neither a list nor a string")
        usage = opt_field(message, "usage", dict) or {}
        inp, out = _int(usage, "input_tokens"), _int(usage, "output_tokens")
        read = _int(usage, "cache_read_input_tokens")
        breakdown = opt_field(usage, "cache_creation", dict)
        if breakdown is not None:
            five, hour = _int(breakdown, "ephemeral_5m_input_tokens"), _int(breakdown, "ephemeral_1h_input_tokens")
            create = five + hour
        else:
            create, hour = _int(usage, "cache_creation_input_tokens"), 0
        cost = opt_field(d, "costUSD", (int, float))
        synthetic = model == "<synthetic>" or bool(d.get("isApiErrorMessage"))
        calls = []
        shown = 0  # characters of output this line shows (text, thinking, tool inputs)
        for block in content if isinstance(content, list) else ():
            if not isinstance(block, dict):
                raise BadLine("a content block is not an object")
            btype = block.get("type")
            if btype in ("text", "thinking") and isinstance(block.get(btype), str):
                shown += len(block[btype])
            if btype == "tool_use":
                shown += len(json.dumps(block.get("input"), ensure_ascii=False))
                call_id, name = opt_field(block, "id", str), opt_field(block, "name", str)
                tool_input = opt_field(block, "input", dict) or {}
                if not call_id or not name:
                    raise BadLine("tool_use without id or name")
                calls.append((call_id, name, tool_input))
        st = self.state
        if not synthetic:
            group = st.groups.get(mid)
            # The characters shown are summed over the lines of the call: see features.placeholder().
            shown += group[9] if group is not None and len(group) > 9 else 0
            row = [inp, out, create, hour, read, model, int(sidechain), cost, ts, shown]
            # The final streamed line carries the final output count; keep the largest, the later one on a tie.
            if group is None or out >= group[1]:
                st.groups[mid] = row
            else:
                group[9:] = [shown]
        for call_id, name, tool_input in calls:
            st.tools[name] = st.tools.get(name, 0) + 1
            st.pending[call_id] = [name, _compact_input(name, tool_input), ts]

    def _user(self, d: dict[str, Any], message: dict[str, Any], ts: str | None, sidechain: bool) -> None:
        content = message.get("content")
        if not isinstance(content, str | list):
            raise BadLine("'message.content' is neither a list nor a string")
        st = self.state
        texts: list[str] = []
        results: list[tuple[str, Any, bool]] = []
        for block in [content] if isinstance(content, str) else content:
            if isinstance(block, str):
                texts.append(block)
                continue
            if not isinstance(block, dict):
                raise BadLine("a content block is not an object")
            btype = block.get("type")
            if btype == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif btype == "tool_result":
                call_id = opt_field(block, "tool_use_id", str)
                if not call_id:
                    raise BadLine("tool_result without tool_use_id")
                results.append((call_id, block.get("content"), block.get("is_error") is True))
        if texts and not results and not d.get("isMeta") and not d.get("isCompactSummary"):
            if st.role == "subagent" or sidechain:
                if any(t.strip() == "Warmup" for t in texts):
                    st.warmup = True
            else:
                for text in texts:
                    prompt = prompt_text(text)
                    if prompt:
                        st.prompts.append([ts, redact(prompt)])
        tool_use_result = d.get("toolUseResult")
        for call_id, result, is_error in results:
            pending = st.pending.pop(call_id, None)
            if pending is not None:
                self._result(pending, result, is_error, tool_use_result if len(results) == 1 else None, ts)

    # -- tool results into operations --------------------------------------------------------------------------

    def _result(self, pending: list[Any], content: Any, is_error: bool, tur: Any, ts: str | None) -> None:
        name, args, call_ts = pending
        text = _text_of(content)
        failed = is_error or text.lstrip().startswith("<tool_use_error>") or (
            isinstance(tur, str) and tur.startswith("Error"))
        ops = self.state.ops
        path = args.get("path")
        first = isinstance(path, str) and path not in self._paths
        when = call_ts or ts
        if name == "Bash":
            command = args.get("command") or ""
            code = _EXIT_CODE.match(text)
            ok = None if args.get("background") else not (failed or (code is not None and code.group(1) != "0"))
            if parse_test_command(command) is not None:
                ops.append({"op": "test", "cmd": redact(command), "ok": ok, "ts": when})
            if ok:
                for p in removed_paths(command):
                    ops.append({"op": "delete", "path": p, "ts": when})
            return
        if name == "Glob" and isinstance(tur, dict) and isinstance(tur.get("filenames"), list):
            names = [p for p in tur["filenames"] if isinstance(p, str)][:MAX_SEEN_PATHS]
            if names:
                ops.append({"op": "seen", "paths": names, "ts": when})
            return
        if not failed and name in ("Write", "Edit", "MultiEdit") and (not isinstance(path, str) or not path):
            # An edit that succeeded but whose input was cut or redacted upstream: it changed a file we cannot name.
            ops.append({"op": "unreadable", "tool": name, "ts": when})
            return
        if failed or not isinstance(path, str) or not path:
            return
        if name == "Read":
            if not first:
                ops.append({"op": "read", "path": path, "content": None, "partial": False, "repeat": True,
                            "ts": when})
                return
            content_text, partial = None, bool(args.get("offset") or args.get("limit"))
            info = tur.get("file") if isinstance(tur, dict) else None
            if isinstance(info, dict) and isinstance(info.get("content"), str):
                start, num, total = info.get("startLine"), info.get("numLines"), info.get("totalLines")
                if isinstance(start, int) and isinstance(num, int) and isinstance(total, int):
                    partial = partial or start > 1 or num < total
                content_text = info["content"]
                if content_text and not content_text.endswith("\n"):
                    content_text += "\n"
            elif isinstance(tur, dict) and tur.get("type") == "image":
                return
            elif not partial:
                content_text = read_content(text)
            ops.append({"op": "read", "path": path, "content": None if partial else (content_text or ""),
                        "partial": partial, "ts": when})
        elif name == "Write":
            original = tur.get("originalFile") if isinstance(tur, dict) else None
            created = isinstance(tur, dict) and tur.get("type") == "create"
            # File contents are kept as the session saw them (a replay is built from them); only prompts and
            # commands are redacted here, and everything shared or sent out is redacted where it leaves.
            ops.append({"op": "write", "path": path, "content": args.get("content") or "",
                        "created": created, "original": original if first and isinstance(original, str)
                        else None, "ts": when})
        elif name in ("Edit", "MultiEdit"):
            original = None
            if isinstance(tur, dict):
                original = tur.get("originalFile", tur.get("originalFileContents"))
            edits = [[o, n, bool(a)] for o, n, a in args.get("edits", ())]
            # Kept for every edit, not only the first: a hook or the user may change the file between edits, and
            # the tool's own copy is the text this edit was applied to.
            ops.append({"op": "edit", "path": path, "edits": edits,
                        "original": original if isinstance(original, str) else None, "ts": when})
        elif name == "NotebookEdit":
            ops.append({"op": "unsupported", "path": path, "tool": name, "ts": when})
        else:
            return
        self._paths.add(path)


def _compact_input(name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    """The part of a tool input the importer needs (the rest can be large and is not stored)."""
    def s(key: str) -> str:
        v = tool_input.get(key)
        return v if isinstance(v, str) else ""

    if name == "Bash":
        return {"command": s("command"), "background": bool(tool_input.get("run_in_background"))}
    if name == "Read":
        return {"path": s("file_path"), "offset": tool_input.get("offset"), "limit": tool_input.get("limit")}
    if name == "Write":
        return {"path": s("file_path"), "content": s("content")}
    if name == "Edit":
        return {"path": s("file_path"),
                "edits": [[s("old_string"), s("new_string"), bool(tool_input.get("replace_all"))]]}
    if name == "MultiEdit":
        edits = [[e.get("old_string") or "", e.get("new_string") or "", bool(e.get("replace_all"))]
                 for e in tool_input.get("edits") or () if isinstance(e, dict)
                 and isinstance(e.get("old_string", ""), str) and isinstance(e.get("new_string", ""), str)]
        return {"path": s("file_path"), "edits": edits}
    if name == "NotebookEdit":
        return {"path": s("notebook_path")}
    return {}
