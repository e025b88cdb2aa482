"""Built-in implementations of the ``pytest_modelbench_*`` hooks (registered only when ``--modelbench`` is on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .records import ComponentScore, Session
from .replay import ReplayResult
from .replay.reference import replay_reference
from .runners import Runner, make_runner
from .sampling import stratified_sample
from .scoring.context import ScoreContext
from .scoring.tests import score_tests
from .sources import Source, builtin_source


@pytest.hookimpl(trylast=True)
def pytest_modelbench_source(config: pytest.Config, spec: str) -> Source | None:
    return builtin_source(spec, config.rootpath)


@pytest.hookimpl(trylast=True)
def pytest_modelbench_sample(
    config: pytest.Config, source: Source, sessions: list[Session], size: int | None, seed: int
) -> list[Session]:
    return stratified_sample(sessions, size, seed)


@pytest.hookimpl(trylast=True)
def pytest_modelbench_make_runner(config: pytest.Config, kind: str) -> tuple[Runner, str | None]:
    return make_runner(kind)


@pytest.hookimpl(trylast=True)
def pytest_modelbench_replay(
    config: pytest.Config, session: Session, model: str, workspace: Path
) -> ReplayResult | None:
    return replay_reference(model, session, workspace)


def pytest_modelbench_score(config: pytest.Config, context: ScoreContext) -> list[ComponentScore]:
    component, evidence = score_tests(context.before, context.after)
    context.evidence["tests"] = evidence
    return [component]
