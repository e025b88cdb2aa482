"""The reference candidates: ``replay/gold`` applies the session's recorded change, ``replay/noop`` changes nothing.

They need no model, cost $0, and validate the harness on every run: gold must solve, noop must not.
"""

from __future__ import annotations

from pathlib import Path

from pytest_modelbench.records import Session
from pytest_modelbench.replay import ReplayResult
from pytest_modelbench.replay.workspace import apply_gold


def replay_reference(model: str, session: Session, workspace: Path) -> ReplayResult | None:
    if model == "replay/gold":
        apply_gold(session.gold, workspace)
        return ReplayResult(turns=0, cost_usd=0.0, evidence={"mode": "reference", "applied": "gold"})
    if model == "replay/noop":
        return ReplayResult(turns=0, cost_usd=0.0, evidence={"mode": "reference", "applied": "nothing"})
    return None
