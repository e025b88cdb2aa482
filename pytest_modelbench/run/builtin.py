"""Built-in implementations of the ``pytest_modelbench_*`` hooks (registered only when ``--modelbench`` is on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_modelbench.records import ComponentScore, Session
from pytest_modelbench.replay import ReplayResult
from pytest_modelbench.replay.reference import replay_reference
from pytest_modelbench.run.stash import bench_of
from pytest_modelbench.runners import Runner, make_runner
from pytest_modelbench.sampling.sample import stratified_sample
from pytest_modelbench.scoring.context import ScoreContext
from pytest_modelbench.sources import Source, builtin_source


@pytest.hookimpl(trylast=True)
def pytest_modelbench_source(config: pytest.Config, spec: str) -> Source | None:
    from pytest_modelbench.run.options import project_root

    # A path typed on the command line is relative to where pytest was started; one from the ini file to its folder.
    # Never config.rootpath: pytest moves it toward path-like option values such as this one.
    base = Path(config.invocation_params.dir)
    if not (base / Path(spec).expanduser()).exists():
        base = project_root(config)
    return builtin_source(spec, base)


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
    config: pytest.Config, session: Session, model: str, workspace: Path, repeat_index: int = 0
) -> ReplayResult | None:
    reference = replay_reference(model, session, workspace)
    if reference is not None:
        return reference
    from pytest_modelbench.replay.modes import ReplayConfig, replay_with_model
    from pytest_modelbench.run.broker import calls_ahead_for, precheck

    bench = bench_of(config)
    refused = precheck(bench, model, ahead=calls_ahead_for(bench, session, model))
    if refused is not None:  # a cloud model without --allow-cloud, or the cap already reached: no call at all
        status, reason = refused
        return ReplayResult(turns=0, cost_usd=0.0, evidence={"precheck": reason, "model_calls": 0}, status=status,
                            reason=reason)
    prepared = bench.cache.prepare(session, bench.checker)  # cached: a file read
    ms = bench.settings.model_settings.get(model)
    replay_config = ReplayConfig(mode=bench.settings.replay_mode, max_iterations=bench.settings.max_iterations,
                                 max_turns=bench.settings.max_turns, tool_protocol=ms.tools if ms else "native")
    client = bench.client if not repeat_index else bench.client.for_repeat(repeat_index)
    return replay_with_model(session, model, workspace, client=client, runner=bench.runner,
                             checker=bench.checker, pristine=prepared.pristine, config=replay_config)


def pytest_modelbench_score(config: pytest.Config, context: ScoreContext) -> list[ComponentScore]:
    """The rubric's measured components: tests, lint, complexity, types, coverage (scoring/static.py) and the judge.

    The cost component needs every candidate of the session and is computed on the controller.
    """
    from pytest_modelbench.scoring.judge import score_judge
    from pytest_modelbench.scoring.static import static_components, wanted_components

    scores = static_components(context)
    wanted = wanted_components(context)
    if "llm" in wanted:
        bench = bench_of(config)
        judge = bench.settings.judge
        client = bench.client if judge else None
        component, evidence = score_judge(client, judge, context.session.prompt, context.diff)
        context.evidence["llm"] = evidence
        scores.append(component)
    return scores
