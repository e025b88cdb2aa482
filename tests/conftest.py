from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import DATA

# Case-file workspaces and hidden checks live under data/: they are inputs, not tests of this project.
collect_ignore = ["data"]


@pytest.fixture
def data_dir() -> Path:
    return DATA
