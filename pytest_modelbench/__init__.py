"""pytest-modelbench: replay your own coding-agent sessions against candidate models and score every replay.

Public API only; nothing heavy is imported here (the plugin must cost nothing while ``--modelbench`` is off).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"


def recommend_model_for_task(task_pattern: str, intent: str | None = None,
                             store: str | Path | None = None) -> dict[str, Any]:
    """Which model to use for a kind of task, from the benchmark history in ``store``.

    ``task_pattern`` is an intent name (``fix-bug``, ``refactor``, ``build-new``, ...) or a task description that the
    intent rules classify; ``intent`` overrides both. ``store`` defaults to ``.modelbench/modelbench.db`` under the
    current directory. Returns what ``modelbench recommend --task-pattern P --json`` prints: ``model`` (None when
    the evidence is insufficient), ``confidence`` (none/low/medium/high), ``combined`` and its 95% interval, ``n``,
    ``evidence_runs``, ``reason``, plus ``task_pattern``, ``intent_from`` and ``history`` (the runs read).
    Raises ValueError for an unknown intent or an empty pattern. :data:`RECOMMEND_TOOL_SCHEMA` describes this
    function as an OpenAI-style tool.
    """
    from pytest_modelbench.analysis.recommend import recommendation_for_task

    return recommendation_for_task(task_pattern, intent, Path(store) if store is not None else None)


def __getattr__(name: str) -> Any:
    # The tool schema is read from the JSON file shipped in pytest_modelbench/schemas/ (one source) on first use.
    if name == "RECOMMEND_TOOL_SCHEMA":
        import json
        from importlib import resources

        return json.loads(resources.files("pytest_modelbench.schemas").joinpath("recommend_tool.json").read_text())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RECOMMEND_TOOL_SCHEMA", "__version__", "recommend_model_for_task"]
