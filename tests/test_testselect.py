"""Which tests a check runs (replay/testselect.py) and what a test command runs (replay/testcommand.py): pure."""

from __future__ import annotations

import pytest

from pytest_modelbench.replay.testcommand import resolve_command
from pytest_modelbench.replay.testselect import (
    PytestConfig,
    TestRun,
    check_paths,
    config_folder,
    read_pytest_config,
    select_tests,
)

FILES = ["test.py", "lib.py", "tests/__init__.py", "tests/test_a.py", "tests/helpers.py", "tests/check_b.py",
         "tests/unit/test_c.py", "src/pkg/core.py", "src/pkg/test_core.py", "build/test_gen.py",
         "venv/lib/test_x.py", ".tox/test_y.py", "docs/conf.py", "tests_other/b_test.py"]


DEFAULTS = PytestConfig()


def _sel(run: TestRun, config: PytestConfig = DEFAULTS, files: list[str] = FILES) -> list[str]:
    return select_tests(files, run, config).args


# -- selection -----------------------------------------------------------------------------------------------------


def test_a_named_file_is_a_test_whatever_its_name() -> None:
    assert _sel(TestRun("pytest", ("test.py",))) == ["test.py"]
    assert _sel(TestRun("pytest", ("lib.py",))) == ["lib.py"]  # pytest collects what it is told to
    assert _sel(TestRun("pytest", ("test.py::TestX::test_y", "tests/unit"))) == ["test.py::TestX::test_y",
                                                                                  "tests/unit/test_c.py"]
    assert _sel(TestRun("pytest", ("missing.py",))) == []


def test_folders_are_walked_with_pytests_defaults() -> None:
    # test_*.py and *_test.py; not build/, venv/ or hidden folders (norecursedirs); test.py is not test_*.py.
    assert _sel(TestRun("pytest", ())) == ["src/pkg/test_core.py", "tests/test_a.py", "tests/unit/test_c.py",
                                           "tests_other/b_test.py"]
    assert _sel(TestRun("pytest", ("tests",))) == ["tests/test_a.py", "tests/unit/test_c.py"]
    assert _sel(TestRun("pytest", ("build",))) == ["build/test_gen.py"]  # named: walked even if pytest skips it


def test_python_files_and_testpaths_from_the_config() -> None:
    config = PytestConfig("pytest.ini", testpaths=("tests",), python_files=("check_*.py",))
    assert _sel(TestRun("pytest", ()), config) == ["tests/check_b.py"]
    # testpaths apply only when the command runs from the configuration's folder (pytest's rule).
    assert _sel(TestRun("pytest", (), cwd="src"), config) == []
    assert _sel(TestRun("pytest", ("tests/unit",)), PytestConfig(python_files=("*.py",))) == ["tests/unit/test_c.py"]
    globbed = PytestConfig("pytest.ini", testpaths=("tests*",))
    assert _sel(TestRun("pytest", ()), globbed) == ["tests/test_a.py", "tests/unit/test_c.py", "tests_other/b_test.py"]


def test_unittest_discovery_goes_into_packages_only() -> None:
    files = ["test.py", "tests/__init__.py", "tests/test_a.py", "tests/unit/test_c.py", "other/tests.py",
             "tests/testing_util.py", "tests/9test.py"]
    # test*.py by default (tests.py and testing_util.py too); tests/unit has no __init__.py, other/ is no package.
    assert _sel(TestRun("unittest", (".",), pattern="test*.py"), files=files) == [
        "test.py", "tests/test_a.py", "tests/testing_util.py"]
    assert _sel(TestRun("unittest", ("tests",), pattern="*_a.py"), files=files) == ["tests/test_a.py"]


def test_check_paths_keep_test_folders_whole_and_code_folders_out() -> None:
    selection = select_tests(FILES, TestRun("pytest", ("test.py::TestX", "tests", "src")), PytestConfig())
    # tests/unit holds only tests: whole. src/pkg holds code and tests/ a helper module (which the session may have
    # changed as part of its work): their tests are named alone. Named entries stay as given.
    assert check_paths(FILES, selection, selection.files.__contains__) == [
        "test.py::TestX", "src/pkg/test_core.py", "tests/test_a.py", "tests/unit"]


@pytest.mark.parametrize(("files", "config"), [
    ({}, PytestConfig()),
    ({"pytest.ini": "[pytest]\npython_files = check_*.py\ntestpaths = tests\n", "tox.ini": "[pytest]\n"},
     PytestConfig("pytest.ini", ("tests",), ("check_*.py",))),
    ({"pytest.ini": "# no section: still pytest's configuration\n", "setup.cfg": "[tool:pytest]\ntestpaths = t\n"},
     PytestConfig("pytest.ini")),
    ({"pyproject.toml": "[tool.pytest.ini_options]\npython_files = ['check_*.py', '*_spec.py']\n"
                        "python_classes = 'Check'\npython_functions = 'check_'\n"},
     PytestConfig("pyproject.toml", (), ("check_*.py", "*_spec.py"), ("Check",), ("check_",))),
    ({"pyproject.toml": "[project]\nname = 'x'\n", "tox.ini": "[tox]\n[pytest]\ntestpaths = t1 t2\n"},
     PytestConfig("tox.ini", ("t1", "t2"))),
    ({"setup.cfg": "[metadata]\nname = x\n[tool:pytest]\nnorecursedirs = legacy\n"},
     PytestConfig("setup.cfg", norecursedirs=("legacy",))),
    ({"pytest.toml": "[pytest]\ntestpaths = ['spec']\n", "pytest.ini": "[pytest]\n"}, PytestConfig("pytest.toml",
                                                                                                   ("spec",))),
    ({"sub/pytest.ini": "[pytest]\npython_files = *_t.py\n"}, PytestConfig()),  # below the tests' folder: not read
])
def test_config_is_found_in_pytests_order(files: dict[str, str], config: PytestConfig) -> None:
    assert read_pytest_config(files.get, "tests") == config


def test_config_in_a_subfolder_governs_its_tests() -> None:
    files = {"sub/pytest.ini": "[pytest]\npython_files = *_t.py\n", "pytest.ini": "[pytest]\n"}
    assert read_pytest_config(files.get, "sub/tests").file == "sub/pytest.ini"
    assert config_folder(["sub/tests/a_t.py", "sub/tests/b"]) == "sub/tests"
    assert config_folder(["test.py::TestX"]) == "" and config_folder([], "sub") == "sub"


# -- commands ------------------------------------------------------------------------------------------------------

PROJECT = {
    "Makefile": ("PYTHON ?= python3\nTESTS = tests\n.PHONY: test check lint\n# the suite\ntest: lint\n"
                 "\t@$(PYTHON) -m pytest -q $(TESTS)\nlint:\n\truff check .\ncheck:\n\t$(MAKE) test\n"
                 "unit: ; cd tests && pytest unit\n"),
    "tox.ini": ("[tox]\nenvlist = py{311,312}, lint\n[testenv]\ndeps = pytest\ncommands =\n    py312: echo only 312\n"
                "    pytest {posargs:tests/unit}\n[testenv:lint]\ncommands = ruff check\n"
                "[testenv:docs]\nchangedir = docs\ncommands = python -m pytest {toxinidir}/tests\n"),
    "pyproject.toml": ("[tool.hatch.envs.default.scripts]\ntest = 'pytest {args:tests}'\n"
                       "cov = ['coverage erase', 'test --cov']\n"
                       "[tool.hatch.envs.lint.scripts]\nstyle = 'ruff check'\n"),
    "test.py": "import unittest\n\n\nclass TestX(unittest.TestCase):\n    pass\n",
    "script_test.py": "print('not a test suite')\n",
    "pkg/__init__.py": "", "pkg/tests/__init__.py": "", "pkg/tests/test_a.py": "",
}


@pytest.mark.parametrize(("command", "style", "args", "via"), [
    ("python -m pytest -q test.py", "pytest", ("test.py",), ()),
    ("uv run --extra test pytest -q test.py::TestX::test_y", "pytest", ("test.py::TestX::test_y",), ()),
    ("poetry run pytest", "pytest", (), ()),
    ("cd pkg && python -m pytest tests -x", "pytest", ("pkg/tests",), ()),
    ("python -m pytest /home/me/repo/tests/test_x.py", "pytest", ("tests/test_x.py",), ()),
    ("coverage run -m pytest tests", "pytest", ("tests",), ()),
    ("python -m unittest", "unittest", (".",), ()),
    ("python -m unittest -v", "unittest", (".",), ()),
    ("python -m unittest discover -s pkg -p '*_test.py'", "unittest", ("pkg",), ()),
    ("python3 -m unittest discover pkg/tests", "unittest", ("pkg/tests",), ()),
    ("python -m unittest pkg.tests.test_a.TestA.test_b", "unittest", ("pkg/tests/test_a.py::TestA::test_b",), ()),
    ("python -m unittest pkg.tests", "unittest", ("pkg/tests",), ()),
    ("python -m unittest pkg/tests/test_a.py", "unittest", ("pkg/tests/test_a.py",), ()),
    ("python test.py", "unittest", ("test.py",), ()),
    ("python test.py -v TestX.test_a", "unittest", ("test.py::TestX::test_a",), ()),
    ("make test", "pytest", ("tests",), ("make test",)),
    ("make check", "pytest", ("tests",), ("make check",)),
    ("make unit", "pytest", ("tests/unit",), ("make unit",)),
    ("make test TESTS=tests/unit", "pytest", ("tests/unit",), ("make test TESTS=tests/unit",)),
    ("tox -e py311", "pytest", ("tests/unit",), ("tox -e py311",)),
    ("tox", "pytest", ("tests/unit",), ("tox",)),
    ("tox -e py312 -- tests/test_x.py::T::t", "pytest", ("tests/test_x.py::T::t",),
     ("tox -e py312 -- tests/test_x.py::T::t",)),
    ("tox -e docs", "pytest", ("tests",), ("tox -e docs",)),
    ("hatch run test", "pytest", ("tests",), ("hatch run test",)),
    ("hatch run test tests/test_a.py", "pytest", ("tests/test_a.py",), ("hatch run test tests/test_a.py",)),
    ("hatch run cov", "pytest", (), ("hatch run cov",)),
    ("hatch test -x tests", "pytest", ("tests",), ("hatch test -x tests",)),
])
def test_commands_resolve_to_what_they_run(command: str, style: str, args: tuple[str, ...],
                                           via: tuple[str, ...]) -> None:
    run = resolve_command(command, PROJECT.get, "", "/home/me/repo")
    assert (run.reason, run.style, run.args, run.via) == ("", style, args, via)


@pytest.mark.parametrize(("command", "reason"), [
    ("make lint", "'make lint': the lint target of Makefile runs 'ruff check .', no test command this version "
                  "checks with (pytest, python -m unittest or a unittest module run with python); give the test "
                  "command it runs with --check-command"),
    ("make -C sub test", "'make -C sub test': no Makefile in sub to read the target's recipe from"),
    ("make release", "'make release': Makefile has no release target"),
    ("tox -e lint", "'tox -e lint': the lint environment's commands in tox.ini run ['ruff check'], no test command"),
    ("hatch run lint:style", "'hatch run lint:style': the hatch script 'style' runs ['ruff check'], no test command"),
    ("hatch run docs", "'hatch run docs': no script 'docs' for the default environment in "
                       "[tool.hatch.envs.default.scripts] of pyproject.toml"),
    ("python script_test.py", "'python script_test.py' runs script_test.py as a script, which is judged only when it "
                              "is a unittest module (it does not use unittest)"),
    ("python -m pytest ../elsewhere/tests", "names only paths outside the project"),
    ("go test ./...", "'go test ./...' runs no test command this version checks with"),
])
def test_unreadable_wrappers_say_which_and_what_to_do(command: str, reason: str) -> None:
    run = resolve_command(command, PROJECT.get, "", "/home/me/repo")
    assert reason in run.reason and run.args == ()
    assert "--check-command" in run.reason or "outside" in run.reason


def test_pytests_selection_options_are_kept() -> None:
    run = resolve_command("cd pkg && pytest tests -x -k 'add and not slow' -mfast --deselect tests/test_a.py::test_b "
                          "--ignore=tests/legacy --ignore ../../outside --tb=short", {}.get)
    assert run.args == ("pkg/tests",)
    assert run.options == ("-k", "add and not slow", "-m", "fast", "--deselect", "pkg/tests/test_a.py::test_b",
                           "--ignore", "pkg/tests/legacy")
    files = ["pkg/tests/test_a.py", "pkg/tests/legacy/test_old.py", "pkg/tests/legacy_test.py"]
    # --ignore skips what a folder walk finds under it; a file the command names is still collected (as pytest does).
    assert select_tests(files, run, PytestConfig()).args == ["pkg/tests/legacy_test.py", "pkg/tests/test_a.py"]
    named = TestRun("pytest", ("pkg/tests/legacy/test_old.py",), options=("--ignore", "pkg/tests/legacy"))
    assert select_tests(files, named, PytestConfig()).args == ["pkg/tests/legacy/test_old.py"]


def test_a_check_is_preferred_to_a_script_that_cannot_be_one() -> None:
    files = {"setup.py": "from setuptools import setup\n", "tox.ini": "[testenv]\ncommands =\n"
             "    python setup.py check\n    python -m pytest tests\n"}
    for command in ("python setup.py develop && pytest tests", "tox"):
        run = resolve_command(command, files.get)
        assert (run.reason, run.args) == ("", ("tests",)), command
    alone = resolve_command("python setup.py test", files.get)
    assert "runs setup.py as a script" in alone.reason


def test_tox_without_a_tox_ini_and_from_legacy_tox_ini() -> None:
    assert "no tox.ini (or legacy_tox_ini in pyproject.toml)" in resolve_command("tox", {}.get).reason
    legacy = {"pyproject.toml": '[tool.tox]\nlegacy_tox_ini = """\n[testenv]\ncommands = python -m unittest\n"""\n'}
    run = resolve_command("tox -e py", legacy.get)
    assert (run.style, run.args, run.via) == ("unittest", (".",), ("tox -e py",))


@pytest.mark.parametrize(("command", "runner"), [
    ("uv run --extra test pytest tests", "pytest"), ("poetry run pytest -q", "pytest"),
    ("hatch run pytest x", "pytest"), ("hatch run test", "hatch"), ("hatch test", "hatch"),
    ("python -m unittest discover", "unittest"), ("python3 tests.py", "python"), ("make test", "make"),
    ("tox -e py311", "tox"),
])
def test_transcripts_see_these_commands_as_test_runs(command: str, runner: str) -> None:
    from pytest_modelbench.sources.transcripts.commands import check_command_problem, parse_test_command

    parsed = parse_test_command(command)
    assert parsed is not None and parsed.runner == runner
    assert check_command_problem(command) is None  # usable as --check-command too
