"""Where a YAML syntax error is and what it is, for one-line errors that name ``file:line``. Pure module."""

from __future__ import annotations


def yaml_problem(exc: Exception, text: str) -> tuple[int | None, str]:
    """``(1-based line or None, short problem)`` of a ``yaml.YAMLError`` raised while reading ``text``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    position = getattr(exc, "position", None)
    if mark is not None:
        line: int | None = mark.line + 1
    elif isinstance(position, int):  # yaml.reader.ReaderError: a character YAML refuses
        line = text[:position].count("\n") + 1
    else:
        line = None
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc).splitlines()[0]
    return line, str(problem)
