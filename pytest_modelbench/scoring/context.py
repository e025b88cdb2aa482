"""What a scorer sees of one replay."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..records import Session, TestCounts
from .rubric import Rubric


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
