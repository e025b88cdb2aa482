"""Export tasks to other formats."""
from __future__ import annotations

from collections.abc import Iterable

from todo.models import Task


def to_markdown(tasks: Iterable[Task]) -> str:
    """Render *tasks* as a GitHub-style Markdown checklist.

    Each task becomes ``- [x] Title #tag1 #tag2`` (``[ ]`` when not done).
    Returns an empty string when there are no tasks.
    """
    lines = []
    for task in tasks:
        box = "x" if task.done else " "
        tags = "".join(f" #{tag}" for tag in task.tags)
        lines.append(f"- [{box}] {task.title}{tags}")
    return "\n".join(lines)
