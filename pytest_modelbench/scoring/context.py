"""What a scorer sees of one replay."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_modelbench.records import Session, TestCounts
from pytest_modelbench.scoring.rubric import Rubric


@dataclass(frozen=True)
class ScoreContext:
    session: Session
    model: str
    rubric: Rubric
    before: TestCounts  # the check on the untouched start
    after: TestCounts  # the check after the replay
    pristine: Path  # the start
    workspace: Path  # the candidate's workspace after the replay
    gold_workspace: Path
    evidence: dict[str, Any] = field(default_factory=dict)
    # Touched Python files (relative path -> text), read before the check restored anything:
    candidate_files: dict[str, str] = field(default_factory=dict)  # after the replay
    start_files: dict[str, str | None] = field(default_factory=dict)  # the same paths at the start (None: new file)
    gold_files: dict[str, str] = field(default_factory=dict)  # files the gold change touches, gold version
    start_all: dict[str, str] = field(default_factory=dict)  # every Python file of the start
    executed: dict[str, list[int]] | None = None  # lines the check ran (coverage), None when not measured
    diff: str = ""  # the candidate's change as a unified diff (redacted)
    gold_counts: TestCounts | None = None  # the check on the gold change: which tests count (rubric v2)
    touched: dict[str, list[str]] | None = None  # files added, modified, deleted by the replay (None: not known)

    @property
    def changed(self) -> bool:
        """Whether the replay changed any file of the workspace (the diff when the touched list is not known)."""
        if self.touched is not None:
            return any(self.touched.values())
        return bool(self.diff)
