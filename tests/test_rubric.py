"""Rubric files, combine() and the tests component (product.md §7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_modelbench.records import ComponentScore, TestCounts
from pytest_modelbench.scoring.combine import NOT_IMPLEMENTED, combine
from pytest_modelbench.scoring.rubric import RubricError, load_rubric, resolve_rubric
from pytest_modelbench.scoring.tests import counts_summary, score_tests

GOOD = """rubric_version: 1
components:
  static:
    weight: 0.5
    components:
      tests: {weight: 1}
      lint: {weight: 1}
  llm: {weight: 0.5}
"""


def test_default_rubric_matches_the_spec(tmp_path: Path) -> None:
    rubric = resolve_rubric("default", tmp_path)
    assert (rubric.name, rubric.version) == ("default", 2)
    assert dict(rubric.weights) == {"static": 0.4, "llm": 0.4, "cost": 0.2}
    assert dict(rubric.static_weights) == {"tests": 0.5, "lint": 0.15, "complexity": 0.1, "types": 0.1,
                                           "coverage": 0.15}


def test_tests_only_rubric(tmp_path: Path) -> None:
    rubric = resolve_rubric("tests-only", tmp_path)
    assert dict(rubric.weights) == {"static": 1.0} and dict(rubric.static_weights) == {"tests": 1.0}
    assert rubric.weight("llm") == 0.0


def test_rubric_by_relative_path_and_unknown_name(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(GOOD, encoding="utf-8")
    rubric = resolve_rubric("mine.yaml", tmp_path)
    assert rubric.name == "mine" and rubric.path == str(tmp_path / "mine.yaml")
    with pytest.raises(RubricError, match="no such built-in rubric .*default.*tests-only"):
        resolve_rubric("nope", tmp_path)


@pytest.mark.parametrize("text, key", [
    (GOOD.replace("rubric_version: 1\n", ""), "rubric_version"),
    (GOOD.replace("rubric_version: 1", "rubric_version: 3"), "rubric_version"),
    (GOOD.replace("rubric_version: 1", "rubric_version: '1'"), "rubric_version"),
    (GOOD + "extra: 1\n", "extra"),
    (GOOD + "  speed: {weight: 1}\n", "components.speed"),
    (GOOD.replace("lint:", "style:"), "components.static.components.style"),
    (GOOD.replace("llm: {weight: 0.5}", "llm: {weight: -0.1}"), "components.llm.weight"),
    (GOOD.replace("llm: {weight: 0.5}", "llm: {weight: high}"), "components.llm.weight"),
    (GOOD.replace("llm: {weight: 0.5}", "llm: {weight: true}"), "components.llm.weight"),
    (GOOD.replace("llm: {weight: 0.5}", "llm: {}"), "components.llm.weight"),
    (GOOD.replace("lint: {weight: 1}", "lint: {weight: -1}"), "components.static.components.lint.weight"),
    (GOOD.replace("0.5", "0"), "components"),
    (GOOD.replace("{weight: 1}", "{weight: 0}"), "components.static.components"),
    ("rubric_version: 1\ncomponents: {}\n", "components"),
    # A custom component named like an item's own junit property would overwrite it (modelbench_status = 0.5).
    (GOOD + "  status: {weight: 1, custom: true}\n", "components.status"),
    (GOOD + "  seconds: {weight: 1, custom: true}\n", "components.seconds"),
])
def test_broken_rubric_names_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    assert str(info.value).startswith(f"{path}: key '{key}'")


def test_boolean_rubric_version_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(GOOD.replace("rubric_version: 1", "rubric_version: true"), encoding="utf-8")
    with pytest.raises(RubricError, match="rubric_version"):
        load_rubric(path)


def test_combine_renormalises_over_present_components(tmp_path: Path) -> None:
    rubric = resolve_rubric("default", tmp_path)
    measured = {"tests": ComponentScore("tests", 0.5), "llm": ComponentScore("llm", 1.0)}
    components, combined = combine(rubric, measured)
    by_name = {c.name: c for c in components}
    assert [c.name for c in components] == ["tests", "lint", "complexity", "types", "coverage", "static", "llm", "cost"]
    assert by_name["static"].value == 0.5  # only tests present among the sub-components
    assert combined == pytest.approx((0.4 * 0.5 + 0.4 * 1.0) / (0.4 + 0.4))
    for name in ("lint", "complexity", "types", "coverage", "cost"):
        assert by_name[name].value is None and by_name[name].reason == NOT_IMPLEMENTED == "no scorer measured it"


def test_combine_weights_static_sub_components(tmp_path: Path) -> None:
    rubric = resolve_rubric("default", tmp_path)
    measured = {"tests": ComponentScore("tests", 1.0), "lint": ComponentScore("lint", 0.0),
                "cost": ComponentScore("cost", 0.5)}
    components, combined = combine(rubric, measured)
    static = 0.5 / (0.5 + 0.15)
    assert {c.name: c.value for c in components}["static"] == pytest.approx(static, abs=1e-6)
    assert combined == pytest.approx((0.4 * static + 0.2 * 0.5) / 0.6, abs=1e-6)


def test_combine_with_nothing_measured(tmp_path: Path) -> None:
    components, combined = combine(resolve_rubric("default", tmp_path), {})
    assert combined is None
    assert all(c.value is None and c.reason for c in components)


def counts(passed: int, failed: int = 0, errors: int = 0, exit_code: int | None = 0, **kw: object) -> TestCounts:
    return TestCounts(passed=passed, failed=failed, errors=errors, skipped=0, exit_code=exit_code, **kw)


@pytest.mark.parametrize("after, value, solved", [
    (counts(4), 1.0, True),
    (counts(3, 1, exit_code=1), 0.75, False),
    (counts(2, 1, 1, exit_code=1), 0.5, False),
    (counts(4, exit_code=1), 1.0, False),  # all passed but pytest did not exit cleanly
    (counts(4, result_file_found=False), 0.0, False),
    (counts(4, timed_out=True), 0.0, False),
    (counts(0, exit_code=None, timed_out=True, result_file_found=False), 0.0, False),
    (counts(0, exit_code=5), 0.0, False),
])
def test_score_tests_v1(after: TestCounts, value: float, solved: bool) -> None:
    before = counts(1, 3, exit_code=1)
    component, evidence = score_tests(before, after, version=1)
    assert component == ComponentScore("tests", value)
    assert evidence["solved"] is solved
    assert evidence["test_pass_delta"] == pytest.approx(value - 0.25)
    assert evidence["before"]["total"] == 4 and evidence["after"] == counts_summary(after)
