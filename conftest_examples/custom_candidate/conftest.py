"""A candidate of your own: ``rules/strip-debug`` edits the workspace with a fixed rule instead of a model.

Any ``pytest_modelbench_replay`` implementation can stand in for a model: it edits the workspace in place and returns
a ReplayResult. It must never execute the workspace's code itself (checks run in the sandbox).
Run: ``pytest --modelbench`` in this folder (it uses the bundled demo sessions).
"""

from __future__ import annotations

from pathlib import Path

from pytest_modelbench.replay import ReplayResult


def pytest_modelbench_replay(config, session, model, workspace: Path):
    if model != "rules/strip-debug":
        return None
    changed = []
    for path in sorted(workspace.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        kept = [line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("print(")]
        if len(kept) != len(text.splitlines(keepends=True)):
            path.write_text("".join(kept), encoding="utf-8")
            changed.append(path.relative_to(workspace).as_posix())
    return ReplayResult(turns=1, cost_usd=0.0, evidence={"mode": "rule", "changed": changed})
