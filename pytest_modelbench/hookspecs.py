"""Every ``pytest_modelbench_*`` hook, documented like an API.

Register implementations in a ``conftest.py`` or a plugin. Built-in behaviour (the bundled sources, the reference
candidates, the runners, the tests component) is implemented through these same hooks in
``pytest_modelbench/run/builtin.py``, so a plugin can override any of it with ``tryfirst=True``.

The hooks run only when ``--modelbench`` is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_modelbench.records import ComponentScore, Outcome, Session
    from pytest_modelbench.replay import ReplayResult
    from pytest_modelbench.runners import Runner
    from pytest_modelbench.scoring.context import ScoreContext
    from pytest_modelbench.sources import Source


@pytest.hookspec(firstresult=True)
def pytest_modelbench_source(config: pytest.Config, spec: str) -> Source | None:
    """Return a :class:`~pytest_modelbench.sources.Source` for one ``--sessions`` value, or None.

    Called once per ``--sessions`` value, on the controller and on every xdist worker; must be deterministic.
    The first non-None result wins. Example::

        def pytest_modelbench_source(config, spec):
            if spec == "my-tasks":
                return StaticSource("my-tasks", tuple(load_my_tasks()))
    """


@pytest.hookspec(firstresult=True)
def pytest_modelbench_sample(
    config: pytest.Config, source: Source, sessions: list[Session], size: int | None, seed: int
) -> list[Session] | None:
    """Choose the sessions of ``source`` to run. ``size`` None or 0 means all.

    Must be deterministic for a given seed (workers sample independently). The built-in implementation is
    :func:`pytest_modelbench.sampling.sample.stratified_sample`.
    """


@pytest.hookspec(firstresult=True)
def pytest_modelbench_make_runner(config: pytest.Config, kind: str) -> tuple[Runner, str | None] | None:
    """Return ``(runner, warning)`` for ``--runner kind`` (``auto``, ``bwrap`` or ``local``).

    Called once per process. ``warning`` (or None) is shown once in the terminal summary.
    """


@pytest.hookspec(firstresult=True)
def pytest_modelbench_replay(
    config: pytest.Config, session: Session, model: str, workspace: Path, repeat_index: int
) -> ReplayResult | None:
    """Let candidate ``model`` work on ``session`` by editing ``workspace`` in place; return a ReplayResult.

    Return None when this implementation does not handle ``model``. Runs on the worker that owns the item.
    ``repeat_index`` is 0..K-1 under ``--repeats K`` (0 otherwise); implementations may leave it out of their
    signature. The built-in model replay sends it with each call, so repeats are distinct samples (seed + index)
    and distinct cache entries.
    Model-written code must never be executed here: run it through a Runner. Example (a candidate that
    writes one file)::

        def pytest_modelbench_replay(config, session, model, workspace):
            if model == "mine/constant":
                (workspace / "answer.py").write_text("ANSWER = 42\\n")
                return ReplayResult(turns=1, cost_usd=0.0)
    """


@pytest.hookspec
def pytest_modelbench_score(config: pytest.Config, context: ScoreContext) -> list[ComponentScore] | None:
    """Measure rubric components for one replay; return a list of ComponentScore (or None).

    Every implementation is called; results are merged by component name (a later implementation does not
    override an earlier one's component). Components named in the rubric but measured by nobody are recorded as
    missing. Put evidence in ``context.evidence`` (a dict stored with the outcome).
    """


@pytest.hookspec
def pytest_modelbench_outcome(config: pytest.Config, outcome: Outcome) -> None:
    """Called on the controller after an outcome has been committed to the store (xdist-safe)."""


@pytest.hookspec
def pytest_modelbench_update_json(config: pytest.Config, artifact: dict[str, Any]) -> None:
    """Change the JSON artifact in place just before it is written (add your own keys under ``extra``)."""
