"""The rubric scorers, run directly on small sources (ruff and radon for real)."""

from __future__ import annotations

import pytest

from pytest_modelbench.scoring.complexity import score_complexity
from pytest_modelbench.scoring.cost import cost_scores
from pytest_modelbench.scoring.coverage import score_coverage
from pytest_modelbench.scoring.judge import parse_verdict, score_judge
from pytest_modelbench.scoring.lint import score_lint
from pytest_modelbench.scoring.pyfiles import added_lines, statement_lines, touched_functions
from pytest_modelbench.scoring.types import score_types

START = "def area(w: float, h: float) -> float:\n    return w * h\n"
GOLD = "def area(w: float, h: float) -> float:\n    if w < 0 or h < 0:\n        raise ValueError('negative')\n" \
       "    return w * h\n"
NESTED = ("def area(w, h):\n    if w >= 0:\n        if h >= 0:\n            if True:\n                return w * h\n"
          "    raise ValueError('negative')\n")


def test_lint_counts_only_new_violations() -> None:
    clean, evidence = score_lint({"m.py": START}, {"m.py": GOLD})
    assert clean.value == 1.0 and evidence["new"] == 0
    dirty, evidence = score_lint({"m.py": START}, {"m.py": "import os\nimport sys\n" + GOLD})
    assert dirty.value == pytest.approx(0.8) and evidence["new_violations"] == ["m.py:F401", "m.py:F401"]
    already = "import os\n" + START
    kept, _ = score_lint({"m.py": already}, {"m.py": already + "\nX = 1\n"})
    assert kept.value == 1.0  # a violation the start already had is not new
    floor, _ = score_lint({}, {"n.py": "".join(f"import m{i}\n" for i in range(15))})
    assert floor.value == 0.0
    assert score_lint({}, {})[0].reason == "no Python file touched"


def test_complexity_against_gold() -> None:
    same, ev = score_complexity({"m.py": START}, {"m.py": GOLD}, {"m.py": GOLD})
    assert same.value == 1.0 and ev["gold"] == 3
    worse, ev = score_complexity({"m.py": START}, {"m.py": NESTED}, {"m.py": GOLD})
    assert ev["candidate"] == 4 and worse.value == pytest.approx(1 - (4 - 3) / 3)
    double = "def area(w, h):\n" + "".join(f"    if w == {i}:\n        return {i}\n" for i in range(6)) + \
             "    return w * h\n"
    assert score_complexity({"m.py": START}, {"m.py": double}, {"m.py": GOLD})[0].value == 0.0
    assert score_complexity({"m.py": START}, {"m.py": "x = (\n"}, {"m.py": GOLD})[0].value is None


def test_types_relative_to_the_start() -> None:
    full, _ = score_types({"m.py": START}, {"m.py": START}, {"m.py": GOLD})
    assert full.value == 1.0
    bare, ev = score_types({"m.py": START}, {"m.py": START}, {"m.py": NESTED})
    assert bare.value == 0.0 and ev["start_ratio"] == 1.0
    half = "def area(w: float, h) -> float:\n    return w * h * 2\n"
    assert score_types({"m.py": START}, {"m.py": START}, {"m.py": half})[0].value == pytest.approx(2 / 3)
    unannotated_start = "def f(a):\n    return a\n"
    assert score_types({"m.py": unannotated_start}, {"m.py": unannotated_start},
                       {"m.py": "def f(a):\n    return a + 1\n"})[0].value == 1.0
    assert score_types({"m.py": START}, {"m.py": START}, {"m.py": START})[0].reason == "no function touched"


def test_coverage_of_added_lines() -> None:
    added = added_lines(START, GOLD) & statement_lines(GOLD)
    assert added == {2, 3}
    score, ev = score_coverage({"m.py": START}, {"m.py": GOLD}, {"m.py": [1, 2, 4]})
    assert score.value == 0.5 and ev["covered_lines"] == {"m.py": [2]}
    assert score_coverage({"m.py": START}, {"m.py": GOLD}, None)[0].reason == "the check produced no coverage data"
    assert score_coverage({"m.py": START}, {"m.py": START}, {})[0].reason == "no statement lines added"


def test_touched_functions() -> None:
    assert set(touched_functions(START, GOLD)) == {"area"}
    assert touched_functions(START, START) == {}
    assert touched_functions(None, "class K:\n    def m(self):\n        pass\n").keys() == {"K.m"}


@pytest.mark.parametrize(("text", "ok", "why"), [
    ('{"problem_solved": 8, "code_clean": 6, "edge_cases": 7, "rationale": "fine"}', True, ""),
    ('```json\n{"problem_solved": 10, "code_clean": 10, "edge_cases": 10}\n```', True, ""),
    ("Looks good, 8/10.", False, "the judge's answer is not JSON"),
    ('{"problem_solved": 11, "code_clean": 6, "edge_cases": 7}', False, "the judge's problem_solved is not"),
    ('{"problem_solved": true, "code_clean": 6, "edge_cases": 7}', False, "the judge's problem_solved is not"),
    ('{"code_clean": 6, "edge_cases": 7}', False, "the judge's problem_solved is not"),
    ("[1, 2, 3]", False, "not a JSON object"),
    ("", False, "the judge answered nothing"),
])
def test_judge_verdicts_are_strict(text: str, ok: bool, why: str) -> None:
    verdict, reason = parse_verdict(text)
    assert (verdict is not None) is ok
    assert why in reason


def test_no_judge_is_missing_not_invented() -> None:
    score, _ = score_judge(None, None, "task", "diff")
    assert score.value is None and "--judge" in score.reason


def test_cost_scores_v1() -> None:
    s = cost_scores({"a": 0.10, "b": 0.40, "replay/gold": 0.0, "c": None}, version=1)
    assert s["a"].value == 1.0 and s["b"].value == 0.25 and s["c"].value is None and s["c"].reason == "price unknown"
    assert s["replay/gold"].value == 1.0
    both_free = cost_scores({"x": 0.0, "y": 0.0}, version=1)
    assert both_free["x"].value == both_free["y"].value == 1.0
    assert cost_scores({"replay/gold": 0.0, "replay/noop": 0.0}, version=1)["replay/noop"].value == 1.0


def test_cost_scores_v2_same_session_all_solved_matches_v1() -> None:
    # When every candidate solves, v2's cheapest solver is v1's cheapest candidate.
    costs = {"a": 0.10, "b": 0.40, "replay/gold": 0.0, "c": None}
    solved = dict.fromkeys(costs, True)
    assert cost_scores(costs, solved) == cost_scores(costs, version=1)
