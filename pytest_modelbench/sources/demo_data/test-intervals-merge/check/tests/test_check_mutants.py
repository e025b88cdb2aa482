"""Judge the agent's tests: green on the real module, red on seeded bugs."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AGENT_TESTS = "tests/test_intervals.py"
MODULE = "ranges/intervals.py"
MUTANTS = {
    "touching-endpoints": ("a[0] <= b[1] and b[0] <= a[1]", "a[0] < b[1] and b[0] < a[1]"),
    "contained-shrinks": ("max(result[-1][1], end)", "end"),
}


def start_run(ws: Path, mutant: str | None) -> subprocess.Popen | str:
    """Copy the workspace to *ws*, seed *mutant* and start the agent's tests."""
    shutil.copytree(ROOT, ws, ignore=shutil.ignore_patterns(
        "__pycache__", ".pytest_cache", ".git", ".venv", "test_check_*"))
    if mutant:
        old, new = MUTANTS[mutant]
        source = (ws / MODULE).read_text()
        if old not in source:
            return "module was changed; cannot seed mutant"
        (ws / MODULE).write_text(source.replace(old, new, 1))
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", AGENT_TESTS],
        cwd=ws, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run the agent's tests against the real module and every mutant, in parallel."""
    if not (ROOT / AGENT_TESTS).is_file():
        return {}
    started = {m: start_run(tmp_path_factory.mktemp("ws") / "ws", m) for m in [None, *MUTANTS]}
    results = {}
    for mutant, proc in started.items():
        if isinstance(proc, str):
            results[mutant] = (None, proc)
        else:
            out, _ = proc.communicate(timeout=60)
            results[mutant] = (proc.returncode, out[-2000:])
    return results


def test_module_behaviour_intact():
    from ranges import merge, overlaps

    assert overlaps((1, 3), (3, 4)) and not overlaps((1, 2), (3, 4))
    assert merge([(5, 6), (1, 4), (2, 3)]) == [(1, 4), (5, 6)]


def test_agent_tests_pass_on_real_module(runs):
    assert runs, f"{AGENT_TESTS} was not written"
    code, out = runs[None]
    assert code == 0, out
    passed = re.search(r"(\d+) passed", out)
    assert passed and int(passed.group(1)) >= 3, out


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_agent_tests_catch_mutant(runs, mutant):
    assert runs, f"{AGENT_TESTS} was not written"
    assert runs[None][0] == 0, "the tests must pass on the real module first"
    code, out = runs[mutant]
    assert code == 1, f"mutant {mutant!r} survived:\n{out}"
