"""Agent mode: a tool loop (read_file, write_file, edit_file, list_files, run_command, finish).

Native function calling by default; a text protocol (```tool {"tool": NAME, "arguments": {...}}``` blocks) for
models without tools. ``run_command`` runs inside the Runner, never here. Malformed calls are answered with an error
message to the model and recorded; they never crash the replay.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_modelbench.replay.edits import inside, safe_path
from pytest_modelbench.runners import Runner, RunRequest

MAX_READ = 100_000
MAX_LIST = 500
COMMAND_TIMEOUT = 60.0

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "read_file", "description": "Read a text file of the repository.",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}},
    {"type": "function", "function": {
        "name": "write_file", "description": "Create or overwrite a file with the given content.",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
                       "required": ["path", "content"]}}},
    {"type": "function", "function": {
        "name": "edit_file", "description": "Replace one exact occurrence of old_text with new_text in a file.",
        "parameters": {"type": "object", "properties": {
            "path": {"type": "string"}, "old_text": {"type": "string"}, "new_text": {"type": "string"}},
            "required": ["path", "old_text", "new_text"]}}},
    {"type": "function", "function": {
        "name": "list_files", "description": "List files under a folder of the repository (default: all).",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}},
    {"type": "function", "function": {
        "name": "run_command", "description": "Run a shell command in the repository (sandboxed, no network).",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}},
    {"type": "function", "function": {
        "name": "finish", "description": "Stop: the task is done (or cannot be done).",
        "parameters": {"type": "object", "properties": {"summary": {"type": "string"}}}}},
]

SYSTEM_NATIVE = (
    "You are a software engineer working in a repository. Use the tools to inspect and change files, run commands "
    "to check your work, and call finish when you are done. Paths are relative to the repository root."
)
SYSTEM_TEXT = (
    SYSTEM_NATIVE + "\n\nTool protocol: you cannot call functions directly. To use a tool, put one or more blocks "
    "like this in your answer:\n```tool\n{\"tool\": \"read_file\", \"arguments\": {\"path\": \"src/app.py\"}}\n```\n"
    "Tools: read_file(path), write_file(path, content), edit_file(path, old_text, new_text), list_files(path), "
    "run_command(command), finish(summary). Results come back in a message starting with TOOL RESULT."
)
_TOOL_BLOCK = re.compile(r"```tool\s*\n(.*?)\n```", re.S)


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model sent it


@dataclass
class ToolBox:
    """Executes tool calls against one workspace; records what happened."""

    workspace: Path
    runner: Runner
    finished: bool = False
    errors: list[str] = field(default_factory=list)
    commands: int = 0

    def call(self, call: ToolCall) -> str:
        try:
            args = json.loads(call.arguments) if call.arguments.strip() else {}
            if not isinstance(args, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            self.errors.append(f"{call.name}: malformed arguments: {exc}")
            return f"error: malformed arguments ({exc}); send a JSON object"
        handler = getattr(self, f"_tool_{call.name}", None)
        if handler is None:
            self.errors.append(f"unknown tool {call.name!r}")
            return f"error: unknown tool {call.name!r}"
        try:
            return handler(**args)
        except TypeError as exc:
            self.errors.append(f"{call.name}: bad arguments: {exc}")
            return f"error: bad arguments for {call.name}: {exc}"
        except (OSError, UnicodeError, ValueError) as exc:
            self.errors.append(f"{call.name}: {exc}")
            return f"error: {exc}"

    def _path(self, rel: str) -> Path:
        safe = safe_path(str(rel))
        if safe is None:
            raise ValueError(f"path {rel!r} must be relative and stay inside the repository")
        return inside(self.workspace, safe)

    def _tool_read_file(self, path: str) -> str:
        target = self._path(path)
        if not target.is_file():
            return f"error: {path} does not exist"
        text = target.read_text(encoding="utf-8", errors="replace")
        return text if len(text) <= MAX_READ else text[:MAX_READ] + "\n[... truncated]"

    def _tool_write_file(self, path: str, content: str) -> str:
        target = self._path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(str(content), encoding="utf-8")
        return f"wrote {path} ({len(str(content))} characters)"

    def _tool_edit_file(self, path: str, old_text: str, new_text: str) -> str:
        target = self._path(path)
        if not target.is_file():
            return f"error: {path} does not exist"
        text = target.read_text(encoding="utf-8", errors="replace")
        count = text.count(old_text) if old_text else 0
        if count != 1:
            return f"error: old_text found {count} times in {path} (needs exactly 1)"
        target.write_text(text.replace(old_text, new_text, 1), encoding="utf-8")
        return f"edited {path}"

    def _tool_list_files(self, path: str = ".") -> str:
        root = self.workspace if path in ("", ".") else self._path(path)
        if not root.exists():
            return f"error: {path} does not exist"
        names = sorted(p.relative_to(self.workspace).as_posix() for p in root.rglob("*")
                       if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts)
        extra = f"\n[... {len(names) - MAX_LIST} more]" if len(names) > MAX_LIST else ""
        return "\n".join(names[:MAX_LIST]) + extra

    def _tool_run_command(self, command: str) -> str:
        self.commands += 1
        result = self.runner.run(RunRequest(("/bin/sh", "-c", str(command)), self.workspace, COMMAND_TIMEOUT))
        status = "timed out" if result.timed_out else f"exit code {result.exit_code}"
        return f"{status}\nstdout:\n{result.stdout_tail[-3000:]}\nstderr:\n{result.stderr_tail[-2000:]}"

    def _tool_finish(self, summary: str = "") -> str:
        self.finished = True
        return "ok"


def text_tool_calls(content: str | None, turn: int) -> list[ToolCall]:
    """Tool calls written in the text protocol; a block that is not valid JSON becomes a call to report."""
    calls = []
    for i, m in enumerate(_TOOL_BLOCK.finditer(content or "")):
        raw = m.group(1)
        try:
            data = json.loads(raw)
            name = str(data.get("tool", ""))
            args = json.dumps(data.get("arguments", {}))
        except (ValueError, AttributeError):
            name, args = "invalid", raw
        calls.append(ToolCall(f"text_{turn}_{i}", name, args))
    return calls
