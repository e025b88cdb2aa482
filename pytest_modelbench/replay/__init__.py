"""Replays: one candidate working on one session in a fresh workspace, then the check.

``prepare_session`` builds the pristine start, runs the check on it ("before") and validates the gold change (the
harness validation every run keeps). It runs once per session per run, whichever xdist worker gets there first;
the others wait on a file lock and read the stored result.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_modelbench.records import Session, TestCounts
from pytest_modelbench.replay.check import Checker, CheckRun
from pytest_modelbench.replay.envs import file_lock
from pytest_modelbench.replay.workspace import apply_gold, copy_workspace, touched_files, write_fileset

INVALID_GOLD = "invalid session: gold does not pass its check"


@dataclass(frozen=True)
class Prepared:
    """What every replay of a session shares."""

    pristine: Path
    gold_workspace: Path
    before: TestCounts
    gold: TestCounts
    gold_seconds: float
    gold_touched: dict[str, list[str]]
    problem: str = ""  # why the session cannot be replayed, if it cannot
    gold_executed: dict[str, list[int]] | None = None  # lines the gold check ran, when coverage was measured

    @property
    def valid(self) -> bool:
        return not self.problem and self.gold.all_passed

    @property
    def invalid_reason(self) -> str:
        if self.problem:
            return f"invalid session: {self.problem}"
        return f"{INVALID_GOLD} ({self.gold.detail or _counts_text(self.gold)})"


@dataclass(frozen=True)
class ReplayResult:
    """What a candidate did: the workspace is left edited in place; cost is None when the price is unknown.

    ``status`` is ``complete`` when the replay ran to its end (whatever the code is worth), else
    ``cancelled-over-budget``, ``skipped`` (for example a cloud model without --allow-cloud) or ``failed`` (a model
    call failed after retries), with ``reason``. Only complete replays are checked and scored.
    """

    turns: int = 0
    cost_usd: float | None = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)
    status: str = "complete"
    reason: str = ""


def _counts_text(c: TestCounts) -> str:
    return f"{c.passed}/{c.total} passed"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80]


class SessionCache:
    """Per-run folder shared by all workers on this machine: pristine starts, gold workspaces, validations."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self, session: Session, checker: Checker, coverage: bool = False) -> Prepared:
        folder = self.root / f"{_slug(session.key)}-{session.content_hash()}"
        record = folder / "prepared.json"
        with file_lock(folder.with_suffix(".lock")):
            if record.exists():
                return _load_prepared(record)
            prepared = _prepare(session, checker, folder, coverage)
            tmp = record.with_suffix(".tmp")
            tmp.write_text(json.dumps(_dump_prepared(prepared)))
            os.replace(tmp, record)
            return prepared


def _prepare(session: Session, checker: Checker, folder: Path, coverage: bool) -> Prepared:
    from pytest_modelbench.replay.workspace import WorkspaceError

    if folder.exists():
        shutil.rmtree(folder)
    pristine = folder / "pristine"
    write_fileset(session.workspace, pristine)
    gold_ws = copy_workspace(pristine, folder / "gold")
    empty = TestCounts(0, 0, 0, 0, None, result_file_found=False)
    try:
        apply_gold(session.gold, gold_ws)
    except (WorkspaceError, OSError) as exc:
        return Prepared(pristine, gold_ws, empty, empty, 0.0, {}, problem=str(exc))
    touched = touched_files(pristine, gold_ws)
    if session.check.command[:1] == ("unsupported",) and len(session.check.command) > 2:
        # The session's test command could not be resolved (a wrapper the start's files do not explain): say so.
        return Prepared(pristine, gold_ws, empty, empty, 0.0, touched, problem=session.check.command[2])
    from pytest_modelbench.replay.envs import EnvError

    try:
        checker.env_for(session, pristine)  # found or built once, before any check of this session
        if session.check.kind == "node" and checker.envs is not None:
            from pytest_modelbench.replay.nodecheck import node_modules

            node_modules(pristine, checker.envs.cache_root)
    except EnvError as exc:
        return Prepared(pristine, gold_ws, empty, empty, 0.0, touched, problem=str(exc))
    before = _check_copy(checker, session, pristine, pristine).counts
    start = time.monotonic()
    gold_run = _check_copy(checker, session, gold_ws, pristine, coverage)
    return Prepared(pristine, gold_ws, before, gold_run.counts, time.monotonic() - start, touched,
                    gold_executed=gold_run.executed)


def _check_copy(checker: Checker, session: Session, state: Path, pristine: Path, coverage: bool = False) -> CheckRun:
    """Check ``state`` without changing it: pytest checks run in a throw-away copy."""
    if session.check.kind == "function":
        return checker.run(session, state, pristine, coverage)  # reads the solution file, writes nothing
    with tempfile.TemporaryDirectory(prefix="modelbench-check-", dir=checker.scratch) as tmp:
        return checker.run(session, copy_workspace(state, Path(tmp) / "ws"), pristine, coverage)


def _dump_prepared(p: Prepared) -> dict[str, Any]:
    return {
        "pristine": str(p.pristine), "gold_workspace": str(p.gold_workspace), "before": p.before.to_dict(),
        "gold": p.gold.to_dict(), "gold_seconds": p.gold_seconds, "gold_touched": p.gold_touched,
        "problem": p.problem, "gold_executed": p.gold_executed,
    }


def _counts(d: dict[str, Any]) -> TestCounts:
    d = dict(d)
    d.pop("total", None)
    return TestCounts(**d)


def _load_prepared(path: Path) -> Prepared:
    d = json.loads(path.read_text())
    return Prepared(Path(d["pristine"]), Path(d["gold_workspace"]), _counts(d["before"]), _counts(d["gold"]),
                    d["gold_seconds"], d["gold_touched"], d["problem"], d.get("gold_executed"))
