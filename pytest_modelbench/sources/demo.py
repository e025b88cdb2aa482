"""``demo``: the bundled corpus of small repository sessions (the embedded default).

Each session is an ordinary case file under ``demo_data/<id>/case.modelbench.yaml`` with ``start/`` (workspace),
``gold/`` (the reference change) and ``check/`` (hidden judging tests written in just before the check).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from pytest_modelbench.records import Session
from pytest_modelbench.sources.casefile import load_case_files


def demo_root() -> Path:
    return Path(str(resources.files("pytest_modelbench.sources").joinpath("demo_data")))


class DemoSource:
    name = "demo"
    default_sample_size: int | None = None

    def __init__(self) -> None:
        self._sessions: list[Session] | None = None

    def sessions(self) -> Sequence[Session]:
        if self._sessions is None:
            self._sessions = load_case_files(demo_root(), self.name)
        return self._sessions
