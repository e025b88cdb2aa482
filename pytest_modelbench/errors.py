"""The package's errors: one root, and the YAML error helper. Pure module (a leaf: imports nothing of ours).

Every exception the package raises on purpose derives from :class:`ModelbenchError`. The ones a user can cause and
fix (a bad option, a broken case file, rubric or manifest, an unusable store, an unknown run) derive from
:class:`UserError`: the plugin turns them into ``pytest.UsageError`` and the command line into
``modelbench: error: ...`` with exit status 2, each in one place. Anything else is a harness fault and keeps its
traceback.
"""

from __future__ import annotations


class ModelbenchError(Exception):
    """Root of every error pytest-modelbench raises on purpose."""


class UserError(ModelbenchError):
    """An error the user caused and can fix; its message names the file, option or field and what was expected."""


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
