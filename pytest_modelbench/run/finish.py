"""The end of a run on the controller: the gates, the store's run row, the artifact and the reports.

Part of the pytest layer (reads the run state and sets pytest's exit status); what it writes is built by pure
modules from data: ``store/artifact.build_artifact`` from a :class:`RunFacts`, the HTML report and step summary
(``report/finish.py``) from the artifact, the terminal summary from a :class:`RunSummary`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest

from pytest_modelbench.records import Outcome
from pytest_modelbench.sampling.plan import manifest_identity

if TYPE_CHECKING:
    from pytest_modelbench.report.terminal import RunSummary
    from pytest_modelbench.run.session import BenchmarkSession
    from pytest_modelbench.store.artifact import RunFacts


def finish_run(bench: BenchmarkSession, session: pytest.Session, exitstatus: int) -> None:
    """Score cost where a session's candidates did not all report, gate, close the run row, write the artifact
    (after ``pytest_modelbench_update_json``) and the reports."""
    from pytest_modelbench.analysis.recommend import recommend
    from pytest_modelbench.report.finish import write_outputs
    from pytest_modelbench.sampling.shards import total_cost
    from pytest_modelbench.store.artifact import build_artifact, default_artifact_path, write_artifact

    assert bench.store is not None  # the controller's, checked by pytest_sessionfinish
    # Sessions whose candidates did not all run (-k, --lf, interruptions): cost among those that did.
    for key in sorted({(o.session_key, o.repeat_index) for o in bench.outcomes}):
        bench.score_cost(*key)
    if bench.resumed and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK  # a resumed run with nothing left to do is done, not empty
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    outcomes = sorted(bench.outcomes, key=lambda o: (o.session_key, o.model, o.repeat_index))
    status = "failed" if interrupted or exitstatus == pytest.ExitCode.INTERNAL_ERROR else "complete"
    if status == "complete":
        run_gate(bench, session, exitstatus, outcomes)
    bench.store.finish_run(bench.run_id, status, total_cost(outcomes),
                           sorted({o.session_key for o in outcomes}) or None)
    if bench.broker is not None:
        bench.budget_final = bench.broker.dispatch({"op": "budget"})
        bench.fingerprints = bench.broker.dispatch({"op": "fingerprints"})["fingerprints"]
        bench.broker_stats = bench.broker.dispatch({"op": "stats"})
    bench.recommendations = recommend(outcomes, run_id=bench.run_id)
    gate = bench.gate
    artifact = build_artifact(
        run_facts(bench), outcomes, status=status, interrupted=interrupted,
        recommendations=[r.to_dict() for r in bench.recommendations],
        regressions=gate.artifact_entries() if gate is not None else (),
        warnings=gate.warnings if gate is not None else ()).to_dict()
    bench.config.hook.pytest_modelbench_update_json(config=bench.config, artifact=artifact)
    bench.artifact_path = bench.settings.json_path or default_artifact_path(bench.settings.store, bench.run_id)
    write_artifact(artifact, bench.artifact_path)
    bench.artifact = artifact
    bench.report_notes = write_outputs(artifact, bench.store, bench.run_id, bench.settings.html_path)


def run_gate(bench: BenchmarkSession, session: pytest.Session, exitstatus: int, outcomes: Sequence[Outcome]) -> None:
    """The regression gate and the trend gate; any regression fails an otherwise green run (exit status 1)."""
    from pytest_modelbench.analysis.gate import evaluate

    assert bench.store is not None  # called by finish_run, after the store is checked
    s = bench.settings
    manifest = manifest_identity(s.sample_manifest)
    fingerprints = bench.broker.dispatch({"op": "fingerprints"})["fingerprints"] if bench.broker is not None else {}
    bench.gate = evaluate(
        bench.store, bench.run_id, outcomes, bench.rubric.version, manifest["sha256"] if manifest else None,
        baseline=bench.baseline, baseline_spec=s.baseline, tolerance=s.tolerance, force=s.force_compare,
        seed=s.sample_seed, trend_window=s.trend_window, trend_threshold=s.trend_threshold,
        fingerprints=fingerprints, solve_tolerance=s.solve_tolerance)
    if bench.gate.regressions and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def run_facts(bench: BenchmarkSession) -> RunFacts:
    """What the artifact is built from, besides the outcomes."""
    from pytest_modelbench.store.artifact import RunFacts, ahead_warning, door_warning, judge_warning

    s = bench.settings
    return RunFacts(
        run_id=bench.run_id, name=s.name, started=bench.started, config=bench.run_config(), models=s.models,
        sessions=bench.plan.sessions, budget_cap_usd=s.budget_cap_usd, ledger=bench.budget_final or {},
        fingerprints=bench.fingerprints, broker_stats=bench.broker_stats,
        settings={m: bench.broker.door.candidate_settings(m) for m in s.models if not m.startswith("replay/")}
        if bench.broker is not None else {},
        warnings=[w for w in (bench.runner_warning, judge_warning(s.judge, s.models), door_warning(bench.broker_stats),
                              ahead_warning(bench.broker_stats)) if w])


def run_summary(bench: BenchmarkSession) -> RunSummary:
    """The finished run as the terminal summary shows it."""
    from pytest_modelbench.report.terminal import RunSummary

    s = bench.settings
    notes, warnings = bench.report_notes
    budget: dict[str, Any] | None = bench.artifact.get("budget", {}) if bench.broker is not None else None
    return RunSummary(
        run_id=bench.run_id, outcomes=tuple(bench.outcomes), models=s.models, rubric_name=bench.rubric.name,
        rubric_version=bench.rubric.version, runner=bench.runner.name, sessions=len(bench.plan.sessions),
        store=s.store, shard=bench.plan.shard, judge=s.judge, models_configured=s.models_configured,
        recommendations=tuple(bench.recommendations), budget=budget, runner_warning=bench.runner_warning,
        artifact_path=bench.artifact_path, notes=tuple(notes), warnings=tuple(warnings), resumed=len(bench.resumed),
        wide=bool(bench.config.getoption("modelbench_wide")) or bench.config.get_verbosity() > 0)


__all__ = ["finish_run", "run_facts", "run_gate", "run_summary"]
