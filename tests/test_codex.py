"""The Codex importer (sources/transcripts/codex.py) on the real rollouts and on small synthetic ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_modelbench.sources.transcripts.codex import CodexParser, parse_patch
from pytest_modelbench.sources.transcripts.common import Tokens, read_new_lines
from pytest_modelbench.sources.transcripts.features import summarize
from pytest_modelbench.sources.transcripts.index import HistoryIndex, feed_lines
from pytest_modelbench.sources.transcripts.rebuild import build_session
from pytest_modelbench.sources.transcripts.simulate import apply_hunks
from pytest_modelbench.sources.transcripts.state import ParserState

from .helpers import DATA
from .transcript_builders import BUGGY, FIXED, TEST, buggy_repo, git

CODEX = DATA / "transcripts" / "codex"
ROLLOUT = CODEX / "sessions/2026/01/02/rollout-2026-01-02T18-39-45-019b7f94-51b4-7593-922e-ba12b5b73b52.jsonl"
MODERN = CODEX / "agent-history-real" / "session-01.jsonl"


def parse(path: Path) -> ParserState:
    parser = CodexParser(path)
    lines, _end, _size = read_new_lines(path, 0)
    feed_lines(parser, lines, 1)
    return parser.dump()


def test_rollout_token_deltas() -> None:
    # token_count events in the file, as total_token_usage (input, cached, output):
    #   info null                      -> skipped
    #   (7266, 0, 115)                 -> first call: delta (7266, 0, 115)
    #   (7266, 0, 115) again           -> a repeat: skipped
    #   (14812, 7296, 175)             -> delta (7546, 7296, 60)
    #   (14812, 7296, 175) again       -> skipped
    #   (22474, 14848, 300)            -> delta (7662, 7552, 125)
    # Normalised (input = input - cached): (7266, 0, 115), (250, 7296, 60), (110, 7552, 125)
    # input 7266+250+110 = 7626; cache_read 0+7296+7552 = 14848; output 115+60+125 = 300
    state = parse(ROLLOUT)
    calls = sorted(state.groups.values(), key=lambda g: g[8])
    assert [(g[0], g[4], g[1]) for g in calls] == [(7266, 0, 115), (250, 7296, 60), (110, 7552, 125)]
    f = summarize("codex/x", [state], str(ROLLOUT))
    assert f is not None
    assert f.tokens == Tokens(input=7626, output=300, cache_read=14848, cache_create=0)
    # Summing last_token_usage on every event would count the repeats: 7266*2 + 7546*2 + 7662 = 37286 input.
    assert f.tokens.input + f.tokens.cache_read == 22474 != 37286
    assert f.session_id == "019b7f94-51b4-7593-922e-ba12b5b73b52"
    assert f.model == "gpt-5-1-codex-2025-11-13" and f.calls == 3
    # The prompt is the user's, not the injected AGENTS.md / environment_context messages.
    assert f.prompt == "what is current repository about? summarize purpuse and explain goals"
    assert f.intent == "explore"
    assert f.git_commit == "02942347cadda24d3080fbfbc2d13295bb3a496d" or f.git_commit.startswith("0294")
    assert f.tools == {"shell": 3}
    # The file stops mid-turn: no final answer, no error, no broken line.
    assert state.broken == 0 and f.outcome == "none"


def test_modern_rollout() -> None:
    # One call: input 22539 of which 20864 cached, output 10 -> input 22539-20864 = 1675, cache_read 20864.
    state = parse(MODERN)
    f = summarize("codex/y", [state], str(MODERN))
    assert f is not None
    assert f.session_id == "019e9625-802f-7e91-840a-cfe88d14117a"
    assert f.tokens == Tokens(input=1675, output=10, cache_read=20864, cache_create=0)
    assert f.model == "gpt-5.5" and f.prompt == "[REDACTED_PROMPT]"
    assert f.cwd == "/tmp/agent-history-real-agent/codex/workspace"


def test_both_fixtures_import(tmp_path: Path) -> None:
    with HistoryIndex(tmp_path / "s.db") as index:
        report = index.import_paths([CODEX])
        keys = [s.key for s in index.sessions()]
    assert keys == ["codex/019b7f94-51b4-7593-922e-ba12b5b73b52", "codex/019e9625-802f-7e91-840a-cfe88d14117a"]
    assert report.count("new") == 2 and all(f.broken == 0 for f in report.files)


class Rollout:
    """A synthetic Codex rollout in the modern envelope."""

    def __init__(self, sid: str, cwd: str, commit: str | None = None, parent: str | None = None) -> None:
        self.lines: list[dict[str, Any]] = []
        self.n = 0
        meta: dict[str, Any] = {"id": sid, "timestamp": self.ts(), "cwd": cwd, "originator": "codex_exec",
                                "cli_version": "0.125.0", "source": "exec"}
        if commit:
            meta["git"] = {"commit_hash": commit, "branch": "main"}
        if parent:
            meta["source"] = {"subagent": {"thread_spawn": {"parent_thread_id": parent}}}
        self.add("session_meta", meta)
        self.add("turn_context", {"cwd": cwd, "model": "gpt-5-codex"})

    def ts(self) -> str:
        self.n += 1
        return f"2025-06-01T12:{self.n // 60:02d}:{self.n % 60:02d}.000Z"

    def add(self, kind: str, payload: dict[str, Any]) -> Rollout:
        self.lines.append({"timestamp": self.ts(), "type": kind, "payload": payload})
        return self

    def prompt(self, text: str) -> Rollout:
        self.add("response_item", {"type": "message", "role": "user",
                                   "content": [{"type": "input_text", "text": "<environment_context>x"}]})
        self.add("response_item", {"type": "message", "role": "user", "content": [{"type": "input_text",
                                                                                   "text": text}]})
        return self.add("event_msg", {"type": "user_message", "message": text, "images": []})

    def exec(self, cmd: str, code: int, call: str) -> Rollout:
        self.add("response_item", {"type": "function_call", "name": "exec_command", "call_id": call,
                                   "arguments": json.dumps({"cmd": cmd, "workdir": ""})})
        return self.add("response_item", {"type": "function_call_output", "call_id": call,
                                          "output": f"Chunk ID: 1\nProcess exited with code {code}\nOutput:\n…"})

    def patch(self, text: str, call: str) -> Rollout:
        self.add("response_item", {"type": "custom_tool_call", "name": "apply_patch", "call_id": call,
                                   "input": text, "status": "completed"})
        return self.add("response_item", {"type": "custom_tool_call_output", "call_id": call, "output": json.dumps(
            {"output": "Success. Updated the following files:\nM calc.py\n", "metadata": {"exit_code": 0}})})

    def tokens(self, total: tuple[int, int, int]) -> Rollout:
        usage = {"input_tokens": total[0], "cached_input_tokens": total[1], "output_tokens": total[2]}
        return self.add("event_msg", {"type": "token_count", "info": {"total_token_usage": usage}})

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(d) + "\n" for d in self.lines))
        return path


PATCH = """*** Begin Patch
*** Update File: calc.py
@@ def add(a, b):
-    return a - b
+    return a + b
*** Add File: NOTES.md
+fixed add
*** End Patch"""


def test_apply_patch_session_replays_from_the_recorded_git_commit(tmp_path: Path) -> None:
    repo = buggy_repo(tmp_path / "repo")
    commit = git(repo, "rev-parse", "HEAD").strip()
    (repo / "calc.py").write_text("# changed after the session\n" + BUGGY)
    git(repo, "commit", "-qam", "later", date="2025-07-01T00:00:00Z")
    r = Rollout("019b0000-0000-7000-8000-000000000001", str(repo), commit=commit)
    r.prompt("add() is broken, fix it").tokens((1000, 0, 50))
    r.exec("pytest -q", 1, "c1").patch(PATCH, "c2").exec("pytest -q", 0, "c3").tokens((2500, 900, 120))
    path = r.save(tmp_path / "sessions" / "rollout-x.jsonl")
    with HistoryIndex(tmp_path / "s.db") as index:
        index.import_paths([path])
        (row,) = index.sessions()
        assert row.replayable() == (True, "")
        assert (row.workspace_method, row.intent, row.outcome) == ("git", "fix-bug", "green")
        assert row.tokens == Tokens(input=1000 + (1500 - 900), output=120, cache_read=900)
        session = build_session(index, row, None, tmp_path / "ws")
    # The start is the recorded commit, not the later one; the gold is the patch applied to it.
    assert session.workspace.directory is not None
    assert (session.workspace.directory / "calc.py").read_text() == BUGGY
    assert dict(session.gold.files.files) == {"calc.py": FIXED, "NOTES.md": "fixed add\n"}
    assert session.check.paths == ("tests",)
    assert (session.workspace.directory / "tests" / "test_calc.py").read_text() == TEST


def test_shell_heredoc_patch_and_failed_exit_codes(tmp_path: Path) -> None:
    r = Rollout("019b0000-0000-7000-8000-000000000002", "/nowhere/x")
    r.prompt("write notes")
    heredoc = "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: notes.txt\n+hello\n*** End Patch\nEOF"
    r.add("response_item", {"type": "function_call", "name": "shell", "call_id": "a",
                            "arguments": json.dumps({"command": ["bash", "-lc", heredoc], "workdir": "/nowhere/x"})})
    r.add("response_item", {"type": "function_call_output", "call_id": "a",
                            "output": json.dumps({"output": "Done", "metadata": {"exit_code": 0}})})
    r.exec("npm test", 1, "b")
    state = parse(r.save(tmp_path / "r.jsonl"))
    kinds = [(op["op"], op.get("path"), op.get("ok")) for op in state.ops]
    assert kinds == [("add", "/nowhere/x/notes.txt", None), ("test", None, False)]
    f = summarize("codex/z", [state], "r")
    assert f is not None and f.outcome == "red" and f.check_command == "npm test"


def test_subagent_thread_is_attached_and_its_replayed_startup_tokens_skipped(tmp_path: Path) -> None:
    parent = Rollout("019b0000-0000-7000-8000-00000000000a", "/nowhere/p")
    parent.prompt("do it").tokens((100, 0, 10))
    child = Rollout("019b0000-0000-7000-8000-00000000000b", "/nowhere/p",
                    parent="019b0000-0000-7000-8000-00000000000a")
    # A sub-agent thread replays the parent's token events in its first second (skipped), then works (counted).
    child.lines.append({"timestamp": child.lines[0]["payload"]["timestamp"], "type": "event_msg", "payload": {
        "type": "token_count", "info": {"total_token_usage": {"input_tokens": 100, "cached_input_tokens": 0,
                                                              "output_tokens": 10}}}})
    child.tokens((300, 50, 30))
    folder = tmp_path / "sessions"
    parent.save(folder / "rollout-a.jsonl")
    child.save(folder / "rollout-b.jsonl")
    with HistoryIndex(tmp_path / "s.db") as index:
        index.import_paths([folder])
        (row,) = index.sessions()
        features = index.features(row.key)
    assert row.key == "codex/019b0000-0000-7000-8000-00000000000a"
    assert features["subagents"] == 1
    # parent (100, 0, 10) + child delta (300-100, 50-0, 30-10) = input 100 + (200-50) = 250, cached 50, output 30
    assert features["tokens"]["input"] == 250 and features["tokens"]["cache_read"] == 50
    assert features["tokens"]["output"] == 30


def test_legacy_rollout_without_envelope(tmp_path: Path) -> None:
    lines = [
        {"id": "legacy-1", "timestamp": "2025-04-01T10:00:00Z", "instructions": "", "git": {}},
        {"record_type": "state"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "rename the helper"}]},
        {"type": "function_call", "name": "shell", "call_id": "c",
         "arguments": json.dumps({"command": ["pytest", "tests"]})},
        {"type": "function_call_output", "call_id": "c", "output": json.dumps({"output": "ok",
                                                                               "metadata": {"exit_code": 0}})},
    ]
    path = tmp_path / "rollout-legacy.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in lines))
    state = parse(path)
    assert state.broken == 0 and state.session_id == "legacy-1"
    f = summarize("codex/legacy-1", [state], str(path))
    assert f is not None
    assert (f.prompt, f.intent, f.outcome, f.check_command) == ("rename the helper", "refactor", "green",
                                                                "pytest tests")


def test_parse_patch_and_apply_hunks() -> None:
    ops = parse_patch(PATCH + "\n*** Delete File: old.py\n", "/r")
    assert [(o["op"], o["path"]) for o in ops] == [("update", "/r/calc.py"), ("add", "/r/NOTES.md"),
                                                   ("delete", "/r/old.py")]
    assert apply_hunks(BUGGY, ops[0]["hunks"]) == FIXED
    moved = parse_patch("*** Begin Patch\n*** Update File: a.py\n*** Move to: b.py\n@@\n-x\n+y\n*** End Patch", "/r")
    assert moved[0]["move"] == "/r/b.py"
    assert apply_hunks("x\n", moved[0]["hunks"]) == "y\n"
