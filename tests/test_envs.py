"""The project's own Python environment (replay/envs.py): found, built once from declarations, used read-only.

No network: the dependency a test project declares is a wheel the test writes into a local folder, and pip is told
to look only there (PIP_NO_INDEX, PIP_FIND_LINKS), as a user's pip configuration would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pytest_modelbench.replay.declarations import EnvError, read_declarations
from pytest_modelbench.replay.envs import EnvResolver, env_key

from .helpers import read_artifacts, requires_bwrap
from .transcript_builders import SESSION_START, ClaudeTranscript, committed_repo

SCALE = "def scale(x):\n    return x * 10\n"


def make_wheel(folder: Path, name: str, version: str, modules: dict[str, str]) -> Path:
    """A pure-Python wheel written by hand (no build tool, no network)."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = dict(modules)
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


def _case(folder: Path, case_id: str, start: dict[str, str], *, directory: bool = False) -> Path:
    """A case whose code needs ``tinyunits``: area() is wrong at the start, right in the gold."""
    start = {**start, "src/shapes/__init__.py": "from tinyunits import scale\n\n\ndef area(w, h):\n"
                                               "    return scale(w + h)\n"}
    gold = {"src/shapes/__init__.py": "from tinyunits import scale\n\n\ndef area(w, h):\n    return scale(w * h)\n"}
    tests = {"tests/test_area.py": "from shapes import area\n\n\ndef test_area():\n    assert area(2, 3) == 60\n"}
    folder.mkdir(parents=True, exist_ok=True)
    workspace: dict[str, object] = {"files": start}
    if directory:
        root = folder / f"{case_id}-start"
        for rel, text in start.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        workspace = {"dir": root.name}
    data = {"id": case_id, "intent": "fix-bug", "prompt": "Fix area().", "workspace": workspace,
            "check": {"kind": "pytest", "paths": ["tests"], "timeout": 60, "files": {"files": tests}},
            "gold": {"files": gold}}
    (folder / f"{case_id}.modelbench.json").write_text(json.dumps(data))
    return folder / f"{case_id}-start"


PYPROJECT = '[project]\nname = "shapes"\nversion = "0.1.0"\ndependencies = ["tinyunits>=1.0"]\n'


def _solved(pytester: pytest.Pytester) -> dict[tuple[str, str], object]:
    artifact = read_artifacts(pytester.path / ".modelbench")[-1]
    return {(o["session_id"], o["model"]): o["solved"] if o["status"] == "complete" else o["skip_reason"]
            for o in artifact["outcomes"]}


# -- declarations ------------------------------------------------------------------------------------------------


def test_declarations_of_pyproject_requirements_and_setup(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\ndependencies = ["attrs>=22", "pytest"]\n'
        '[project.optional-dependencies]\ntest = ["hypothesis"]\ndocs = ["sphinx"]\n'
        '[dependency-groups]\ndev = [{include-group = "lint"}, "freezegun"]\nlint = ["ruff"]\n')
    (tmp_path / "requirements-dev.txt").write_text("requests\n")
    decl = read_declarations(tmp_path)
    # pytest is the harness's business; docs extras are not needed to run tests.
    assert decl.requirements == ("attrs>=22", "hypothesis", "ruff", "freezegun")
    assert decl.requirement_files == ("requirements-dev.txt",)
    assert not decl.install_project and not decl.empty

    # setup.py / setup.cfg: what `pip install -e .[test]` installs, read without running setup.py ...
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "setup.py").write_text(
        "from setuptools import setup\nREQUIRES = ['attrs>=22']\n"
        "setup(name='legacy', install_requires=REQUIRES, tests_require=['mock'],\n"
        "      extras_require={'test': ['hypothesis'], 'docs': ['sphinx']})\n")
    (legacy / "setup.cfg").write_text("[options]\ninstall_requires =\n    requests>=2\n    # a comment\n"
                                      "[options.extras_require]\ntesting = freezegun\n")
    decl = read_declarations(legacy)
    assert decl.requirements == ("requests>=2", "freezegun", "attrs>=22", "mock", "hypothesis")
    assert not decl.install_project
    # ... a setup.py declaring nothing needs nothing ...
    (legacy / "setup.cfg").unlink()
    (legacy / "setup.py").write_text("from setuptools import setup\nsetup(name='legacy')\n")
    assert read_declarations(legacy).empty
    # ... and computed values are left to installing the start itself, which runs setup.py.
    for setup in ("setup(name='x', install_requires=open('req.txt').read().split())\n", "setup(**options)\n"):
        (legacy / "setup.py").write_text(f"from setuptools import setup\n{setup}")
        decl = read_declarations(legacy)
        assert decl.install_project and decl.requirements == (), setup
    (legacy / "setup.py").unlink()
    (legacy / "setup.cfg").write_text("[options]\ninstall_requires = file: requirements.in\n")
    assert read_declarations(legacy).install_project

    nothing = tmp_path / "plain"
    nothing.mkdir()
    (nothing / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-q"\n')
    assert read_declarations(nothing).empty


def test_env_key_follows_declaration_bytes_and_python(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("attrs\n")
    a = env_key(read_declarations(tmp_path), "3.11", "pip")
    assert a == env_key(read_declarations(tmp_path), "3.11", "pip")
    assert a != env_key(read_declarations(tmp_path), "3.12", "pip")
    (tmp_path / "requirements.txt").write_text("attrs>=23\n")
    assert a != env_key(read_declarations(tmp_path), "3.11", "pip")


def test_broken_pyproject_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname = ")
    with pytest.raises(EnvError, match=r"environment: .*pyproject.toml: not valid TOML"):
        read_declarations(tmp_path)


def test_resolver_builds_once_and_lends_pytest(tmp_path: Path, offline_pip: Path) -> None:
    start = tmp_path / "start"
    start.mkdir()
    (start / "pyproject.toml").write_text(PYPROJECT)
    lines: list[str] = []
    env = EnvResolver("auto", tmp_path / "envs", progress=lines.append).resolve(start)
    assert env.kind == "built" and len(lines) == 1 and "pyproject.toml" in lines[0]
    # The built environment has the declared dependency and not pytest: pytest comes from the overlay.
    run = subprocess.run([env.python, "-c", "import tinyunits, sys; print(tinyunits.scale(2))"],
                         capture_output=True, text=True)
    assert run.stdout.strip() == "20", run.stderr
    assert subprocess.run([env.python, "-c", "import pytest"], capture_output=True).returncode != 0
    assert env.pythonpath and Path(env.pythonpath[0], "pytest").is_dir()
    # A second resolver (another process, a later run) reuses it without building.
    again: list[str] = []
    assert EnvResolver("auto", tmp_path / "envs", progress=again.append).resolve(start).python == env.python
    assert again == []


def test_resolver_reports_an_unbuildable_declaration(tmp_path: Path, offline_pip: Path) -> None:
    start = tmp_path / "start"
    start.mkdir()
    (start / "requirements.txt").write_text("no-such-package-anywhere==9.9\n")
    with pytest.raises(EnvError) as info:
        EnvResolver("auto", tmp_path / "envs").resolve(start)
    message = str(info.value)
    assert message.startswith("environment: requirements.txt: pip install failed")
    assert "no-such-package-anywhere" in message
    assert not any((tmp_path / "envs").glob("*/.complete"))  # nothing half-built is kept


def test_harness_mode_and_no_declarations_use_our_interpreter(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    assert EnvResolver("harness", tmp_path / "envs").resolve(tmp_path).python == sys.executable
    plain = tmp_path / "plain"
    plain.mkdir()
    assert EnvResolver("auto", tmp_path / "envs").resolve(plain).python == sys.executable


# -- end to end --------------------------------------------------------------------------------------------------

RUNNERS = ["local", pytest.param("bwrap", marks=requires_bwrap)]


@pytest.mark.parametrize("runner", RUNNERS)
def test_declared_dependency_src_layout_replays(pytester: pytest.Pytester, offline_pip: Path, runner: str) -> None:
    _case(pytester.path / "cases", "area", {"pyproject.toml": PYPROJECT})
    args = ("--modelbench", "-p", "no:cacheprovider", "--sessions", "cases", "--runner", runner)
    first = pytester.runpytest_subprocess(*args)
    assert first.ret == 0, first.stdout.str()
    assert _solved(pytester) == {("area", "replay/gold"): True, ("area", "replay/noop"): False}
    first.stdout.fnmatch_lines(["*building the environment for pyproject.toml with pip*"])
    (built,) = [p for p in (pytester.path / ".modelbench" / "envs").iterdir()
                if (p / ".complete").is_file() and not p.name.startswith("overlay-")]
    # Later runs reuse the environment: nothing is built again.
    second = pytester.runpytest_subprocess(*args)
    assert second.ret == 0 and "building the environment" not in second.stdout.str()
    assert _solved(pytester) == {("area", "replay/gold"): True, ("area", "replay/noop"): False}
    # With the harness's interpreter (the old behaviour) the gold cannot import the dependency, and says so.
    harness = pytester.runpytest_subprocess(*args, "--modelbench-env", "harness")
    reasons = _solved(pytester)
    assert harness.ret == 0
    assert "No module named 'tinyunits'" in str(reasons[("area", "replay/gold")])


@pytest.mark.parametrize("runner", RUNNERS)
def test_project_venv_with_requirements_replays(pytester: pytest.Pytester, offline_pip: Path, runner: str) -> None:
    start = _case(pytester.path / "cases", "area", {"requirements.txt": "tinyunits\n"}, directory=True)
    venv = start / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "tinyunits"], check=True)
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "cases",
                                           "--runner", runner)
    assert result.ret == 0, result.stdout.str()
    assert _solved(pytester) == {("area", "replay/gold"): True, ("area", "replay/noop"): False}
    # The project's own environment was used (nothing built) and it was not changed.
    assert "building the environment" not in result.stdout.str()
    assert not (pytester.path / ".modelbench" / "envs").exists() or not any(
        (p / ".complete").is_file() for p in (pytester.path / ".modelbench" / "envs").iterdir() if p.is_dir()
        and not p.name.startswith("overlay-"))
    assert subprocess.run([str(venv / "bin" / "python"), "-c", "import pytest"],
                          capture_output=True).returncode != 0


def test_unbuildable_environment_skips_with_the_reason(pytester: pytest.Pytester, offline_pip: Path) -> None:
    _case(pytester.path / "cases", "area", {"pyproject.toml": PYPROJECT.replace("tinyunits", "not-on-this-disk")})
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "cases",
                                           "--runner", "local", "-rs")
    assert result.ret == 0, result.stdout.str()
    reasons = _solved(pytester)
    for model in ("replay/gold", "replay/noop"):
        assert "environment: pyproject.toml: pip install failed" in str(reasons[("area", model)])
        assert "not-on-this-disk" in str(reasons[("area", model)])


def test_bad_env_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--modelbench", "--modelbench-env", "nowhere/python")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--modelbench-env nowhere/python: expected auto, harness or the path of a Python*"])


# -- git-backed Claude Code sessions (the "done when") ---------------------------------------------------

NEEDY_BUGGY = "from tinyunits import scale\n\n\ndef add(a, b):\n    return scale(a - b)\n"
NEEDY_TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 50\n"


def _needy_repo(repo: Path, files: dict[str, str]) -> Path:
    """A git repository whose code needs ``tinyunits``; ``.venv`` is ignored as usual."""
    return committed_repo(repo, {"calc.py": NEEDY_BUGGY, "tests/test_calc.py": NEEDY_TEST, ".gitignore": ".venv/\n",
                                 **files}, "calc with a bug")


def _needy_session(cwd: str, sid: str) -> ClaudeTranscript:
    t = ClaudeTranscript(sid, cwd, SESSION_START)
    t.user("add() returns the wrong result, the test fails. Fix it.")
    t.read("calc.py", NEEDY_BUGGY)
    t.bash("python -m pytest -q", "F\n1 failed in 0.02s", exit_code=1)
    t.edit("calc.py", "return scale(a - b)", "return scale(a + b)", NEEDY_BUGGY)
    t.bash("python -m pytest -q", ".\n1 passed in 0.01s")
    t.say("Fixed.")
    return t


@pytest.mark.parametrize("kind", ["declared", "own-venv"])
def test_git_backed_sessions_replay_in_their_environment(pytester: pytest.Pytester, offline_pip: Path,
                                                         kind: str) -> None:
    sid = "22222222-2222-4333-8444-555555555555"
    if kind == "declared":
        repo = _needy_repo(pytester.path / "repo", {"pyproject.toml": PYPROJECT})
    else:
        repo = _needy_repo(pytester.path / "repo", {"requirements.txt": "tinyunits\n"})
        venv = repo / ".venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                        "tinyunits"], check=True)
    _needy_session(str(repo), sid).save(pytester.path / "projects" / "-repo" / f"{sid}.jsonl")
    result = pytester.runpytest_subprocess("--modelbench", "-p", "no:cacheprovider", "--sessions", "projects",
                                           "--runner", "local")
    assert result.ret == 0, result.stdout.str()
    assert _solved(pytester) == {(sid, "replay/gold"): True, (sid, "replay/noop"): False}
    built = "building the environment" in result.stdout.str()
    assert built == (kind == "declared")
