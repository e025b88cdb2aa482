"""The gate end to end (issue 19): a loopback model of fixed quality whose answers are random from request to request,
run again and again through the plugin and litellm with --modelbench-baseline latest, does not fail the gate; the
same model dropping from 0.8 to 0.3 does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_modelbench.testing.openai_server import FakeOpenAI

from .helpers import read_artifacts

SESSIONS = 24  # a 0.8 -> 0.3 drop over 24 pairs is caught ~98% of the time (16: ~90%)


def write_cases(folder: Path, server: FakeOpenAI) -> None:
    """Small cases checked by a function (f must return x + k), each taught to the loopback server."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(1, SESSIONS + 1):
        prompt = f"Make f return x + {k}."
        gold = f"def f(x: int) -> int:\n    return x + {k}\n"
        data = {
            "id": f"fix-{k}", "intent": "fix-bug", "prompt": prompt,
            "workspace": {"files": {"solution.py": "def f(x: int) -> int:\n    return x\n"}},
            "check": {"kind": "function", "entry_point": "f",
                      "test_code": f"def check(f):\n    assert f(2) == {2 + k}\n", "timeout": 30},
            "gold": {"files": {"solution.py": gold}},
        }
        (folder / f"fix-{k}.modelbench.json").write_text(json.dumps(data))
        server.teach(prompt, {"solution.py": gold})


@pytest.mark.slow
def test_noisy_unchanged_model_passes_the_gate_run_after_run_and_a_real_drop_fails(
        pytester: pytest.Pytester) -> None:
    with FakeOpenAI(lifetime=2400, seed=19, qualities={"flaky": 0.8}) as server:
        write_cases(pytester.path / "cases", server)
        # The cache off: every run asks the model again, as a CI job without a warm cache does.
        args = ("--modelbench", "-p", "no:cacheprovider", "--runner", "local", "--sessions", "cases",
                "--models", "openai/flaky", "--model-api-base", server.base_url, "--modelbench-cache", "off",
                "--modelbench-baseline", "latest")
        solved_per_run = []
        for run in range(4):  # the 4th run is also judged by the trend gate (it needs 4 runs)
            result = pytester.runpytest_subprocess(*args)
            out = result.stdout.str()
            assert result.ret == 0, f"unchanged run {run} failed the gate:\n{out[-3000:]}"
            assert "modelbench regressions" not in out
            outcomes = read_artifacts(pytester.path / ".modelbench")[-1]["outcomes"]
            assert len(outcomes) == SESSIONS and all(o["status"] == "complete" for o in outcomes)
            solved_per_run.append(sum(1 for o in outcomes if o["solved"]))
        # The answers did vary: the same sessions, a different set solved from run to run.
        assert len(set(solved_per_run)) > 1 and 0 < min(solved_per_run) and max(solved_per_run) < SESSIONS

        server.qualities["flaky"] = 0.3
        dropped = pytester.runpytest_subprocess(*args)
    out = dropped.stdout.str()
    assert dropped.ret == pytest.ExitCode.TESTS_FAILED, out[-3000:]
    assert "modelbench regressions" in out
    artifact = read_artifacts(pytester.path / ".modelbench")[-1]
    regressions = artifact["regressions"]
    assert regressions and {r["model"] for r in regressions} == {"openai/flaky"}
    paired = [r for r in regressions if r["metric"] in ("combined", "solve_rate")]
    assert paired and all(r["evidence"]["p_holm"] < r["evidence"]["alpha"] for r in paired)
    assert all(r["delta"] < -0.05 for r in paired)


@pytest.mark.parametrize("how", ["flag", "ini"])
def test_solve_tolerance_option_and_its_ini_twin_are_checked(pytester: pytest.Pytester, how: str) -> None:
    if how == "ini":
        pytester.makeini("[pytest]\nmodelbench_solve_tolerance = 1.5\n")
        result = pytester.runpytest_subprocess("--modelbench")
    else:
        result = pytester.runpytest_subprocess("--modelbench", "--modelbench-solve-tolerance", "1.5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--modelbench-solve-tolerance: must be between 0 and 1, got 1.5" in result.stderr.str()
