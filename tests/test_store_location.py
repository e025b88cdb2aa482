"""Where results land: the project's store (never a --sessions folder), found by the CLI from any subfolder, and no
run at all for an invocation that replays nothing (issue 17)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import add_cases, read_store

BASE = ("--modelbench", "-p", "no:cacheprovider", "--runner", "local")


def _modelbench(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_modelbench.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("extra", [("--co",), ("--setup-plan",), ("-k", "nothing_matches_this")])
def test_a_run_that_replays_nothing_leaves_no_run(pytester: pytest.Pytester, extra: tuple[str, ...]) -> None:
    add_cases(pytester.path / "cases")
    result = pytester.runpytest_subprocess(*BASE, "--sessions", "cases", *extra)
    assert result.ret in (0, pytest.ExitCode.NO_TESTS_COLLECTED), result.stdout.str()
    db = pytester.path / ".modelbench" / "modelbench.db"
    runs, outcomes = read_store(db) if db.exists() else ([], [])
    assert runs == [] and outcomes == []
    assert not list((pytester.path / ".modelbench").glob("runs/*.json"))
    if "--co" not in extra:
        result.stdout.fnmatch_lines(["*nothing was replayed, so no run was recorded*"])


def test_an_empty_invocation_does_not_become_latest(pytester: pytest.Pytester) -> None:
    add_cases(pytester.path / "cases")
    real = pytester.runpytest_subprocess(*BASE, "--sessions", "cases", "-k", "mul and gold")
    real.assert_outcomes(passed=1, deselected=5)
    pytester.runpytest_subprocess(*BASE, "--sessions", "cases", "-k", "nothing_matches_this")
    pytester.runpytest_subprocess(*BASE, "--sessions", "cases", "--co")
    runs, _ = read_store(pytester.path / ".modelbench" / "modelbench.db")
    assert len(runs) == 1
    listed = _modelbench(pytester.path, "list")
    assert listed.returncode == 0, listed.stderr
    assert runs[0]["id"] in listed.stdout
    shown = _modelbench(pytester.path, "show", "latest")
    assert shown.returncode == 0, shown.stderr
    assert runs[0]["id"] in shown.stdout


def _project_and_elsewhere(tmp: Path, *, ini: bool) -> tuple[Path, Path]:
    project = tmp / "project"
    project.mkdir()
    if ini:
        (project / "pytest.ini").write_text("[pytest]\n")
    cases = add_cases(tmp / "elsewhere" / "cases")
    return project, cases


@pytest.mark.parametrize("ini", [True, False])
def test_store_is_the_projects_never_the_sessions_folder(pytester: pytest.Pytester, ini: bool) -> None:
    project, cases = _project_and_elsewhere(pytester.path, ini=ini)
    before = {p for p in pytester.path.rglob("*")}
    result = subprocess.run([sys.executable, "-m", "pytest", *BASE, "--sessions", "../elsewhere/cases", "-k", "add"],
                            cwd=project, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / ".modelbench" / "modelbench.db").is_file()
    written = {p for p in pytester.path.rglob("*")} - before
    assert written and all(project in p.parents for p in written), sorted(map(str, written))
    assert not (cases / ".modelbench").exists() and not (pytester.path / ".modelbench").exists()
    # The CLI finds it from a subfolder, as git finds its repository.
    sub = project / "src" / "deep"
    sub.mkdir(parents=True)
    listed = _modelbench(sub, "list")
    assert listed.returncode == 0, listed.stderr
    runs, _ = read_store(project / ".modelbench" / "modelbench.db")
    assert runs[0]["id"] in listed.stdout


def test_cli_follows_an_ini_file_naming_the_store(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "a" / "b").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\nmodelbench_store = "hist/m.db"\n')
    missing = _modelbench(project / "a" / "b", "list")
    assert missing.returncode == 2
    assert f"--store {project / 'hist' / 'm.db'}: no such store" in missing.stderr


def test_cli_error_names_every_path_it_tried(tmp_path: Path) -> None:
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    result = _modelbench(sub, "list")
    assert result.returncode == 2
    for folder in (sub, tmp_path / "a", tmp_path):
        assert str(folder / ".modelbench" / "modelbench.db") in result.stderr
    assert "modelbench_store" in result.stderr
