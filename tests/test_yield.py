"""Yield in plain words: how many sessions replay, and the main reasons the others do not."""

from __future__ import annotations

import pytest

from pytest_modelbench.sources.transcripts.common import yield_lines

from .transcript_builders import BUGGY, SESSION_START, ClaudeTranscript


def test_yield_lines_count_and_rank_the_reasons() -> None:
    results = [(True, ""), (False, "no test command in the session (give one with --check-command)"),
               (False, "no test command in the session (give one with --check-command)"),
               (False, "its test command runs go, and this version checks with pytest")]
    assert yield_lines(results) == [
        "4 session(s), 1 replayable (25%)",
        "main reasons: 2× no test command in the session; 1× its test command runs go, and this version checks "
        "with pytest"]
    assert yield_lines([]) == ["0 session(s), 0 replayable"]


def test_a_run_with_nothing_to_replay_says_how_many_sessions_and_why(pytester: pytest.Pytester) -> None:
    for i in range(2):
        t = ClaudeTranscript(f"0000000{i}-0000-4000-8000-000000000000", "/nonexistent/a", SESSION_START)
        t.user("fix add").read("calc.py", BUGGY).edit("calc.py", "a - b", "a + b", BUGGY)  # never ran a test
        t.save(pytester.path / "projects" / "-a" / f"{i}.jsonl")
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "projects")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    out = result.stdout.str().replace("\n", " ")
    assert "--sessions projects: nothing to replay: 2 session(s), 0 replayable (0%)" in out
    assert "2× no test command in the session" in out
    assert "modelbench sessions --sessions projects --all" in out
