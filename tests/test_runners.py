"""The runners, run for real: environment allow-list, HOME, limits, timeouts that kill the whole group, isolation."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import pytest

from pytest_modelbench.runners import Mount, RunnerError, RunRequest, make_runner
from pytest_modelbench.runners.bwrap import BwrapRunner
from pytest_modelbench.runners.local import LocalRunner

from .helpers import requires_bwrap

RUNNERS = [pytest.param(LocalRunner, id="local"), pytest.param(BwrapRunner, id="bwrap", marks=requires_bwrap)]


def _py(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


@pytest.mark.parametrize("runner_cls", RUNNERS)
def test_environment_is_an_allow_list_and_home_is_the_workspace(runner_cls, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-must-not-leak")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-must-not-leak")
    runner = runner_cls()
    result = runner.run(RunRequest(_py("import json, os; print(json.dumps(dict(os.environ)))"), tmp_path, 30))
    assert result.exit_code == 0, result.stderr_tail
    env = json.loads(result.stdout_tail)
    assert "OPENAI_API_KEY" not in env and "MY_SERVICE_TOKEN" not in env
    assert "sk-test-must-not-leak" not in result.stdout_tail
    expected_home = "/workspace" if runner.name == "bwrap" else str(tmp_path)
    assert env["HOME"] == expected_home
    assert env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] == "1"


@pytest.mark.parametrize("runner_cls", RUNNERS)
def test_limits_are_applied(runner_cls, tmp_path: Path) -> None:
    code = ("import resource, json; print(json.dumps({n: resource.getrlimit(getattr(resource, n))[0] for n in "
            "('RLIMIT_CPU', 'RLIMIT_DATA', 'RLIMIT_FSIZE', 'RLIMIT_NPROC')}))")
    result = runner_cls().run(RunRequest(_py(code), tmp_path, 30))
    limits = json.loads(result.stdout_tail)
    assert 0 < limits["RLIMIT_CPU"] <= 300
    assert 0 < limits["RLIMIT_DATA"] <= 4 * 1024**3
    assert 0 < limits["RLIMIT_FSIZE"] <= 256 * 1024**2
    assert 0 < limits["RLIMIT_NPROC"] <= 256


@pytest.mark.parametrize("runner_cls", RUNNERS)
def test_timeout_kills_the_whole_process_group(runner_cls, tmp_path: Path) -> None:
    token = f"modelbench-runner-test-{time.monotonic_ns()}"
    code = (f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', "
            f"'{token}']); time.sleep(300)")
    started = time.monotonic()
    result = runner_cls().run(RunRequest(_py(code), tmp_path, 1.5))
    assert result.timed_out and result.exit_code is None
    assert time.monotonic() - started < 20
    time.sleep(0.3)
    survivors = [p for p in Path("/proc").glob("[0-9]*/cmdline") if token.encode() in _read(p)]
    assert survivors == []


def _read(p: Path) -> bytes:
    try:
        return p.read_bytes()
    except OSError:
        return b""


@requires_bwrap
def test_bwrap_hides_home_and_project_and_makes_system_read_only(tmp_path: Path) -> None:
    code = f"""
import json, os, sys
from pathlib import Path
probe = {{}}
project = {str(Path(__file__).parent)!r}
for name, path in [("home", os.path.expanduser("~root")), ("project", project), ("cwd_listing", ".")]:
    try:
        probe[name] = sorted(os.listdir(path))
    except OSError as exc:
        probe[name] = type(exc).__name__
try:
    open("/usr/modelbench-write-test", "w")
    probe["usr_write"] = "ok"
except OSError as exc:
    probe["usr_write"] = type(exc).__name__
open("made-in-sandbox.txt", "w").write("x")
print(json.dumps(probe))
"""
    (tmp_path / "input.txt").write_text("in")
    result = BwrapRunner().run(RunRequest(_py(code), tmp_path, 30))
    assert result.exit_code == 0, result.stderr_tail
    probe = json.loads(result.stdout_tail)
    assert probe["project"] == "FileNotFoundError"
    assert probe["home"] in ("FileNotFoundError", [".pyenv"], []), probe["home"]
    assert probe["cwd_listing"] == ["input.txt"]
    assert probe["usr_write"] in ("OSError", "PermissionError", "FileNotFoundError")
    assert (tmp_path / "made-in-sandbox.txt").read_text() == "x"


@requires_bwrap
def test_bwrap_has_no_network(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    port = server.getsockname()[1]
    try:
        code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                "    print('connected')\nexcept OSError as exc:\n    print('refused', type(exc).__name__)")
        result = BwrapRunner().run(RunRequest(_py(code), tmp_path, 30))
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()
    assert result.stdout_tail.startswith("refused"), result.stdout_tail


@requires_bwrap
def test_bwrap_mounts_extra_folders_read_only_or_writable(tmp_path: Path) -> None:
    ro, rw, ws = tmp_path / "ro", tmp_path / "rw", tmp_path / "ws"
    for d in (ro, rw, ws):
        d.mkdir()
    (ro / "in.txt").write_text("harness")
    code = (f"import pathlib\nprint(pathlib.Path({str(ro / 'in.txt')!r}).read_text())\n"
            f"pathlib.Path({str(rw / 'out.txt')!r}).write_text('result')\n"
            f"try:\n    pathlib.Path({str(ro / 'x')!r}).write_text('no')\nexcept OSError:\n    print('ro')")
    result = BwrapRunner().run(RunRequest(_py(code), ws, 30, mounts=(Mount(ro), Mount(rw, writable=True))))
    assert result.stdout_tail.split() == ["harness", "ro"]
    assert (rw / "out.txt").read_text() == "result"
    assert not (ro / "x").exists()


def test_make_runner_choices() -> None:
    runner, warning = make_runner("local")
    assert runner.name == "local" and warning is None
    auto, auto_warning = make_runner("auto")
    assert auto.name in ("bwrap", "local")
    assert (auto.name == "local") == (auto_warning is not None)


def test_make_runner_bwrap_without_bubblewrap_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_modelbench.runners import bwrap

    monkeypatch.setattr(bwrap.shutil, "which", lambda name: None)
    bwrap.bwrap_problem.cache_clear()
    try:
        with pytest.raises(RunnerError, match="bubblewrap does not work here: bwrap is not installed"):
            make_runner("bwrap")
        runner, warning = make_runner("auto")
        assert runner.name == "local" and "falling back to the local runner" in warning
    finally:
        bwrap.bwrap_problem.cache_clear()
