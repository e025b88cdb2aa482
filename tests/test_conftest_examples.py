"""The conftest examples run as documented."""

from __future__ import annotations

import json
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


# -- the CI gate and the local Ollama setup ---------------------------------------------------------------------------

def _server(teach: bool):
    from pytest_modelbench.sources.demo import DemoSource
    from pytest_modelbench.testing.openai_server import FakeOpenAI

    server = FakeOpenAI(lifetime=600)
    if teach:
        server.teach_sessions(DemoSource().sessions())
    return server


@pytest.mark.slow
def test_ci_gate_example_freezes_the_sample_uses_the_cache_and_fails_on_regression(pytester: pytest.Pytester) -> None:
    _copy("ci_gate", pytester)
    taught = _server(teach=True)
    try:
        args = ("--modelbench", "-p", "no:cacheprovider", "--runner", "local", "--models", "openai/solver",
                "--model-api-base", taught.base_url)
        first = pytester.runpytest_subprocess(*args)
        assert first.ret == 0, first.stdout.str()[-2000:]
        first.stdout.fnmatch_lines(["*no baseline yet: this run passes and becomes the baseline*"])
        manifest = pytester.path / "modelbench-sample.json"
        frozen = manifest.read_text()
        assert len(json.loads(frozen)["sessions"]) == 4
        sent = len(taught.requests)
        assert sent > 0
        # The same run again: every request is answered from the response cache, and the gate compares.
        second = pytester.runpytest_subprocess(*args)
        assert second.ret == 0
        second.stdout.fnmatch_lines(["*compared with baseline latest*0 regression(s)*"])
        assert len(taught.requests) == sent
        assert manifest.read_text() == frozen
    finally:
        taught.close()
    # A candidate that got worse (this server was never taught the sessions), the cache off: exit status 1.
    untaught = _server(teach=False)
    try:
        third = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--runner", "local",
                                              "--models", "openai/solver", "--model-api-base", untaught.base_url,
                                              "--modelbench-cache", "off")
        assert len(untaught.requests) > 0
    finally:
        untaught.close()
    assert third.ret == 1
    third.stdout.fnmatch_lines(["*modelbench regressions*", "*openai/solver*combined*"])
    artifacts = read_artifacts(pytester.path / ".modelbench")
    assert [a["run"]["config"]["sample_manifest"]["sha256"] for a in artifacts].count(
        artifacts[0]["run"]["config"]["sample_manifest"]["sha256"]) == 3
    assert artifacts[1]["budget"]["cache_hits"] == sent and artifacts[1]["budget"]["requests_sent"] == 0
    assert artifacts[2]["regressions"] and artifacts[2]["regressions"][0]["model"] == "openai/solver"


def test_ci_gate_workflow_uses_real_options_and_commands() -> None:
    import shlex

    import yaml

    from pytest_modelbench.cli.main import build_parser
    from pytest_modelbench.run.options import OPTIONS

    workflow = yaml.safe_load((EXAMPLES / "ci_gate" / "modelbench.yml").read_text())
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    runs = [s["run"] for s in steps if "run" in s]
    assert any("--modelbench-shard" in r for r in runs) and any("modelbench merge" in r for r in runs)
    ours = {o.flag for o in OPTIONS}
    pytest_flags = {"-n", "-p"}
    for run in runs:
        for line in run.replace(">-", "").split("\n"):
            if "python -m pytest" in line or line.strip().startswith("--"):
                words = shlex.split(line.replace("${{", "").replace("}}", ""))
                words = words[words.index("pytest") + 1:] if "pytest" in words else words
                for word in words:
                    if word.startswith("-"):
                        assert word.split("=")[0] in ours | pytest_flags, f"{word}: not an option ({line})"
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001
    for run in runs:
        for cmd in ("merge", "list", "compare"):
            if f"modelbench {cmd}" in run:
                assert cmd in subcommands


@pytest.mark.slow
def test_ollama_example_runs_against_a_loopback_stand_in(pytester: pytest.Pytester) -> None:
    _copy("ollama_local", pytester)
    server = _server(teach=False)
    try:
        result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--runner", "local",
                                               "--model-api-base", server.base_url)
        models = {r.get("model") for r in server.requests}
    finally:
        server.close()
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert models == {"qwen2.5-coder:7b", "llama3.2:3b"}
    (artifact,) = read_artifacts(pytester.path / ".modelbench")
    assert {o["model"] for o in artifact["outcomes"]} == {"openai/qwen2.5-coder:7b", "openai/llama3.2:3b"}
    assert all(o["status"] == "complete" for o in artifact["outcomes"])
    assert all(c["fingerprint"]["local"] for c in artifact["candidates"])
    assert artifact["budget"]["spent_usd"] == 0.0


def test_ollama_example_skips_cleanly_without_a_server(pytester: pytest.Pytester) -> None:
    import socket

    _copy("ollama_local", pytester)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens here once the socket is closed
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--runner", "local",
                                           "--model-api-base", f"http://127.0.0.1:{closed}/v1", "-rs")
    assert result.ret == 0
    result.assert_outcomes(skipped=8)
    result.stdout.fnmatch_lines([f"*no Ollama at http://127.0.0.1:{closed}/v1*ollama serve*"])
