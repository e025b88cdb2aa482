"""The check runs what the session ran, end to end: git-backed Claude Code sessions over repositories whose tests are
not named test_*.py, run with unittest, selected by the project's pytest configuration, behind make, or needing a
dependency declared in setup.py. Each: the gold solves its check and the no-op does not.

No network: the setup.py dependency is a wheel the test writes into a local folder (PIP_NO_INDEX, PIP_FIND_LINKS).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Session
from pytest_modelbench.replay.declarations import read_declarations
from pytest_modelbench.replay.envs import EnvResolver
from pytest_modelbench.runners import make_runner

from .attacks import FORGERS
from .helpers import check_against_forgers, read_artifacts, requires_bwrap
from .transcript_builders import SESSION_START, ClaudeTranscript, committed_repo

SID = "33333333-2222-4333-8444-555555555555"
BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
UNITTEST = ("import unittest\n\nfrom calc import add\n\n\nclass TestAdd(unittest.TestCase):\n"
            "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n\n"
            "if __name__ == '__main__':\n    unittest.main()\n")
# A plain function unittest does not run: were it collected, it would error (no fixture named x).
UNITTEST_WITH_HELPER = UNITTEST.replace("class TestAdd", "def test_helper(x):\n    return x\n\n\nclass TestAdd")
PLAIN_TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
PYTEST_STYLE = "from calc import add\n\n\ndef check_add():\n    assert add(2, 3) == 5\n"


def _session(cwd: str, command: str, buggy: str = BUGGY, fixed: str = FIXED,
             new_test: tuple[str, str, str] | None = None) -> ClaudeTranscript:
    """Read calc.py, run ``command`` (red), fix add(), maybe extend a test file, run ``command`` again (green)."""
    t = ClaudeTranscript(SID, cwd, SESSION_START)
    t.user("add() returns the wrong result, the test fails. Fix it.")
    t.read("calc.py", buggy)
    t.bash(command, "F\nFAILED (failures=1)", exit_code=1)
    t.edit("calc.py", buggy.splitlines()[-1].strip(), fixed.splitlines()[-1].strip(), buggy)
    if new_test is not None:
        path, old, new = new_test
        t.edit(path, old, new, old)
    t.bash(command, ".\nOK")
    t.say("Fixed.")
    return t


def _run(pytester: pytest.Pytester, repo: Path, transcript: ClaudeTranscript, *args: str,
         runner: str = "local") -> dict[str, object]:
    transcript.save(pytester.path / "projects" / "-repo" / f"{SID}.jsonl")
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "projects",
                                           "--runner", runner, *args)
    assert result.ret == 0, result.stdout.str()
    artifact = read_artifacts(pytester.path / ".modelbench")[-1]
    return {o["model"]: o["solved"] if o["status"] == "complete" else o["skip_reason"] for o in artifact["outcomes"]}


@pytest.mark.parametrize("runner", ["local", pytest.param("bwrap", marks=requires_bwrap)])
def test_test_py_at_the_root_named_by_the_command(pytester: pytest.Pytester, runner: str) -> None:
    # The case: tests in test.py, run with `python -m pytest -q test.py`. The session also adds a test to
    # test.py: that write becomes the hidden check (test.py is a test because the command names it).
    start = UNITTEST.replace("        self.assertEqual(add(2, 3), 5)\n",
                             "        self.assertEqual(add(2, 3), 5)\n\n    def test_zero(self):\n"
                             "        self.assertEqual(add(0, 0), 0)\n")
    extended = start.replace("    def test_zero(self):", "    def test_negative(self):\n"
                                                         "        self.assertEqual(add(-1, -1), -2)\n\n"
                                                         "    def test_zero(self):")
    repo = committed_repo(pytester.path / "repo", {"calc.py": BUGGY, "test.py": start})
    t = _session(str(repo), "python -m pytest -q test.py", new_test=("test.py", start, extended))
    assert _run(pytester, repo, t, runner=runner) == {"replay/gold": True, "replay/noop": False}


# One whole run each; the quick loop keeps the first of a kind, CI (--run-slow) runs them all.
SLOW = pytest.mark.slow


@pytest.mark.parametrize("command", ["python -m unittest",
                                     pytest.param("python -m unittest discover -s tests -v", marks=SLOW),
                                     pytest.param("python -m unittest tests.test_calc.TestAdd.test_add", marks=SLOW),
                                     pytest.param("python tests/test_calc.py", marks=SLOW)])
def test_unittest_only_repository(pytester: pytest.Pytester, command: str) -> None:
    files = {"calc.py": BUGGY, "tests/__init__.py": "", "tests/test_calc.py": UNITTEST_WITH_HELPER}
    if command.startswith("python tests/"):
        # Run as a script, the module finds calc beside the repository root through this path line.
        files["tests/test_calc.py"] = "import sys, os\nsys.path.insert(0, os.getcwd())\n" + UNITTEST_WITH_HELPER
    repo = committed_repo(pytester.path / "repo", files)
    assert _run(pytester, repo, _session(str(repo), command)) == {"replay/gold": True, "replay/noop": False}


def test_python_files_from_the_projects_configuration(pytester: pytest.Pytester) -> None:
    repo = committed_repo(pytester.path / "repo", {
        "calc.py": BUGGY, "checks/check_calc.py": PYTEST_STYLE,
        "pyproject.toml": "[tool.pytest.ini_options]\npython_files = ['check_*.py']\npython_functions = ['check_']\n"
                          "testpaths = ['checks']\n",
        # Not a test under this configuration: were it run, the gold would fail.
        "checks/test_wrong.py": "def test_wrong():\n    assert False\n"})
    assert _run(pytester, repo, _session(str(repo), "pytest -q")) == {"replay/gold": True, "replay/noop": False}


@pytest.mark.parametrize(("command", "files"), [
    ("make test", {"Makefile": "PYTHON ?= python3\n.PHONY: test\ntest: lint\n\t$(PYTHON) -m pytest -q $(TESTS)\n"
                               "lint:\n\truff check .\nTESTS = tests\n"}),
    pytest.param("tox -e py311", {"tox.ini": "[tox]\nenvlist = py311\n[testenv]\ndeps = pytest\ncommands =\n"
                                              "    pytest -q {posargs:tests}\n"}, marks=SLOW),
    pytest.param("hatch run test", {"pyproject.toml": "[tool.hatch.envs.default.scripts]\n"
                                                      "test = 'pytest {args:tests}'\n"}, marks=SLOW),
    pytest.param("uv run --extra test pytest tests", {}, marks=SLOW),
    pytest.param("poetry run pytest -q tests", {}, marks=SLOW),
])
def test_wrappers_run_the_command_they_wrap(pytester: pytest.Pytester, command: str, files: dict[str, str]) -> None:
    # other/ holds a failing test: the check runs tests/ only because the wrapped command names it.
    repo = committed_repo(pytester.path / "repo", {"calc.py": BUGGY, "tests/test_calc.py": PLAIN_TEST,
                                          "other/test_broken.py": "def test_broken():\n    assert False\n", **files})
    assert _run(pytester, repo, _session(str(repo), command)) == {"replay/gold": True, "replay/noop": False}


WRAPPER_REASON = ("no check in its test command: 'make test': the test target of Makefile runs "
                  "'./scripts/run-tests.sh', no test command this version checks with (pytest, python -m unittest "
                  "or a unittest module run with python); give the test command it runs with --check-command")


def test_the_sessions_own_deselection_applies(pytester: pytest.Pytester) -> None:
    # The session ran a subset: -k, --deselect and --ignore kept the tests it did not run out. Run whole, the gold
    # would fail on them.
    broken = "\n\ndef test_other_broken():\n    assert False\n\n\ndef test_add_flaky():\n    assert False\n"
    repo = committed_repo(pytester.path / "repo", {"calc.py": BUGGY, "tests/test_calc.py": PLAIN_TEST + broken,
                                          "tests/legacy/test_old.py": "def test_add_old():\n    assert False\n"})
    command = "python -m pytest tests -k add --deselect tests/test_calc.py::test_add_flaky --ignore=tests/legacy"
    assert _run(pytester, repo, _session(str(repo), command)) == {"replay/gold": True, "replay/noop": False}


@pytest.mark.slow
def test_an_unreadable_wrapper_leaves_the_session_out_naming_it(pytester: pytest.Pytester) -> None:
    repo = committed_repo(pytester.path / "repo", {"calc.py": BUGGY, "tests/test_calc.py": PLAIN_TEST,
                                          "Makefile": "test:\n\t./scripts/run-tests.sh\n"})
    _session(str(repo), "make test").save(pytester.path / "projects" / "-repo" / f"{SID}.jsonl")
    # Known at import: the yield report and `modelbench sessions` give the reason ...
    listed = pytester.run("modelbench", "sessions", "--sessions", "projects", "--all")
    assert listed.ret == 0, listed.stderr.str()
    listed.stdout.fnmatch_lines(["*| no: no check in its test command: 'make test': the test target of*",
                                 "1 session(s), 0 replayable (0%)",
                                 "main reasons: 1× no check in its test command"])
    run = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "projects")
    assert run.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    run.stdout.fnmatch_lines(["*nothing to replay: 1 session(s), 0 replayable (0%); main reasons: 1× no check in "
                              "its test command*"])
    # ... and a --check-command the start cannot explain either is left out when it is validated, naming it.
    reasons = _run(pytester, repo, _session(str(repo), "make test"), "--check-command", "make test")
    assert reasons == {"replay/gold": f"invalid session: {WRAPPER_REASON}",
                       "replay/noop": f"invalid session: {WRAPPER_REASON}"}
    # The wrapped command itself, given instead, replays.
    fixed = _run(pytester, repo, _session(str(repo), "make test"), "--check-command", "python -m pytest tests")
    assert fixed == {"replay/gold": True, "replay/noop": False}


@pytest.mark.parametrize("runner", ["local", pytest.param("bwrap", marks=requires_bwrap)])
def test_setup_py_dependency_from_a_local_wheel(pytester: pytest.Pytester, offline_pip: Path, runner: str) -> None:
    buggy = "from tinyunits import scale\n\n\ndef add(a, b):\n    return scale(a - b)\n"
    fixed = buggy.replace("a - b", "a + b")
    repo = committed_repo(pytester.path / "repo", {
        "calc.py": buggy, "tests/test_calc.py": PLAIN_TEST.replace("== 5", "== 50"),
        "setup.py": "from setuptools import setup\n\nsetup(name='calc', version='0.1', py_modules=['calc'],\n"
                    "      install_requires=['tinyunits>=1.0'])\n"})
    t = _session(str(repo), "python -m pytest -q", buggy=buggy, fixed=fixed)
    assert _run(pytester, repo, t, runner=runner) == {"replay/gold": True, "replay/noop": False}
    # Read from setup.py, not by building the project: no setuptools needed offline, nothing of calc installed.
    (built,) = [p for p in (pytester.path / ".modelbench" / "envs").iterdir()
                if (p / ".complete").is_file() and not p.name.startswith(("overlay-", "node-"))]
    assert not list(built.glob("lib/python*/site-packages/calc*"))
    assert list(built.glob("lib/python*/site-packages/tinyunits"))


# -- the verdict of a unittest check is as hard to forge as a pytest one (docs/verdicts.md) -----------------------

UT_TESTS = ("import unittest\n\nfrom calc import add\n\n\nclass TestAdd(unittest.TestCase):\n"
            "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n"
            "    def test_add_negative(self):\n        self.assertEqual(add(-1, 1), 0)\n")


@pytest.mark.parametrize("kind", ["local", pytest.param("bwrap", marks=requires_bwrap)])
def test_unittest_checks_catch_the_forgers(kind: str, tmp_path: Path) -> None:
    runner, _ = make_runner(kind)
    session = Session(id="ut", source="t", intent="fix-bug", prompt="p",
                      workspace=FileSet((("calc.py", FIXED), ("test.py", UT_TESTS))),
                      check=CheckSpec(paths=("test.py",), timeout=30,
                                      command=("unittest", "python -m unittest test", "test*.py")),
                      gold=GoldSpec())
    run, forged, broken = check_against_forgers(session, runner, tmp_path, BUGGY)
    assert run.counts.all_passed and (run.counts.passed, run.counts.failed) == (2, 0), run.counts
    assert len(forged) == len(FORGERS)
    for name, counts in forged.items():
        assert not counts.all_passed and counts.passed == 0, (name, counts)
        if name == "forge-junit-fresh":
            # This forger names the top-level test_* functions of tests/**/test_*.py in its fresh report; a
            # unittest module has none, so its report names no test at all: nothing passed, nothing to catch.
            assert counts.total == 0 and not counts.tampered, counts
        else:
            assert counts.tampered.startswith("expected "), (name, counts)
    assert (broken.passed, broken.failed, broken.tampered) == (0, 2, "")


# An in-tree build backend (PEP 517, no build dependency to fetch): the project's requirements are computed when it
# is built, as a setup.py reading a file would compute them.
BACKEND = '''
import base64, hashlib, os, zipfile

def _requires():
    return [line.strip() for line in open("requirements.in") if line.strip()]

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    info = "calc-0.1.dist-info"
    files = {"calc.py": open("calc.py").read(),
             f"{info}/METADATA": "Metadata-Version: 2.1\\nName: calc\\nVersion: 0.1\\n"
                                 + "".join(f"Requires-Dist: {r}\\n" for r in _requires()),
             f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
    record = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(t.encode())}" for p, t in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = "\\n".join(record) + "\\n"
    name = "calc-0.1-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return name
'''


def test_computed_dependencies_install_the_start_itself(tmp_path: Path, offline_pip: Path) -> None:
    start = tmp_path / "start"
    for rel, text in {"_build/backend.py": BACKEND, "requirements.in": "tinyunits>=1.0\n",
                      "calc.py": "from tinyunits import scale\n",
                      "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "backend"\n'
                                        'backend-path = ["_build"]\n\n[project]\nname = "calc"\nversion = "0.1"\n'
                                        'dynamic = ["dependencies"]\n'}.items():
        (start / rel).parent.mkdir(parents=True, exist_ok=True)
        (start / rel).write_text(text)
    decl = read_declarations(start)
    assert decl.install_project and decl.requirements == ()
    env = EnvResolver("auto", tmp_path / "envs").resolve(start)
    # What the build computed was installed (the project's own copy too; the check imports the workspace's first).
    run = subprocess.run([env.python, "-c", "import tinyunits; print(tinyunits.scale(3))"], capture_output=True,
                         text=True)
    assert run.stdout.strip() == "30", run.stderr
