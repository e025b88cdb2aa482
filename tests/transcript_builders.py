"""Builders of small, realistic transcripts for the tests (Claude Code and Codex line shapes as in the real files)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid as uuidlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def arrow(text: str) -> str:
    """A Read result as Claude Code 2.x shows it to the model."""
    return "\n".join(f"{i:>6}→{line}" for i, line in enumerate(text.rstrip("\n").split("\n"), 1))


class ClaudeTranscript:
    """Writes the lines of one Claude Code session: prompts, tool calls with results, usage on every line."""

    def __init__(self, session_id: str, cwd: str, start: datetime, model: str = "claude-sonnet-4-5-20250929",
                 sidechain: bool = False, agent_id: str | None = None) -> None:
        self.session_id, self.cwd, self.now, self.model = session_id, cwd, start, model
        self.sidechain, self.agent_id = sidechain, agent_id
        self.lines: list[dict[str, Any]] = []
        self.parent: str | None = None
        self._n = 0

    def _envelope(self, kind: str) -> dict[str, Any]:
        self.now += timedelta(seconds=1)
        self._n += 1
        uid = str(uuidlib.UUID(int=(hash((self.session_id, self._n)) & ((1 << 122) - 1)) | (4 << 76)))
        d = {"parentUuid": self.parent, "isSidechain": self.sidechain, "userType": "external", "cwd": self.cwd,
             "sessionId": self.session_id, "version": "2.0.64", "gitBranch": "main", "type": kind, "uuid": uid,
             "timestamp": self.now.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        if self.agent_id:
            d["agentId"] = self.agent_id
        self.parent = uid
        return d

    def user(self, text: str) -> ClaudeTranscript:
        d = self._envelope("user")
        d["message"] = {"role": "user", "content": text}
        self.lines.append(d)
        return self

    def assistant(self, blocks: list[dict[str, Any]], usage: tuple[int, int, int, int] = (3, 10, 100, 1000),
                  msg_id: str | None = None, out_steps: tuple[int, ...] = ()) -> str:
        """One API response streamed as one line per block; ``out_steps`` are the early (partial) output counts."""
        msg_id = msg_id or f"msg_{uuidlib.uuid4().hex[:24]}"
        inp, out, create, read = usage
        partial = list(out_steps) + [out] * max(len(blocks) - len(out_steps), 1)
        for i, block in enumerate(blocks):
            d = self._envelope("assistant")
            d["requestId"] = f"req_{msg_id[4:]}"
            d["message"] = {"model": self.model, "id": msg_id, "type": "message", "role": "assistant",
                            "content": [block], "stop_reason": None, "stop_sequence": None,
                            "usage": {"input_tokens": inp, "cache_creation_input_tokens": create,
                                      "cache_read_input_tokens": read, "output_tokens": partial[i]}}
            self.lines.append(d)
        return msg_id

    def tool(self, name: str, tool_input: dict[str, Any], result: str, tur: Any = None, is_error: bool = False,
             usage: tuple[int, int, int, int] = (3, 10, 100, 1000)) -> ClaudeTranscript:
        call_id = f"toolu_{uuidlib.uuid4().hex[:24]}"
        self.assistant([{"type": "tool_use", "id": call_id, "name": name, "input": tool_input}], usage)
        d = self._envelope("user")
        block: dict[str, Any] = {"tool_use_id": call_id, "type": "tool_result", "content": result}
        if is_error:
            block["is_error"] = True
        d["message"] = {"role": "user", "content": [block]}
        if tur is not None:
            d["toolUseResult"] = tur
        self.lines.append(d)
        return self

    def read(self, path: str, text: str) -> ClaudeTranscript:
        full = os.path.join(self.cwd, path)
        n = len(text.rstrip("\n").split("\n"))
        return self.tool("Read", {"file_path": full}, arrow(text),
                         {"type": "text", "file": {"filePath": full, "content": text.rstrip("\n"), "numLines": n,
                                                   "startLine": 1, "totalLines": n}})

    def edit(self, path: str, old: str, new: str, original: str) -> ClaudeTranscript:
        full = os.path.join(self.cwd, path)
        return self.tool("Edit", {"file_path": full, "old_string": old, "new_string": new, "replace_all": False},
                         f"The file {full} has been updated.",
                         {"filePath": full, "oldString": old, "newString": new, "originalFile": original,
                          "structuredPatch": [], "userModified": False, "replaceAll": False})

    def write(self, path: str, content: str, created: bool = True) -> ClaudeTranscript:
        full = os.path.join(self.cwd, path)
        return self.tool("Write", {"file_path": full, "content": content}, f"File created successfully at: {full}",
                         {"type": "create" if created else "update", "filePath": full, "content": content,
                          "structuredPatch": [], "originalFile": None})

    def bash(self, command: str, output: str, exit_code: int = 0) -> ClaudeTranscript:
        text = output if exit_code == 0 else f"Exit code {exit_code}\n{output}"
        return self.tool("Bash", {"command": command, "description": "run"}, text,
                         {"stdout": output, "stderr": "", "interrupted": False, "isImage": False},
                         is_error=exit_code != 0)

    def say(self, text: str, usage: tuple[int, int, int, int] = (3, 10, 100, 1000)) -> ClaudeTranscript:
        self.assistant([{"type": "text", "text": text}], usage)
        return self

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(d, separators=(",", ":")) + "\n" for d in self.lines), encoding="utf-8")
        return path


def git(repo: Path, *args: str, date: str = "2025-01-01T00:00:00Z") -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def committed_repo(repo: Path, files: dict[str, str], message: str = "start") -> Path:
    """A git repository on branch main holding ``files`` (relative path -> text) in one commit dated 2025-01-01."""
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", message)
    return repo


def buggy_repo(repo: Path) -> Path:
    """A git repository whose one test fails: ``add`` subtracts. Committed on 2025-01-01."""
    return committed_repo(repo, {"calc.py": BUGGY, "tests/test_calc.py": TEST}, "calc with a bug")


SESSION_START = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def bugfix_session(cwd: str, session_id: str = "11111111-2222-4333-8444-555555555555",
                   start: datetime = SESSION_START) -> ClaudeTranscript:
    """The agent reads the code and the test, runs pytest (red), edits, runs pytest again (green)."""
    t = ClaudeTranscript(session_id, cwd, start)
    t.user("add() returns the wrong result, the test fails. Fix it.")
    t.read("calc.py", BUGGY).read("tests/test_calc.py", TEST)
    t.bash("python -m pytest -q", "F\n1 failed in 0.02s", exit_code=1)
    t.edit("calc.py", "return a - b", "return a + b", BUGGY)
    t.bash("python -m pytest -q", ".\n1 passed in 0.01s")
    t.say("Fixed: add() now adds.")
    return t


def history_of(folder: Path, n: int, prompts: list[str], cwd_root: str = "/nonexistent/work") -> list[str]:
    """``n`` replayable bug-fix sessions rebuilt from their transcripts (their cwd does not exist here)."""
    ids = []
    for i in range(n):
        sid = f"{i:08x}-0000-4000-8000-{i:012x}"
        t = bugfix_session(f"{cwd_root}/p{i % 3}", session_id=sid, start=SESSION_START + timedelta(hours=i))
        t.lines[0]["message"]["content"] = prompts[i % len(prompts)]
        t.save(folder / f"-nonexistent-work-p{i % 3}" / f"{sid}.jsonl")
        ids.append(sid)
    return ids


PROMPTS = ["add() returns the wrong result, fix it", "Refactor calc into a cleaner module",
           "Add tests for add()", "Document add() in the README", "Implement add() for floats",
           "How does add() work?"]
