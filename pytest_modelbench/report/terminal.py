"""The terminal leaderboard printed after pytest's summary.

Takes data, not the run's session object: a :class:`RunSummary` the plugin builds at the end of a run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_modelbench.analysis.leaderboard import (
    RANK_RULE,
    ModelRow,
    intent_rows,
    invalid_sessions,
    model_rows,
    tampered_outcomes,
)
from pytest_modelbench.records import Outcome
from pytest_modelbench.report import CAVEAT
from pytest_modelbench.report.tables import (
    COMPACT_ALIGN,
    compact_leaderboard_table,
    intent_table,
    leaderboard_table,
    pipe_table,
)
from pytest_modelbench.report.tables import fmt as _f

if TYPE_CHECKING:
    from pytest_modelbench.analysis.gate import GateResult
    from pytest_modelbench.analysis.recommend import Recommendation

HOW_TO_ADD_MODELS = (
    "modelbench: running the reference candidates replay/gold and replay/noop only; add real models with "
    "--models (or ini modelbench_models)."
)


@dataclass(frozen=True)
class RunSummary:
    """What the end-of-run summary shows of a finished run."""

    run_id: str
    outcomes: Sequence[Outcome]  # in the order they arrived (resumed ones first)
    models: Sequence[str]
    rubric_name: str
    rubric_version: int | str
    runner: str
    sessions: int  # in this run (this shard's, with --modelbench-shard)
    store: Path
    shard: Mapping[str, Any] | None = None
    judge: str | None = None
    models_configured: bool = True
    recommendations: Sequence[Recommendation] = ()
    budget: Mapping[str, Any] | None = None  # the artifact's budget when the door to the models was open
    runner_warning: str | None = None
    artifact_path: Path | None = None
    notes: Sequence[str] = ()  # where the HTML report and step summary went
    warnings: Sequence[str] = ()  # what could not be written
    resumed: int = 0  # items reused from the store with --modelbench-resume
    wide: bool = False  # every column (-v or --modelbench-wide); the default table fits 120 columns


RANK_RULE_SHORT = ("rank: by mean combined score (0-1), then solve rate, then change in tests; every column with -v or "
                   "--modelbench-wide")


def status_line(spent_usd: float, cap_usd: float | None, in_flight: int, retries_waiting: int,
                cache_hits: int) -> str:
    """The live line while models are called: what is spent against the cap, and what the door is doing now."""
    cap = "no cap" if cap_usd is None else f"cap ${cap_usd:.4f}"
    return (f"modelbench live: spent ${spent_usd:.4f} / {cap} · {in_flight} call(s) in flight · "
            f"{retries_waiting} retr{'y' if retries_waiting == 1 else 'ies'} waiting · {cache_hits} cache hit(s)")


def repeat_lines(rows: list[ModelRow]) -> list[str]:
    """With ``--repeats K``: pass@k and the spread of combined across one session's repeats, per model."""
    lines = []
    for r in rows:
        if r.repeats > 1:
            passes = ", ".join(f"pass@{k} {v:.2f}" for k, v in r.pass_at_k.items())
            lines.append(f"  {r.model}: {passes}; spread of combined across repeats: mean SD {_f(r.spread_sd, 3)}, "
                         f"max range {_f(r.spread_range, 3)}")
    return [f"repeats (up to {max(r.repeats for r in rows)} per session):", *lines] if lines else []


def recommendation_lines(recommendations: list[Recommendation]) -> list[str]:
    """One line per intent: the recommended model with confidence and evidence, or "insufficient evidence"."""
    return [f"  {rec.text()}" for rec in recommendations]


def render_summary(tr: Any, run: RunSummary) -> None:
    """The leaderboard, per-intent table, recommendations and the run's facts, on pytest's terminal reporter."""
    from tabulate import tabulate

    outcomes = run.outcomes
    rows = model_rows(outcomes, run.models)
    tr.write_sep("=", f"modelbench leaderboard — run {run.run_id}")
    if run.wide:
        headers, body = leaderboard_table(rows)
        tr.write_line(tabulate(body, headers=headers, tablefmt="github"))
    else:
        headers, body = compact_leaderboard_table(rows)
        tr.write_line(pipe_table(headers, body, COMPACT_ALIGN))
    tr.write_line(RANK_RULE if run.wide else RANK_RULE_SHORT)
    intents = intent_rows(outcomes)
    if intents:
        tr.write_line("")
        tr.write_line("per intent:")
        headers, body = intent_table(intents)
        tr.write_line(tabulate(body, headers=headers, tablefmt="github"))
    recommendations = list(run.recommendations)
    if recommendations:
        tr.write_line("")
        tr.write_line(f"recommendation per intent (floor: {recommendations[0].floor} scored replays per model):")
        for line in recommendation_lines(recommendations):
            tr.write_line(line)
    repeats = repeat_lines(rows)
    if repeats:
        tr.write_line("")
        for line in repeats:
            tr.write_line(line)
    invalid = invalid_sessions(outcomes)
    if invalid:
        tr.write_line("")
        tr.write_line(f"left out of the leaderboard ({len(invalid)} invalid session(s)):")
        for entry in invalid:
            tr.write_line(f"  {entry['session']}: {entry['reason']}")
    tampered = tampered_outcomes(outcomes)
    if tampered:
        tr.write_line("")
        tr.write_line(f"tampered ({len(tampered)}): the code under test forged its check result; not solved, "
                      "tests 0:")
        for entry in tampered:
            tr.write_line(f"  {entry['model']} on {entry['session']}: {entry['evidence']}", red=True)
    tr.write_line("")
    if not run.wide:
        tr.write_line("per model, also: static, llm and cost scores, total $, median s, turns, skipped (-v)")
    tr.write_line(f"rubric: {run.rubric_name} v{run.rubric_version}; runner: {run.runner}; "
                  f"sessions: {run.sessions}; models: {len(run.models)}")
    shard = run.shard
    if shard:
        tr.write_line(f"shard {shard['index']}/{shard['count']}: {run.sessions} of the sample's "
                      f"{shard['sample_sessions']} session(s); join all shards' artifacts with modelbench merge")
    for line in _grading_lines(rows, outcomes):
        tr.write_line(line)
    if run.judge and run.judge in run.models:
        tr.write_line(f"warning: the judge {run.judge} is also a candidate: it grades its own work", yellow=True)
    if run.budget is not None:
        budget = run.budget
        cap = "none" if budget.get("cap_usd") is None else f"${budget['cap_usd']:.4f}"
        tr.write_line(f"budget: cap {cap}, spent ${budget.get('spent_usd', 0.0):.4f} "
                      f"(judge ${budget.get('judge_spent_usd', 0.0):.4f}), skipped "
                      f"{budget.get('skipped', 0)} (cancelled-over-budget); model requests sent "
                      f"{budget.get('requests_sent', 0)}, cache hits {budget.get('cache_hits', 0)}")
    if any(o.evidence.get("replay", {}).get("leaks_test_output") for o in outcomes):
        tr.write_line("note: iterative replays saw the check's failing output (leaks test output)")
    if run.runner_warning:
        tr.write_line(f"warning: {run.runner_warning}", yellow=True)
    if not run.models_configured:
        tr.write_line(HOW_TO_ADD_MODELS)
    tr.write_line(f"store: {run.store}")
    if run.artifact_path is not None:
        tr.write_line(f"artifact: {run.artifact_path}")
    for note in run.notes:
        tr.write_line(note)
    for warning in run.warnings:
        tr.write_line(f"warning: {warning}", yellow=True)
    tr.write_line(CAVEAT)
    if run.resumed:
        tr.write_line(f"modelbench: resumed run {run.run_id}: {run.resumed} complete item(s) reused from the store "
                      f"(deselected), {len(outcomes) - run.resumed} run now")


def _grading_lines(rows: Sequence[ModelRow], outcomes: Sequence[Outcome]) -> list[str]:
    """Grading coverage (the share of scored outcomes in which each component is present) and why any is missing."""
    lines = []
    names = sorted({name for r in rows for name in r.coverage})
    if names:
        everywhere, partly, nowhere = [], [], []
        for name in names:
            shares = [r.coverage.get(name, 0.0) for r in rows if r.n]
            if shares and min(shares) == 1.0:
                everywhere.append(name)
            elif not shares or max(shares) == 0.0:
                nowhere.append(name)
            else:
                low, high = 100 * min(shares), 100 * max(shares)
                partly.append(f"{name} in {low:.0f}%" if low == high else f"{name} in {low:.0f}-{high:.0f}%")
        parts = []
        if everywhere:
            parts.append("every scored replay was graded on " + ", ".join(everywhere))
        if partly:
            parts.append("only some on " + ", ".join(partly) + " (per model)")
        if nowhere:
            parts.append("none on " + ", ".join(nowhere))
        lines.append("grading coverage: " + "; ".join(parts) + " (a missing component is left out, never guessed)")
    reasons = sorted({f"{c.name}: {c.reason}" for o in outcomes for c in o.components if not c.present})
    if reasons:
        lines.append("missing components (never imputed): " + "; ".join(reasons[:8])
                     + (" ..." if len(reasons) > 8 else ""))
    return lines


def render_gate(tr: Any, gate: GateResult) -> None:
    """The "modelbench regressions" section: model, metric, baseline, current, delta and the evidence."""
    for warning in gate.warnings:
        tr.write_line(f"warning: {warning}", yellow=True)
    for note in gate.notes:
        tr.write_line(f"modelbench gate: {note}")
    if not gate.regressions:
        return
    from tabulate import tabulate

    tr.write_sep("=", f"modelbench regressions ({len(gate.regressions)})", red=True)
    body = [[r.model, r.metric, f"{r.baseline:.3f}", f"{r.current:.3f}", f"{r.delta:+.3f}", r.evidence_text()]
            for r in gate.regressions]
    tr.write_line(tabulate(body, headers=["model", "metric", "baseline", "current", "delta", "evidence"],
                           tablefmt="github"))


__all__ = ["HOW_TO_ADD_MODELS", "RunSummary", "intent_table", "leaderboard_table", "recommendation_lines",
           "render_gate", "render_summary", "repeat_lines", "status_line"]
