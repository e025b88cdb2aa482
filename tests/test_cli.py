"""The modelbench command line (this version: --version and sessions)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pytest_modelbench import __version__
from pytest_modelbench.cli.main import main


def test_version_via_console_script() -> None:
    out = subprocess.run(["modelbench", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"pytest-modelbench {__version__}"


def test_sessions_lists_the_demo_with_strata(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sessions", "--strata"]) == 0
    out = capsys.readouterr().out
    assert "demo/fix-bug-slugify-unicode" in out
    assert "demo: fix-bug × small × claude-sonnet-4-5:" in out or "demo: fix-bug × small" in out
    assert out.strip().endswith("12 session(s)")


def test_sessions_sampling_and_intent_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sessions", "--intent", "refactor"]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("2 session(s)")
    assert main(["sessions", "--sample-size", "6", "--sample-seed", "3"]) == 0
    assert capsys.readouterr().out.strip().endswith("6 session(s)")


def test_sessions_bad_source_is_one_line_error() -> None:
    out = subprocess.run([sys.executable, "-m", "pytest_modelbench.cli.main", "sessions", "--sessions", "no/such"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip() == ("modelbench: error: --sessions no/such: not a known source (demo, humaneval) "
                                  "nor an existing path")
