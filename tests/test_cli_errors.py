"""The command line converts errors in one place (cli/main.py): a UserError from any command is one line on stderr,
``modelbench: error: <message>``, with exit status 2 and no traceback; any other exception keeps its traceback."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_modelbench.cli.main import build_parser, main
from pytest_modelbench.errors import UserError


def _commands() -> dict[str, tuple[Callable[..., int], list[str]]]:
    """Every subcommand of the parser: (its function, an argv that parses), read from the parser itself so a new
    command is covered without editing this test."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = {}
    for name, subparser in sub.choices.items():
        argv = [name]
        for action in subparser._actions:
            if action.option_strings and not action.required:
                continue
            if action.nargs == argparse.REMAINDER or isinstance(action, argparse._HelpAction):
                continue
            value = str(action.choices[0]) if action.choices else "x"  # type: ignore[index]
            argv += [action.option_strings[0], value] if action.option_strings else [value]
        out[name] = (subparser.get_default("func"), argv)
    return out


COMMANDS = _commands()


def test_every_command_is_covered() -> None:
    # The groups of cli/main.py; a command lost from the parser would silently shrink the test below.
    assert set(COMMANDS) >= {"sessions", "import", "list", "compare", "merge", "recommend", "trend", "show", "report",
                             "export", "estimate", "run", "serve"}


class Unusable(UserError):
    """A user error raised deep inside a command (as StoreError, SourceError, RunNotFound... are)."""


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_user_error_in_any_command_is_one_line_and_exit_2(command: str, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    func, argv = COMMANDS[command]

    def fail(args: argparse.Namespace) -> int:
        raise Unusable(f"{command}.yaml: field 'x': expected a number")

    # The parser is built on each call of main(), from the module attribute: patch it there.
    monkeypatch.setattr(importlib.import_module(func.__module__), func.__name__, fail)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == f"modelbench: error: {command}.yaml: field 'x': expected a number\n"
    assert captured.out == ""


@pytest.mark.parametrize("command", ["list", "show"])
def test_a_harness_fault_keeps_its_traceback(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    func, argv = COMMANDS[command]

    def crash(args: Any) -> int:
        raise KeyError("a bug, not the user's fault")

    monkeypatch.setattr(importlib.import_module(func.__module__), func.__name__, crash)
    with pytest.raises(KeyError, match="a bug"):
        main(argv)


def test_a_real_user_error_from_deep_inside_over_the_console_script(tmp_path: Path) -> None:
    """No patching: the error comes from report/runs.py (RunNotFound) through ``show``, in a separate process."""
    missing = tmp_path / "gone.json"
    out = subprocess.run(["modelbench", "show", str(missing)], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2, out
    assert out.stderr.startswith(f"modelbench: error: {missing}: ") and len(out.stderr.splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_python_dash_m_runs_the_same_command_line() -> None:
    out = subprocess.run([sys.executable, "-m", "pytest_modelbench.cli", "list", "--store", "no/such.db"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr == "modelbench: error: --store no/such.db: no such store (run pytest --modelbench first)\n"
