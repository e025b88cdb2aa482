"""Helpers shared by the tests (case-file writers, store and artifact readers)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"

# Sandbox prerequisites. Locally a missing one skips its tests, with the reason; with MODELBENCH_REQUIRE_SANDBOX=1
# (set by .ci/run) it fails them, so that a CI machine where bwrap cannot create namespaces cannot stay green by
# skipping every sandbox test. Checked when a test that needs one is set up (tests/conftest.py), not at import.
REQUIRE_SANDBOX = "MODELBENCH_REQUIRE_SANDBOX"
# The local runner confines files from ABI 1, TCP from ABI 4 and signals from ABI 6: its hostile tests need all three.
LANDLOCK_NEEDED = 6

requires_bwrap = pytest.mark.prerequisite("bwrap")
requires_landlock = pytest.mark.prerequisite("landlock")
requires_chromium = pytest.mark.prerequisite("chromium")


def sandbox_required() -> bool:
    return os.environ.get(REQUIRE_SANDBOX, "") not in ("", "0")


def fuzz_is_derandomized() -> bool:
    """CI (``CI=true``, or .ci/run's MODELBENCH_REQUIRE_SANDBOX) runs the derandomized Hypothesis profile."""
    return os.environ.get("CI", "").lower() in ("true", "1") or sandbox_required()


def chromium_executable() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


@functools.cache
def prerequisite_problem(name: str) -> str | None:
    """None when the prerequisite ``name`` holds on this machine, else what is missing (once per process)."""
    if name == "bwrap":
        from pytest_modelbench.runners.bwrap import bwrap_problem

        problem = bwrap_problem()
        return None if problem is None else f"bubblewrap unusable: {problem}"
    if name == "landlock":
        from pytest_modelbench.runners.local import landlock_abi

        abi = landlock_abi()
        return None if abi >= LANDLOCK_NEEDED else (
            f"Landlock ABI {abi} < {LANDLOCK_NEEDED}: the local runner cannot confine files, TCP and signals here "
            "(the control test shows what gets through)")
    if name == "chromium":
        return None if chromium_executable() else "no chromium on PATH (.ci/run installs Debian's chromium)"
    raise ValueError(f"unknown prerequisite {name!r}")


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


def check_against_forgers(session: Any, runner: Any, tmp_path: Path, broken_calc: str) -> tuple[Any, dict, Any]:
    """Run ``session``'s check on its own workspace (honest), then with ``calc.py`` replaced by each verdict forger's
    (tests/attacks.py ``FORGERS``) and by ``broken_calc``: (the honest CheckRun, each forger's counts by attack name,
    the broken counts). The tests assert on them."""
    from pytest_modelbench.replay.check import run_check
    from pytest_modelbench.replay.workspace import write_fileset

    from .attacks import FORGERS

    pristine = tmp_path / "pristine"
    write_fileset(session.workspace, pristine)

    def check(name: str, calc: str | None) -> Any:
        work = tmp_path / name
        write_fileset(session.workspace, work)
        if calc is not None:
            (work / "calc.py").write_text(calc)
        return run_check(session, work, pristine, runner, tmp_path)

    honest = check("honest", None)
    forged = {a.name: check(a.name, a.build(None).files["calc.py"]).counts for a in FORGERS}  # type: ignore[arg-type]
    return honest, forged, check("broken", broken_calc).counts


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
