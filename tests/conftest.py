from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import DATA

# Case-file workspaces and hidden checks live under data/: they are inputs, not tests of this project.
collect_ignore = ["data"]


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture(autouse=True)
def _no_ci_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run of this suite inside GitHub Actions must not append every pytester run to the job's summary;
    the tests of that feature set the variable themselves."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
