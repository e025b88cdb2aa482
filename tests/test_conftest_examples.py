"""The conftest examples run as documented."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .helpers import read_artifacts

EXAMPLES = Path(__file__).parent.parent / "conftest_examples"


def _copy(example: str, pytester: pytest.Pytester) -> None:
    for item in (EXAMPLES / example).iterdir():
        if item.is_file():
            shutil.copy(item, pytester.path / item.name)


def test_custom_source_example(pytester: pytest.Pytester) -> None:
    _copy("custom_source", pytester)
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*kata/fizzbuzz?replay/gold? PASSED*"])
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    solved = {(o["session_id"], o["model"]): o["solved"] for o in artifact["outcomes"]}
    assert solved == {("fizzbuzz", "replay/gold"): True, ("fizzbuzz", "replay/noop"): False,
                      ("leap-year", "replay/gold"): True, ("leap-year", "replay/noop"): False}


def test_custom_candidate_example(pytester: pytest.Pytester) -> None:
    _copy("custom_candidate", pytester)
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "-k", "slugify or inventory",
                                           "--runner", "local")
    result.assert_outcomes(passed=6, deselected=30)
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    rule = [o for o in artifact["outcomes"] if o["model"] == "rules/strip-debug"]
    assert len(rule) == 2 and all(o["status"] == "complete" and o["num_turns"] == 1 for o in rule)
    assert all(o["evidence"]["replay"]["mode"] == "rule" for o in rule)


def test_custom_scorer_example(pytester: pytest.Pytester) -> None:
    _copy("custom_scorer", pytester)
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "-k", "slugify or docs-stats",
                                           "--runner", "local")
    result.assert_outcomes(passed=4, deselected=20)
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert artifact["run"]["config"]["rubric"]["weights"]["docstrings"] == 0.1
    for o in artifact["outcomes"]:
        comp = {c["name"]: c for c in o["components"]}["docstrings"]
        if o["model"] == "replay/noop":
            assert comp == {"name": "docstrings", "value": None, "reason": "no function in the touched files"}
        else:
            assert comp["value"] is not None and 0 <= comp["value"] <= 1
            assert o["evidence"]["docstrings"]["functions"] >= 1
            # combined includes the custom component with its weight, as the formula says
            w = artifact["run"]["config"]["rubric"]["weights"]
            parts = {k: v["value"] for k, v in {c["name"]: c for c in o["components"]}.items()
                     if k in w and v["value"] is not None}
            expected = sum(w[k] * v for k, v in parts.items()) / sum(w[k] for k in parts)
            assert o["combined_score"] == pytest.approx(expected, abs=1e-6)
