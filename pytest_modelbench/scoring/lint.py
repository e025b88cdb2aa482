"""The ``lint`` component: new ruff violations in touched Python files, against the starting files.

Ruff reads the files and never executes them. The rule set is pinned here and ruff runs with ``--isolated``, so the
project's own configuration cannot change the score. 1.0 with no new violation, minus 0.1 for each, floor 0.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from pytest_modelbench.records import ComponentScore

RULES = ("E", "F", "W", "B", "UP", "SIM", "C4", "RET")
LINE_LENGTH = 120
PENALTY = 0.1


def ruff_executable() -> list[str]:
    """The ruff binary of the installed ruff package (a PATH shim such as pyenv's costs ~80 ms a call)."""
    try:
        from ruff.__main__ import find_ruff_bin

        return [str(find_ruff_bin())]
    except (ImportError, FileNotFoundError):
        exe = shutil.which("ruff")
        return [exe] if exe else [sys.executable, "-m", "ruff"]


def violations(files: dict[str, str]) -> tuple[Counter[tuple[str, str]], str | None]:
    """(file, rule) -> count for the given sources (relative path -> text), or an error message."""
    if not files:
        return Counter(), None
    with tempfile.TemporaryDirectory(prefix="modelbench-lint-") as tmp:
        root = Path(tmp)
        for rel, text in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        cmd = [*ruff_executable(), "check", "--isolated", "--no-cache", "--output-format", "json",
               "--select", ",".join(RULES), "--line-length", str(LINE_LENGTH), "--target-version", "py311",
               "--exit-zero", *sorted(files)]
        try:
            res = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Counter(), f"ruff did not run: {exc}"
        if res.returncode != 0:
            return Counter(), f"ruff failed: {res.stderr.strip()[:300]}"
        try:
            found = json.loads(res.stdout or "[]")
        except ValueError:
            return Counter(), "ruff printed no JSON"
    counts: Counter[tuple[str, str]] = Counter()
    for v in found:
        rel = Path(v["filename"]).resolve().relative_to(root.resolve()).as_posix()
        counts[(rel, v.get("code") or "syntax")] += 1
    return counts, None


def score_lint(before: dict[str, str], after: dict[str, str]) -> tuple[ComponentScore, dict[str, Any]]:
    """``before``/``after``: the touched Python files (relative path -> text) at the start and after the replay."""
    if not after:
        return ComponentScore("lint", None, "no Python file touched"), {}
    old, err_old = violations(before)
    new, err_new = violations(after)
    if err_old or err_new:
        return ComponentScore("lint", None, err_old or err_new or ""), {}
    added = new - old
    n = sum(added.values())
    evidence = {
        "rules": list(RULES),
        "before": sum(old.values()),
        "after": sum(new.values()),
        "new": n,
        "new_violations": sorted(f"{f}:{code}" for (f, code), k in added.items() for _ in range(k)),
    }
    return ComponentScore("lint", round(max(0.0, 1.0 - PENALTY * n), 6)), evidence
