"""Replayable sessions from transcripts: start from git or from the transcript, gold = the session's own edits,
check = the test command the agent ran (or --check-command), and sampling over them."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from pytest_modelbench.cli.main import main
from pytest_modelbench.replay.testselect import PytestConfig, TestRun, check_paths, select_tests
from pytest_modelbench.sampling.sample import stratified_sample
from pytest_modelbench.sources.transcripts.commands import parse_test_command, removed_paths
from pytest_modelbench.sources.transcripts.index import HistoryIndex
from pytest_modelbench.sources.transcripts.rebuild import build_session
from pytest_modelbench.sources.transcripts.simulate import simulate
from pytest_modelbench.sources.transcripts.source import TranscriptSource

from .helpers import read_artifacts
from .transcript_builders import (
    BUGGY,
    FIXED,
    PROMPTS,
    SESSION_START,
    TEST,
    ClaudeTranscript,
    bugfix_session,
    buggy_repo,
    git,
    history_of,
)

GIT_ID = "11111111-2222-4333-8444-555555555555"
TRANSCRIPT_ID = "99999999-2222-4333-8444-555555555555"


def _sessions_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    assert main(["sessions", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_bugfix_session_replays_gold_solves_noop_does_not(pytester: pytest.Pytester,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # One session whose repository exists here (start from git), one whose cwd is gone (start from the transcript).
    repo = buggy_repo(pytester.path / "repo")
    projects = pytester.path / "projects"
    bugfix_session(str(repo), GIT_ID).save(projects / "-repo" / f"{GIT_ID}.jsonl")
    bugfix_session("/nonexistent/elsewhere", TRANSCRIPT_ID).save(projects / "-elsewhere" / f"{TRANSCRIPT_ID}.jsonl")
    (repo / "calc.py").write_text("# work in progress after the session\n" + FIXED)  # the working tree moved on

    rows = _sessions_json(capsys, "--sessions", str(projects), "--store", str(pytester.path / "cli.db"), "--all")
    by_id = {r["id"]: r for r in rows}
    assert by_id[GIT_ID]["replayable"] and by_id[GIT_ID]["workspace"] == "git"
    assert by_id[TRANSCRIPT_ID]["replayable"] and by_id[TRANSCRIPT_ID]["workspace"] == "transcript"
    for row in rows:
        assert (row["intent"], row["outcome"], row["check_command"]) == ("fix-bug", "green", "python -m pytest -q")
        assert row["reason"] == "" and row["partial"] is False

    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "projects",
                                           "--runner", "local")
    assert result.ret == 0, result.stdout.str()
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    solved = {(o["session_id"], o["model"]): o["solved"] for o in artifact["outcomes"]}
    assert solved == {(GIT_ID, "replay/gold"): True, (GIT_ID, "replay/noop"): False,
                      (TRANSCRIPT_ID, "replay/gold"): True, (TRANSCRIPT_ID, "replay/noop"): False}
    assert all(o["source"] == "claude-code" and o["intent"] == "fix-bug" for o in artifact["outcomes"])
    # The git start is the commit before the session, extracted once, the repository left as it was.
    (workspace,) = (pytester.path / ".modelbench" / "workspaces").iterdir()
    assert (workspace / "calc.py").read_text() == BUGGY
    assert git(repo, "status", "--porcelain").strip() == "M calc.py"
    assert git(repo, "worktree", "list").count("\n") == 1


def _index(tmp_path: Path, transcript: ClaudeTranscript, sid: str):
    transcript.save(tmp_path / "h" / "p" / f"{sid}.jsonl")
    index = HistoryIndex(tmp_path / "s.db")
    index.import_paths([tmp_path / "h"])
    return index


def test_reasons_a_session_cannot_be_replayed(tmp_path: Path) -> None:
    cases = {}
    # no test command
    t = ClaudeTranscript("00000000-0000-4000-8000-000000000001", "/nonexistent/a", SESSION_START)
    t.user("fix add").read("calc.py", BUGGY).edit("calc.py", "a - b", "a + b", BUGGY)
    cases["no-test"] = t
    # a test command that is not pytest
    t = ClaudeTranscript("00000000-0000-4000-8000-000000000002", "/nonexistent/a", SESSION_START)
    t.user("fix add").read("calc.py", BUGGY).edit("calc.py", "a - b", "a + b", BUGGY).bash("go test ./...", "ok")
    cases["go"] = t
    # an edit of a file the transcript never showed, and no repository here
    t = ClaudeTranscript("00000000-0000-4000-8000-000000000003", "/nonexistent/a", SESSION_START)
    t.user("fix add").tool("Edit", {"file_path": "/nonexistent/a/calc.py", "old_string": "a - b",
                                    "new_string": "a + b"}, "The file has been updated.").bash("pytest", "ok")
    cases["unknown"] = t
    # an edit that does not apply to what the transcript shows as the start
    t = ClaudeTranscript("00000000-0000-4000-8000-000000000004", "/nonexistent/a", SESSION_START)
    t.user("fix add").read("calc.py", BUGGY).edit("calc.py", "a * b", "a + b", "").bash("pytest", "ok")
    cases["no-apply"] = t
    # an edit outside the working directory
    t = ClaudeTranscript("00000000-0000-4000-8000-000000000005", "/nonexistent/a", SESSION_START)
    t.user("fix add").write("../other/x.py", "x = 1\n").bash("pytest", "ok")
    cases["outside"] = t
    for name, transcript in cases.items():
        transcript.save(tmp_path / "h" / "p" / f"{name}.jsonl")
    with HistoryIndex(tmp_path / "s.db") as index:
        index.import_paths([tmp_path / "h"])
        reasons = {s.session_id[-1]: s.replayable() for s in index.sessions()}
        with_check = {s.session_id[-1]: s.replayable("pytest tests") for s in index.sessions()}
    assert reasons["1"] == (False, "no test command in the session (give one with --check-command)")
    assert reasons["2"][0] is False and "runs go" in reasons["2"][1]
    assert reasons["3"][0] is False and reasons["3"][1].startswith("the start of calc.py is unknown")
    assert reasons["4"][0] is False and "edit of calc.py does not apply" in reasons["4"][1]
    assert reasons["5"][0] is False and reasons["5"][1].startswith("edits outside the working directory")
    # --check-command fixes only the missing or unsupported check, not a start that cannot be rebuilt.
    assert with_check["1"] == (True, "") and with_check["2"] == (True, "")
    assert not with_check["3"][0] and not with_check["4"][0]


def test_check_command_option_in_a_run(pytester: pytest.Pytester) -> None:
    t = ClaudeTranscript("00000000-0000-4000-8000-000000000007", "/nonexistent/a", SESSION_START)
    t.user("fix add").read("calc.py", BUGGY).read("tests/test_calc.py", TEST)
    t.edit("calc.py", "a - b", "a + b", BUGGY)
    t.save(pytester.path / "h" / "p" / "s.jsonl")
    base = ("--modelbench", "-p", "no:cacheprovider", "--sessions", "h", "--runner", "local")
    without = pytester.runpytest_subprocess(*base, "--co", "-q")
    assert "no tests collected" in without.stdout.str() or "0 items" in without.stdout.str()
    ran = pytester.runpytest_subprocess(*base, "--check-command", "python -m pytest tests")
    ran.assert_outcomes(passed=2)
    bad = pytester.runpytest_subprocess(*base, "--check-command", "go test ./...")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert ("--check-command: 'go test ./...' runs go; this version checks with pytest, python -m unittest, "
            "node --test") in bad.stderr.str()


def test_transcript_start_is_partial_when_files_are_missing(tmp_path: Path) -> None:
    t = ClaudeTranscript("00000000-0000-4000-8000-000000000008", "/nonexistent/b", SESSION_START)
    t.user("fix add").read("calc.py", BUGGY).read("tests/test_calc.py", TEST)
    t.tool("Read", {"file_path": "/nonexistent/b/big.py", "offset": 100, "limit": 20}, "   100→x = 1")
    t.edit("calc.py", "a - b", "a + b", BUGGY).bash("pytest tests/test_calc.py::test_add -x", "1 passed")
    with _index(tmp_path, t, "x") as index:
        (row,) = index.sessions()
        assert (row.workspace_method, row.workspace_partial, row.replayable()) == ("transcript", True, (True, ""))
        session = build_session(index, row, None, tmp_path / "ws")
    assert dict(session.workspace.files) == {"calc.py": BUGGY, "tests/test_calc.py": TEST}
    assert dict(session.gold.files.files) == {"calc.py": FIXED}
    assert session.check.paths == ("tests/test_calc.py::test_add",)  # the node id the session ran
    assert session.original.model == "claude-sonnet-4-5-20250929" and session.original.turns == 5


def test_tests_written_by_the_session_become_the_hidden_check(tmp_path: Path) -> None:
    new_test = "from calc import add\n\n\ndef test_negative():\n    assert add(-1, -1) == -2\n"
    t = ClaudeTranscript("00000000-0000-4000-8000-000000000009", "/nonexistent/c", SESSION_START)
    t.user("add is wrong for negatives, fix it and add a test").read("calc.py", BUGGY)
    t.write("tests/test_negative.py", new_test).edit("calc.py", "a - b", "a + b", BUGGY)
    t.bash("cd /nonexistent/c && rm -f stale.txt && pytest tests", "2 passed")
    with _index(tmp_path, t, "y") as index:
        session = build_session(index, index.sessions()[0], None, tmp_path / "ws")
    assert dict(session.check.files.files) == {"tests/test_negative.py": new_test}
    assert dict(session.gold.files.files) == {"calc.py": FIXED}
    assert "tests" in session.check.paths


@pytest.mark.parametrize("command, runner, paths, cwd", [
    ("pytest", "pytest", (), ""),
    ("python -m pytest -q tests/test_a.py::test_x -k 'not slow'", "pytest", ("tests/test_a.py",), ""),
    ("cd pkg && uv run pytest -x tests", "pytest", ("tests",), "pkg"),
    ("PYTHONPATH=. timeout 60 python3.11 -m pytest --maxfail 1 t", "pytest", ("t",), ""),
    ("npm test", "npm", (), ""), ("npm run test:unit", "npm", (), ""), ("go test ./...", "go", (), ""),
    ("cargo test --release", "cargo", (), ""), ("npx vitest run", "vitest", (), ""), ("tox -e py311", "tox", (), ""),
    ("make test", "make", (), ""),
    ('mix test test/spotter/services/x_test.exs 2>&1 | tail -40', "mix", (), ""),  # a real Elixir session
])
def test_parse_test_command(command: str, runner: str, paths: tuple[str, ...], cwd: str) -> None:
    parsed = parse_test_command(command)
    assert parsed is not None
    assert (parsed.runner, parsed.paths, parsed.cwd) == (runner, paths, cwd)


@pytest.mark.parametrize("command", ["ls -la", "cat test_a.py", "git status", "echo pytest", "python main.py"])
def test_not_test_commands(command: str) -> None:
    assert parse_test_command(command) is None


def test_removed_paths_and_check_paths() -> None:
    assert removed_paths("rm hello.js && git rm -f old.py") == ["hello.js", "old.py"]
    assert removed_paths("rm -rf build/*") == []
    files = ["pkg/core.py", "pkg/test_core.py", "tests/__init__.py", "tests/test_a.py", "tests/unit/test_b.py"]

    def paths(*args: str) -> list[str]:
        selection = select_tests(files, TestRun("pytest", args), PytestConfig())
        return check_paths(files, selection, selection.files.__contains__)

    # A folder of tests is kept whole; a test file beside code is named alone (the code stays the candidate's).
    assert paths(".") == ["pkg/test_core.py", "tests", "tests/unit"]
    assert paths("tests") == ["tests", "tests/unit"]
    # Named files and node ids are kept as given.
    assert paths("tests/test_a.py::test_x", "pkg") == ["tests/test_a.py::test_x", "pkg/test_core.py"]


def test_simulate_prefers_what_the_transcript_showed_over_git() -> None:
    ops = [{"op": "read", "path": "/r/a.py", "content": "x = 1\n", "partial": False},
           {"op": "edit", "path": "/r/a.py", "edits": [["x = 1", "x = 2", False]], "original": None},
           {"op": "edit", "path": "/r/b.py", "edits": [["y", "z", False]], "original": None}]
    sim = simulate(ops, "/r", lambda rel: {"a.py": "x = 0\n", "b.py": "y\n"}.get(rel))
    assert sim.start == {"a.py": "x = 1\n", "b.py": "y\n"} and sim.from_lookup == {"b.py"}
    assert sim.final == {"a.py": "x = 2\n", "b.py": "z\n"} and sim.changed == ["a.py", "b.py"]


def test_same_seed_same_sample_on_shuffled_input_different_seed_differs(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    history_of(tmp_path / "a", 36, PROMPTS)
    # The same history written in another order (and another folder layout order): file order must not matter.
    b = tmp_path / "b"
    for src in sorted((tmp_path / "a").rglob("*.jsonl"), reverse=True):
        dest = b / src.parent.name / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    samples = {}
    for name in ("a", "b"):
        for seed in (1, 2):
            rows = _sessions_json(capsys, "--sessions", str(tmp_path / name), "--store", str(tmp_path / f"{name}.db"),
                                  "--sample-seed", str(seed))
            samples[name, seed] = [r["key"] for r in rows]
    assert len(samples["a", 1]) == 10  # transcript sources sample 10 by default
    assert samples["a", 1] == samples["b", 1] and samples["a", 2] == samples["b", 2]
    assert samples["a", 1] != samples["a", 2]
    # Every intent present in the history (six strata) has at least one session in the sample.
    with HistoryIndex(tmp_path / "a.db") as index:
        intents = {s.key: s.intent for s in index.sessions()}
    assert {intents[k] for k in samples["a", 1]} == set(intents.values())
    # The same directly on the sampler, with the input order shuffled.
    source = TranscriptSource("claude-code", [tmp_path / "a"], None, tmp_path / "a.db")
    light = list(source.sessions())
    for seed in range(3):
        shuffled = light[:]
        random.Random(seed).shuffle(shuffled)
        assert [s.key for s in stratified_sample(shuffled, 10, 5)] == [s.key for s in stratified_sample(light, 10, 5)]
