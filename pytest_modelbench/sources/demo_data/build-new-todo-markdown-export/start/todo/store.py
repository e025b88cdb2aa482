"""Task storage."""
from __future__ import annotations

from todo.models import Task


class TaskStore:
    """Keeps tasks in insertion order and hands out increasing ids."""

    def __init__(self) -> None:
        self._tasks: dict[int, Task] = {}

    def add(self, title: str, tags: list[str] | None = None) -> Task:
        task = Task(len(self._tasks) + 1, title, tags=list(tags or []))
        self._tasks[task.id] = task
        return task

    def complete(self, task_id: int) -> None:
        self._tasks[task_id].done = True

    def all(self) -> list[Task]:
        return list(self._tasks.values())
