"""Helpers shared by the tests (case-file writers, store and artifact readers)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from pytest_modelbench.runners.bwrap import bwrap_problem

DATA = Path(__file__).parent / "data"

requires_bwrap = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bubblewrap unusable: {bwrap_problem()}")


def read_store(db: Path) -> tuple[list[dict], list[dict]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        runs = [dict(r) for r in conn.execute("SELECT * FROM benchmark_runs ORDER BY created_ts")]
        outcomes = [dict(r) for r in conn.execute("SELECT * FROM benchmark_outcomes")]
    return runs, outcomes


def read_artifacts(folder: Path) -> list[dict]:
    """Artifacts in the order they were written."""
    paths = sorted((folder / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return [json.loads(p.read_text()) for p in paths]


def write_case(folder: Path, case_id: str, start: dict[str, str], gold: dict[str, str], check_files: dict[str, str],
               *, intent: str = "fix-bug", timeout: float = 30, paths: tuple[str, ...] = ("tests",)) -> Path:
    """Write a small inline case file (JSON, so this helper needs no YAML writer)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "id": case_id,
        "intent": intent,
        "prompt": f"Work on {case_id}.",
        "workspace": {"files": start},
        "check": {"kind": "pytest", "paths": list(paths), "timeout": timeout, "files": {"files": check_files}},
        "gold": {"files": gold},
    }
    path = folder / f"{case_id}.modelbench.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def add_cases(folder: Path) -> Path:
    """Three tiny sessions: two valid (noop fails them), one whose gold does not pass its own check."""
    test_file = "from calc import {fn}\n\n\ndef test_{fn}():\n    assert {fn}(2, 3) == {expected}\n"
    write_case(folder, "add", {"calc.py": "def add(a, b):\n    return a - b\n"},
               {"calc.py": "def add(a, b):\n    return a + b\n"},
               {"tests/test_add.py": test_file.format(fn="add", expected=5)})
    write_case(folder, "mul", {"calc.py": "def mul(a, b):\n    return a + b\n"},
               {"calc.py": "def mul(a, b):\n    return a * b\n"},
               {"tests/test_mul.py": test_file.format(fn="mul", expected=6)}, intent="refactor")
    write_case(folder, "broken-gold", {"calc.py": "def sub(a, b):\n    return a + b\n"},
               {"calc.py": "def sub(a, b):\n    return a * b\n"},
               {"tests/test_sub.py": test_file.format(fn="sub", expected=-1)})
    return folder
