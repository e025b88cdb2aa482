"""A tiny in-memory todo list."""
from todo.models import Task
from todo.store import TaskStore

__all__ = ["Task", "TaskStore"]
