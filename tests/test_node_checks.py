"""JavaScript checks (replay/nodecheck.py): node --test through npm test, judged from node's junit result file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pytest_modelbench.replay.nodecheck import is_js_test_file, node_runner, read_jest
from pytest_modelbench.runners import RunResult

from .helpers import read_artifacts, requires_bwrap

requires_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

BUGGY = "exports.add = (a, b) => a - b;\n"
FIXED = "exports.add = (a, b) => a + b;\n"
TEST = ("const test = require('node:test');\nconst assert = require('node:assert');\n"
        "const { add } = require('../math.js');\n"
        "test('adds', () => { assert.strictEqual(add(2, 3), 5); });\n"
        "test('zero', () => { assert.strictEqual(add(0, 0), 0); });\n")


@pytest.mark.parametrize(("command", "package", "runner"), [
    ("npm test", {"scripts": {"test": "node --test"}}, "node-test"),
    ("npm run test", {"scripts": {"test": "vitest run"}}, "vitest"),
    ("yarn test", {"scripts": {"test": "jest --coverage"}}, "jest"),
    ("npx vitest run", None, "vitest"),
    ("node --test test/", None, "node-test"),
    ("jest", None, "jest"),
])
def test_node_runner_resolves_commands(command: str, package: dict | None, runner: str) -> None:
    assert node_runner(command, package) == (runner, "")


@pytest.mark.parametrize(("command", "package", "reason"), [
    ("npm test", {"scripts": {"test": "mocha"}}, "runs 'mocha': not a test runner this version supports"),
    ("npm test", {"scripts": {}}, "package.json has no scripts.test"),
    ("go test ./...", None, "not a test runner this version supports"),
])
def test_node_runner_names_what_it_cannot_run(command: str, package: dict | None, reason: str) -> None:
    runner, why = node_runner(command, package)
    assert runner is None and reason in why


def test_js_test_files() -> None:
    assert is_js_test_file("src/math.test.ts") and is_js_test_file("test/helpers.js")
    assert is_js_test_file("__tests__/a.js") and not is_js_test_file("src/math.js")


def test_jest_result_file(tmp_path: Path) -> None:
    result = tmp_path / "jest.json"
    result.write_text(json.dumps({"numPassedTests": 3, "numFailedTests": 1, "numPendingTests": 1,
                                  "numRuntimeErrorTestSuites": 0}))
    counts = read_jest(result, RunResult(1, False, 0.1))
    assert (counts.passed, counts.failed, counts.skipped, counts.all_passed) == (3, 1, 1, False)
    missing = read_jest(tmp_path / "none.json", RunResult(0, False, 0.1))
    assert not missing.result_file_found and not missing.all_passed


def _node_case(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"id": "add-js", "intent": "fix-bug", "prompt": "add() subtracts; fix it.",
            "workspace": {"files": {"math.js": BUGGY, "test/math.test.js": TEST,
                                    "package.json": json.dumps({"name": "m", "scripts": {"test": "node --test"}})}},
            "check": {"kind": "node", "command": "npm test", "timeout": 60},
            "gold": {"files": {"math.js": FIXED}}}
    (folder / "add-js.modelbench.json").write_text(json.dumps(data))


@requires_node
@pytest.mark.parametrize("runner", ["local", pytest.param("bwrap", marks=requires_bwrap)])
def test_npm_test_node_session_replays(pytester: pytest.Pytester, runner: str) -> None:
    _node_case(pytester.path / "cases")
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "cases",
                                           "--runner", runner)
    assert result.ret == 0, result.stdout.str()
    artifact = read_artifacts(pytester.path / ".modelbench")[-1]
    solved = {o["model"]: o["solved"] for o in artifact["outcomes"]}
    assert solved == {"replay/gold": True, "replay/noop": False}
    gold = next(o for o in artifact["outcomes"] if o["model"] == "replay/gold")
    assert gold["evidence"]["tests"]["after"]["passed"] == 2
    reasons = {c["name"]: c["reason"] for c in gold["components"] if c["value"] is None}
    assert reasons.get("lint") == "not python"


def test_unsupported_node_command_names_the_case_field(pytester: pytest.Pytester) -> None:
    _node_case(pytester.path / "cases")
    path = pytester.path / "cases" / "add-js.modelbench.json"
    data = json.loads(path.read_text())
    data["check"]["command"] = "npm run lint"
    path.write_text(json.dumps(data))
    result = pytester.runpytest_subprocess("--modelbench", "--sessions", "cases")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*add-js.modelbench.json: field 'check.command': 'npm run lint': not a test*"])


# -- vitest and jest: node_modules built from package.json with npm, offline from the npm cache .ci/run fills --------

TOOLS = {"vitest": "3.2.7", "jest": "29.6.3"}
CASES = "test('adds', () => { expect(add(2, 3)).toBe(5); });\ntest('zero', () => { expect(add(0, 0)).toBe(0); });\n"
ESM_TEST = "import { test, expect } from 'vitest';\nimport { add } from '../math.mjs';\n" + CASES
JEST_TEST = "const { add } = require('../math.js');\n" + CASES


def _tool_case(folder: Path, tool: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    package = {"name": f"m-{tool}", "private": True, "scripts": {"test": "vitest run" if tool == "vitest" else "jest"},
               "devDependencies": {tool: TOOLS[tool]}}
    if tool == "vitest":
        start = {"math.mjs": "export const add = (a, b) => a - b;\n", "test/math.test.mjs": ESM_TEST}
        gold = {"math.mjs": "export const add = (a, b) => a + b;\n"}
    else:
        start = {"math.js": BUGGY, "test/math.test.js": JEST_TEST}
        gold = {"math.js": FIXED}
    data = {"id": f"add-{tool}", "intent": "fix-bug", "prompt": "add() subtracts; fix it.",
            "workspace": {"files": {**start, "package.json": json.dumps(package)}},
            "check": {"kind": "node", "command": "npm test", "timeout": 120}, "gold": {"files": gold}}
    (folder / f"add-{tool}.modelbench.json").write_text(json.dumps(data))


@pytest.mark.slow
@requires_node
@pytest.mark.parametrize("tool", ["vitest", "jest"])
@pytest.mark.parametrize("runner", ["local", pytest.param("bwrap", marks=requires_bwrap)])
def test_vitest_and_jest_sessions_replay(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tool: str,
                                         runner: str) -> None:
    import os
    import subprocess

    # Only the npm cache, never the registry: .ci/run installs these versions once, which fills the cache.
    monkeypatch.setenv("npm_config_offline", "true")
    # pytester moves HOME; npm's cache is the user's real one.
    import pwd

    monkeypatch.setenv("npm_config_cache", os.environ.get("npm_config_cache")
                       or str(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".npm"))
    probe = pytester.path / "probe"
    probe.mkdir()
    (probe / "package.json").write_text(json.dumps({"name": "probe", "private": True,
                                                    "devDependencies": {tool: TOOLS[tool]}}))
    installed = subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=probe, capture_output=True,
                               timeout=300)
    if installed.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"{tool}@{TOOLS[tool]} is not in the npm cache; .ci/run installs it")
        pytest.skip(f"{tool}@{TOOLS[tool]} is not in the npm cache (.ci/run puts it there)")
    if tool == "vitest" and runner == "local":
        from pytest_modelbench.runners.local import landlock_abi

        if landlock_abi() > 0:
            pytest.skip("vitest does not finish under the local runner's Landlock confinement (a known limit; "
                        "the check says so instead of timing out)")
    _tool_case(pytester.path / "cases", tool)
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "cases",
                                           "--runner", runner)
    assert result.ret == 0, result.stdout.str()
    artifact = read_artifacts(pytester.path / ".modelbench")[-1]
    assert {o["model"]: o["solved"] for o in artifact["outcomes"]} == {"replay/gold": True, "replay/noop": False}
    noop = next(o for o in artifact["outcomes"] if o["model"] == "replay/noop")
    assert noop["evidence"]["tests"]["after"]["failed"] == 1  # the result file was read, not stdout
    built = [p for p in (pytester.path / ".modelbench" / "envs").iterdir() if p.name.startswith("node-")
             and (p / ".complete").is_file()]
    assert len(built) == 1


# -- a git-backed Claude Code session whose `npm test` runs `node --test` (the "done when") --------------


@requires_node
def test_git_backed_npm_test_session_replays(pytester: pytest.Pytester) -> None:
    from .transcript_builders import SESSION_START, ClaudeTranscript, committed_repo, git

    repo = committed_repo(pytester.path / "repo", {
        "math.js": BUGGY, "test/math.test.js": TEST,
        "package.json": json.dumps({"name": "m", "scripts": {"test": "node --test"}})}, "add subtracts")
    sid = "33333333-2222-4333-8444-555555555555"
    t = ClaudeTranscript(sid, str(repo), SESSION_START)
    t.user("add() subtracts, the tests fail. Fix it.")
    t.read("math.js", BUGGY)
    t.bash("npm test", "# fail 2", exit_code=1)
    t.edit("math.js", "a - b", "a + b", BUGGY)
    t.bash("npm test", "# pass 2")
    t.say("Fixed.")
    t.save(pytester.path / "projects" / "-repo" / f"{sid}.jsonl")
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "projects",
                                           "--runner", "local")
    assert result.ret == 0, result.stdout.str()
    artifact = read_artifacts(pytester.path / ".modelbench")[-1]
    assert {o["model"]: o["solved"] for o in artifact["outcomes"]} == {"replay/gold": True, "replay/noop": False}
    # A package.json without a test script: the session is left out with that reason (not the whole run).
    package = json.dumps({"name": "m", "scripts": {"lint": "eslint ."}})
    (repo / "package.json").write_text(package)
    git(repo, "commit", "-qam", "no test script", date="2025-05-01T00:00:00Z")
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "projects",
                                           "--runner", "local")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*invalid session*package.json has no scripts.test*"])
