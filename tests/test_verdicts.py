"""Verdicts the code under test cannot forge (docs/verdicts.md), checked in each runner, without models.

The hostile models of ``tests/attacks.py`` run the same forgeries end to end (tests/test_hostile_models.py); here
the judge and the pytest check are driven directly, so each forgery's evidence can be read exactly, and the judge's
cleanup is counted with the interpreter's environment under /tmp (issue: a venv under /tmp was walked after every
job).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Session
from pytest_modelbench.replay.check import FunctionChecker, run_check
from pytest_modelbench.replay.workspace import write_fileset
from pytest_modelbench.runners import make_runner

from .attacks import FIXED, FN_FORGERS, FN_TEST, FORGERS, TESTS, Attack
from .helpers import check_against_forgers, requires_bwrap

RUNNERS = [pytest.param("local", id="local"), pytest.param("bwrap", id="bwrap", marks=requires_bwrap)]


def _fn_session(timeout: float = 10.0) -> Session:
    return Session(id="fn", source="t", intent="build-new", prompt="p", workspace=FileSet(),
                   check=CheckSpec(kind="function", entry_point="add", test_code=FN_TEST, timeout=timeout),
                   gold=GoldSpec())


def _text(attack: Attack, name: str) -> str:
    return attack.build(None).files[name]  # type: ignore[arg-type] - the forgers need no canaries


@pytest.mark.parametrize("kind", RUNNERS)
def test_function_forgers_are_caught_and_honest_solutions_pass(kind: str) -> None:
    runner, _ = make_runner(kind)
    checker = FunctionChecker(runner)
    session = _fn_session()
    try:
        for attack in FN_FORGERS:
            counts = checker.check(session, _text(attack, "solution.py"))
            if attack.tampered:
                assert not counts.all_passed and counts.passed == 0, (attack.name, counts)
                assert counts.tampered.startswith("expected "), (attack.name, counts)
                assert counts.detail == f"tampered: {counts.tampered}"
            else:
                assert counts.all_passed and not counts.tampered, (attack.name, counts)
        # Honest failures are failures, not forgeries: a wrong answer, an early exit, an exception, a timeout.
        for code in ("def add(a, b):\n    return a - b\n", "import os\nos._exit(0)\n",
                     "import sys\nsys.exit(0)\n", "raise ValueError('no')\n"):
            counts = checker.check(session, code)
            assert not counts.all_passed and counts.tampered == "", (code, counts)
        assert checker.check(session, FIXED).all_passed
    finally:
        checker.close()


def test_the_sentinel_check_fails_whatever_check_does() -> None:
    """A check that never looks at the candidate's result, or swallows every error, still fails the sentinel."""
    runner, _ = make_runner("local")
    checker = FunctionChecker(runner)
    try:
        for test in ("def check(candidate):\n    candidate(1, 2)\n",
                     "def check(candidate):\n    try:\n        assert candidate(1, 2) == 3\n    except Exception:\n"
                     "        pass\n",
                     "def check(candidate):\n    assert not candidate(0, 0)\n"):
            session = Session(id="fn", source="t", intent="build-new", prompt="p", workspace=FileSet(),
                              check=CheckSpec(kind="function", entry_point="add", test_code=test, timeout=10),
                              gold=GoldSpec())
            counts = checker.check(session, FIXED)
            assert counts.all_passed and not counts.tampered, (test, counts)
    finally:
        checker.close()


def _pytest_session() -> Session:
    return Session(id="py", source="t", intent="fix-bug", prompt="p",
                   workspace=FileSet((("calc.py", FIXED), ("tests/test_calc.py", TESTS))),
                   check=CheckSpec(paths=("tests",), timeout=30), gold=GoldSpec())


@pytest.mark.parametrize("kind", RUNNERS)
def test_pytest_forgers_are_caught_and_an_honest_run_is_solved(kind: str, tmp_path: Path) -> None:
    runner, _ = make_runner(kind)
    run, forged, broken = check_against_forgers(_pytest_session(), runner, tmp_path,
                                                "def add(a, b):\n    return a - b\n")
    assert run.counts.all_passed and (run.counts.passed, run.counts.failed) == (2, 0), run.counts
    assert run.run is not None and run.run.exit_code == 1  # the sentinel's failure, and only it
    assert len(forged) == len(FORGERS)
    for name, counts in forged.items():
        assert not counts.all_passed and counts.passed == 0, (name, counts)
        assert counts.tampered.startswith("expected "), (name, counts)
    assert (broken.passed, broken.failed, broken.tampered) == (0, 2, "")


SHAPES = {
    "tests/test_shapes.py": ("import pytest\nfrom calc import add\n\n\nclass TestAdd:\n    def test_one(self):\n"
                             "        assert add(1, 1) == 2\n\n\n@pytest.mark.parametrize('a', [1, 2])\n"
                             "def test_param(a):\n    assert add(a, 0) == a\n\n\n@pytest.mark.skip\n"
                             "def test_skipped():\n    pass\n"),
}


def test_the_sentinel_fits_classes_parameters_and_marks_and_honest_errors_are_no_forgery(tmp_path: Path) -> None:
    runner, _ = make_runner("local")
    files = (("calc.py", FIXED), *SHAPES.items())
    session = Session(id="py", source="t", intent="fix-bug", prompt="p", workspace=FileSet(files),
                      check=CheckSpec(paths=("tests",), timeout=60), gold=GoldSpec())
    pristine = tmp_path / "pristine"
    write_fileset(session.workspace, pristine)
    for _ in range(3):  # the twin's place is random: a class, a parametrized test (never the skipped one)
        work = tmp_path / f"w{_}"
        write_fileset(session.workspace, work)
        counts = run_check(session, work, pristine, runner, tmp_path).counts
        assert (counts.passed, counts.skipped, counts.tampered) == (3, 1, ""), counts
        assert counts.all_passed
    # A conftest fixture that errors for every test (the twin included) is a failure of the run, not a forgery.
    erroring = (*files, ("conftest.py", "import pytest\n\n\n@pytest.fixture(autouse=True)\ndef broken():\n"
                                         "    raise RuntimeError('no database')\n"))
    session = Session(id="py", source="t", intent="fix-bug", prompt="p", workspace=FileSet(erroring),
                      check=CheckSpec(paths=("tests",), timeout=60), gold=GoldSpec())
    pristine2, work = tmp_path / "pristine2", tmp_path / "erroring"
    write_fileset(session.workspace, pristine2)
    write_fileset(session.workspace, work)
    counts = run_check(session, work, pristine2, runner, tmp_path).counts
    assert counts.errors == 3 and counts.tampered == "" and not counts.all_passed, counts


VENV_FILES = 400

CLEANUP_PROBE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from pytest_modelbench.records import CheckSpec, FileSet, GoldSpec, Session
    from pytest_modelbench.replay.check import FunctionChecker
    from pytest_modelbench.runners.bwrap import BwrapRunner
    from pytest_modelbench.runners import interpreter_dirs

    session = Session(id="fn", source="t", intent="build-new", prompt="p", workspace=FileSet(),
                      check=CheckSpec(kind="function", entry_point="add", timeout=10,
                                      test_code="def check(c):\\n    assert c(1, 2) == 3\\n"), gold=GoldSpec())
    Path(sys.argv[1]).mkdir(parents=True)
    checker = FunctionChecker(BwrapRunner(), Path(sys.argv[1]))
    cleaned = []
    for _ in range(3):
        counts = checker.check(session, "import os\\nopen('/tmp/left', 'w').write('x')\\n"
                                        "os.makedirs('/tmp/d/e', exist_ok=True)\\ndef add(a, b):\\n    return a + b\\n")
        assert counts.all_passed, counts
        cleaned.append(checker.last_cleaned)
    checker.close()
    print(json.dumps({"cleaned": cleaned, "prefix": sys.prefix, "dirs": [str(d) for d in interpreter_dirs()]}))
""")


def _tmp_venv(base: Path) -> Path:
    """A virtual environment under /tmp whose interpreter sees this one's packages (a .pth), plus many files."""
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python3*/site-packages"))
    ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "modelbench_here.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in ours))
    filler = site / "filler"
    filler.mkdir()
    for i in range(VENV_FILES):  # what makes walking the environment after every job expensive
        (filler / f"m{i}.py").write_text("x = 1\n")
    return venv / "bin" / "python"


@requires_bwrap
def test_the_judge_never_walks_an_environment_under_tmp(tmp_path: Path) -> None:
    """With the interpreter's environment bind-mounted under the sandbox's /tmp, the cleanup after every job looks
    at no more entries than with the environment elsewhere (it used to walk, and fail to delete, every file)."""
    with tempfile.TemporaryDirectory(prefix="mb-venv-", dir="/tmp") as tmp:
        python = _tmp_venv(Path(tmp))
        runs = {}
        for label, exe in (("elsewhere", sys.executable), ("under /tmp", str(python))):
            res = subprocess.run([exe, "-c", CLEANUP_PROBE, str(tmp_path / label.replace(" ", "-"))],
                                 capture_output=True, text=True, timeout=300)
            assert res.returncode == 0, res.stderr[-3000:]
            runs[label] = json.loads(res.stdout.strip().splitlines()[-1])
    assert any(d.startswith("/tmp/") for d in runs["under /tmp"]["dirs"]), runs  # the case this test is about
    elsewhere, under = runs["elsewhere"]["cleaned"], runs["under /tmp"]["cleaned"]
    # What a job wrote (/tmp/left, /tmp/d) is removed either way; the folders leading to the bind add a few entries.
    assert min(elsewhere) >= 2
    assert max(under) <= max(elsewhere) + 10, (elsewhere, under)


@requires_bwrap
def test_what_a_job_writes_under_tmp_is_gone_for_the_next_one(tmp_path: Path) -> None:
    runner, _ = make_runner("bwrap")
    checker = FunctionChecker(runner, tmp_path)
    session = _fn_session()
    try:
        first = checker.check(session, "open('/tmp/planted', 'w').write('x')\n" + FIXED)
        second = checker.check(session, "import os\nassert not os.path.exists('/tmp/planted')\n" + FIXED)
        assert first.all_passed and second.all_passed, (first, second)
    finally:
        checker.close()
