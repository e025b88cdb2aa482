"""What a session really did: the branch it ended on, files changed between edits, repeated prompts, unreadable
edits, legacy Codex rollouts, placeholder usage (issue 15). Built with ``transcript_builders``; where a real public
transcript in ``../shared/fixtures/real-sessions/`` shows a shape, a test reads it and skips when it is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_modelbench.sources.transcripts.assess import assess
from pytest_modelbench.sources.transcripts.features import merged_ops, summarize
from pytest_modelbench.sources.transcripts.index import HistoryIndex
from pytest_modelbench.sources.transcripts.simulate import simulate

from .test_claude_code import parse
from .transcript_builders import SESSION_START, ClaudeTranscript

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "fixtures" / "real-sessions" / "claude" / "projects"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/fixtures/real-sessions is not here (a clone)")
SID = "aaaaaaaa-0000-4000-8000-0000000000f1"


def _gold(states: list, cwd: str = "/w") -> dict:
    sim = simulate(merged_ops(states), cwd)
    assert sim.failed == ()
    return {p: sim.final[p] for p in sim.changed}


# -- 1. rewinds ------------------------------------------------------------------------------------------------

def test_a_rewound_branch_is_not_part_of_the_gold_nor_of_the_prompts(tmp_path: Path) -> None:
    t = ClaudeTranscript(SID, "/w", SESSION_START)
    t.user("create notes.txt with a title")
    t.write("notes.txt", "# Notes\n")
    fork = t.parent  # the checkpoint the user rewinds to
    t.user("add a section I will rewind away")
    t.edit("notes.txt", "# Notes\n", "# Notes\n\n## Rewound\n", "# Notes\n")
    t.parent = fork  # checkpoint rewind: the next prompt continues from the fork, the section above is abandoned
    t.user("add a list instead")
    t.edit("notes.txt", "# Notes\n", "# Notes\n\n- one\n", "# Notes\n")
    t.say("done")
    state = parse(t.save(tmp_path / f"{SID}.jsonl"))
    assert _gold([state]) == {"notes.txt": "# Notes\n\n- one\n"}
    f = summarize("k", [state], "p")
    assert f is not None
    assert (f.prompt, f.followups) == ("create notes.txt with a title", ("add a list instead",))


def test_without_a_rewind_every_edit_counts_even_across_a_missing_compaction_parent(tmp_path: Path) -> None:
    t = ClaudeTranscript(SID, "/w", SESSION_START)
    t.user("create notes.txt")
    t.write("notes.txt", "a\n")
    # A compaction boundary whose logical parent the file does not hold (as in real Claude Code 2.1 files): the
    # lines before it cannot be placed on a branch, so they are kept.
    t.lines.append({"type": "system", "subtype": "compact_boundary", "parentUuid": None,
                    "logicalParentUuid": "ffffffff-0000-4000-8000-000000000000", "uuid": "b0", "sessionId": SID,
                    "timestamp": "2025-06-01T12:00:30.000Z"})
    t.parent = "b0"
    t.user("append b")
    t.edit("notes.txt", "a\n", "a\nb\n", "a\n")
    state = parse(t.save(tmp_path / f"{SID}.jsonl"))
    assert _gold([state]) == {"notes.txt": "a\nb\n"}


@needs_real
def test_real_rewound_session_ends_on_its_last_branch(tmp_path: Path) -> None:
    folder = REAL / "-Users-user-project"
    states = [parse(folder / "b3edadab-bca0-4054-9b41-f7ffa6941260.jsonl"), parse(folder / "agent-a434715.jsonl")]
    cwd = states[0].cwd or ""
    final = _gold(states, cwd)["test-file.txt"]
    assert "This file was edited during our test session." in final  # the last branch's history (Edit, Task)
    assert "Section for Conversation" not in final  # added on a branch the user rewound away
    assert "This section will be reverted" not in final  # ditto, the first rewound branch
    assert final.rstrip().endswith("Status: Operation completed successfully")  # the Task agent's addition


# -- 2. files changed between edits ----------------------------------------------------------------------------

def test_an_edit_applies_to_the_tool_results_own_copy_of_the_file(tmp_path: Path) -> None:
    t = ClaudeTranscript(SID, "/w", SESSION_START)
    t.user("write a function")
    t.write("m.py", "def f( x ):\n  return x\n")
    # A formatter hook rewrote m.py after the Write; the next Edit's old_string matches the formatted text, which
    # its toolUseResult.originalFile holds.
    formatted = "def f(x):\n    return x\n"
    t.edit("m.py", "    return x\n", "    return x + 1\n", formatted)
    state = parse(t.save(tmp_path / f"{SID}.jsonl"))
    assert _gold([state]) == {"m.py": "def f(x):\n    return x + 1\n"}


@needs_real
def test_real_session_with_a_formatter_hook_replays_its_edits() -> None:
    folder = REAL / "-home-marco-projects-spotter"
    trunk = folder / "4d5611e5-241a-462a-8d15-5122611a9569.jsonl"
    states = [parse(trunk)] + [parse(p) for p in sorted((folder / trunk.stem / "subagents").glob("*.jsonl"))]
    f = summarize("k", states, str(trunk))
    assert f is not None
    replay, sim = assess(f, merged_ops(states), {})
    assert sim is not None and sim.failed == ()
    assert "lib/spotter_web/components/transcript_components.ex" in sim.changed
    assert "does not apply" not in replay.reason


# -- 3. repeated prompts ---------------------------------------------------------------------------------------

def test_the_same_prompt_sent_again_is_a_new_turn_and_a_repeated_line_is_not(tmp_path: Path) -> None:
    t = ClaudeTranscript(SID, "/w", SESSION_START)
    t.user("run the tests again")
    t.say("2 failed")
    t.user("run the tests again")
    t.say("all green")
    t.lines.append(dict(t.lines[-1]))  # the same line written twice (same uuid): one line
    t.lines.append(dict(t.lines[2]))  # the second prompt's line again: still one turn
    f = summarize("k", [parse(t.save(tmp_path / f"{SID}.jsonl"))], "p")
    assert f is not None
    assert (f.prompt, f.followups) == ("run the tests again", ("run the tests again",))


def test_an_importer_state_of_an_older_version_is_read_anew(tmp_path: Path) -> None:
    t = ClaudeTranscript(SID, "/w", SESSION_START)
    t.user("create notes.txt")
    t.write("notes.txt", "a\n")
    path = t.save(tmp_path / "p" / f"{SID}.jsonl")
    with HistoryIndex(tmp_path / "s.db") as index:
        index.import_paths([tmp_path / "p"])
        index.db.execute("UPDATE history_files SET state_json = json_set(state_json, '$.v', 1)")
        with path.open("a") as fh:
            fh.write(path.read_text().splitlines()[0].replace('"uuid":"', '"uuid":"9') + "\n")
        report = index.import_paths([tmp_path / "p"])
    assert [f.status for f in report.files] == ["rewritten"]


# -- 4. unreadable edits ---------------------------------------------------------------------------------------

def test_an_apply_patch_that_cannot_be_read_is_named_not_called_no_change(tmp_path: Path) -> None:
    from .test_codex import Rollout
    from .test_codex import parse as parse_codex

    r = Rollout("019b0000-0000-7000-8000-00000000000a", "/w")
    r.prompt("fix add()")
    r.patch("[REDACTED]", "c1")  # the patch text was redacted upstream; the call succeeded
    r.add("response_item", {"type": "function_call", "name": "shell", "call_id": "c2",
                            "arguments": '{"command": ["apply_patch", "<redacted>"]}'})
    r.add("response_item", {"type": "function_call_output", "call_id": "c2",
                            "output": '{"output": "Done!", "metadata": {"exit_code": 0}}'})
    state = parse_codex(r.save(tmp_path / "rollout.jsonl"))
    f = summarize("codex/x", [state], "p")
    assert f is not None
    replay, sim = assess(f, merged_ops([state]), {})
    assert sim is not None and sim.unreadable == 2
    assert replay.reason.startswith("2 edits could not be read")
    assert f.files_touched == ()


def test_a_claude_edit_without_its_path_is_unreadable(tmp_path: Path) -> None:
    t = ClaudeTranscript(SID, "/w", SESSION_START)
    t.user("fix it")
    t.tool("Edit", {"file_path": "", "old_string": "[REDACTED]", "new_string": "[REDACTED]"},
           "The file has been updated.")
    state = parse(t.save(tmp_path / f"{SID}.jsonl"))
    f = summarize("k", [state], "p")
    assert f is not None
    replay, _sim = assess(f, merged_ops([state]), {})
    assert replay.reason.startswith("1 edit could not be read")


# -- 5. legacy Codex rollouts ----------------------------------------------------------------------------------

def test_legacy_rollout_cwd_from_environment_context_calls_counted_tokens_unknown(tmp_path: Path) -> None:
    import json

    from .test_codex import parse as parse_codex

    def msg(role: str, text: str) -> dict:
        kind = "input_text" if role == "user" else "output_text"
        return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}

    lines = [
        {"id": "legacy-2", "timestamp": "2025-04-01T10:00:00Z", "instructions": "", "git": {}},
        {"record_type": "state"},
        msg("user", "<environment_context>\n  <cwd>/home/u/proj</cwd>\n  <approval_policy>on-request</approval_policy>"
                    "\n</environment_context>"),
        msg("user", "fix the failing test"),
        {"type": "reasoning", "summary": []},  # one model call: reasoning + a shell call
        {"type": "function_call", "name": "shell", "call_id": "c1",
         "arguments": json.dumps({"command": ["pytest", "-q"]})},
        {"record_type": "state"},
        {"type": "function_call_output", "call_id": "c1",
         "output": json.dumps({"output": "1 passed", "metadata": {"exit_code": 0}})},
        msg("assistant", "All green."),  # a second call
    ]
    path = tmp_path / "rollout-legacy.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in lines))
    state = parse_codex(path)
    f = summarize("codex/legacy-2", [state], str(path))
    assert f is not None and state.broken == 0
    assert (f.cwd, f.prompt, f.calls) == ("/home/u/proj", "fix the failing test", 2)
    assert (f.tokens_status, f.cost_usd) == ("unknown", None)


def test_a_modern_rollout_keeps_exact_tokens(tmp_path: Path) -> None:
    from .test_codex import Rollout
    from .test_codex import parse as parse_codex

    r = Rollout("019b0000-0000-7000-8000-00000000000b", "/w").prompt("hi").tokens((100, 0, 10))
    f = summarize("codex/y", [parse_codex(r.save(tmp_path / "r.jsonl"))], "p")
    assert f is not None and (f.tokens_status, f.calls, f.tokens.output) == ("exact", 1, 10)


# -- 6. placeholder usage --------------------------------------------------------------------------------------

def test_a_call_saved_with_only_its_placeholder_output_count_makes_tokens_incomplete(tmp_path: Path) -> None:
    t = ClaudeTranscript(SID, "/w", SESSION_START)
    t.user("write the module")
    t.say("Sure.", usage=(3, 4, 0, 100))  # a real count: 4 tokens for 5 characters
    assert summarize("k", [parse(t.save(tmp_path / "a.jsonl"))], "p").tokens_status == "exact"  # type: ignore
    body = "def f(x):\n    return x * 2\n" * 40  # ~1,100 characters written with an output count of 1
    t.tool("Write", {"file_path": "/w/m.py", "content": body}, "File created", usage=(3, 1, 0, 100))
    f = summarize("k", [parse(t.save(tmp_path / "b.jsonl"))], "p")
    assert f is not None and f.tokens_status == "incomplete"


@needs_real
def test_real_session_with_placeholder_counts_is_incomplete() -> None:
    folder = REAL / "-home-marco-projects-spotter"
    f = summarize("k", [parse(folder / "4d5611e5-241a-462a-8d15-5122611a9569.jsonl")], "p")
    assert f is not None and f.tokens_status == "incomplete"


# -- 8. messages -----------------------------------------------------------------------------------------------

def _mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "projects"
    t = ClaudeTranscript(SID, "/nonexistent/w", SESSION_START)
    t.user("create notes.txt with a title and a long explanation of why it exists, so the reason gets long")
    t.read("notes.txt", "old\n")
    t.write("notes.txt", "# Notes\n", created=False)
    t.user("now add a list")
    t.edit("notes.txt", "- not there", "- one", "# Notes\n")  # does not apply: a long reason
    t.save(folder / "-nonexistent-w" / f"{SID}.jsonl")
    (folder / "-other").mkdir()
    (folder / "-other" / "tool.jsonl").write_text('{"event": "start", "tool": "another-agent"}\n')
    (folder / "-other" / "empty.jsonl").write_text("")
    return folder


def test_files_that_are_not_transcripts_are_named_with_why(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_modelbench.cli.main import main

    folder = _mixed_folder(tmp_path)
    assert main(["sessions", "--all", "--sessions", str(folder), "--store", str(tmp_path / "s.db")]) == 0
    out = capsys.readouterr().out
    assert "skipped 2 file(s) that are not transcripts:" in out
    assert f"{folder / '-other' / 'empty.jsonl'}: empty file" in out
    assert f"{folder / '-other' / 'tool.jsonl'}: JSON lines of another tool" in out
    assert main(["import", str(folder), "--store", str(tmp_path / "s.db"), "--json"]) == 0
    skipped = {Path(s["path"]).name: s["why"] for s in json.loads(capsys.readouterr().out)["skipped"]}
    assert skipped == {"empty.jsonl": "empty file",
                       "tool.jsonl": "JSON lines of another tool: neither a Claude Code transcript nor a Codex "
                                     "rollout"}


def test_sessions_on_a_file_of_another_tool_says_what_it_is_not(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_modelbench.cli.main import main

    folder = _mixed_folder(tmp_path)
    assert main(["sessions", "--sessions", str(folder / "-other" / "tool.jsonl"),
                 "--store", str(tmp_path / "s.db")]) == 2
    err = capsys.readouterr().err
    assert "not a case file" in err and "not a Claude Code or Codex transcript: JSON lines of another tool" in err


def test_sessions_json_has_the_promised_features_and_the_table_cuts_with_an_ellipsis(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_modelbench.cli.main import main

    folder = _mixed_folder(tmp_path)
    args = ["sessions", "--all", "--sessions", str(folder), "--store", str(tmp_path / "s.db")]
    assert main([*args, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["followups"] == ["now add a list"]
    assert (row["files_touched"], row["files_read"]) == (["notes.txt"], ["notes.txt"])
    assert row["tools"] == {"Edit": 1, "Read": 1, "Write": 1}
    assert row["model_calls"] == 3 and "turns" not in row
    assert row["tokens_status"] == "exact" and row["tokens"]["output"] == 30
    reason = row["reason"]
    assert reason.startswith("the session's edit of notes.txt does not apply") and len(reason) > 70
    assert main(args) == 0
    cell = next(line for line in capsys.readouterr().out.splitlines() if SID in line).split("|")[4].strip()
    assert cell.endswith("…") and len(cell) <= 70
    assert ("no: " + reason).startswith(cell[:-1])  # cut at a word: what is shown is a prefix of the reason
    assert cell[:-1] == cell[:-1].rstrip() and ("no: " + reason)[len(cell) - 1] == " "


@needs_real
def test_real_sessions_read_with_the_right_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_modelbench.cli.main import main

    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(REAL.parent))
    assert main(["sessions", "--all", "--json", "--sessions", "claude-code", "--store", str(tmp_path / "s.db")]) == 0
    rows = {r["id"][:8]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["4d5611e5"]["reason"].startswith("its test command runs mix")  # ran `mix test`, edits replay
    assert rows["b3edadab"]["reason"].startswith("no test command in the session")
    assert rows["fe5e1c67"]["reason"].startswith("no test command in the session")  # only `npm run build`
    assert rows["d3ad4cdc"]["reason"].startswith("edits that cannot be replayed (notebook cells)")
    assert rows["d3ad4cdc"]["intent"] == "build-new"
    assert all(r["tokens_status"] == "incomplete" for r in rows.values())
