"""The terminal leaderboard printed after pytest's summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_modelbench.analysis.leaderboard import (
    RANK_RULE,
    IntentRow,
    ModelRow,
    intent_rows,
    invalid_sessions,
    model_rows,
)
from pytest_modelbench.report.formats import fixed as _f
from pytest_modelbench.report.formats import usd as _usd

if TYPE_CHECKING:
    from pytest_modelbench.analysis.gate import GateResult
    from pytest_modelbench.analysis.recommend import Recommendation
    from pytest_modelbench.run.session import BenchmarkSession


def leaderboard_table(rows: list[ModelRow]) -> tuple[list[str], list[list[Any]]]:
    headers = ["rank", "model", "n", "solved", "solve rate [95% CI]", "static", "llm", "cost", "combined [95% CI]",
               "total $", "$/solved", "median s", "turns", "skipped", "errors"]
    body = []
    for r in rows:
        rate = "—" if r.solve_rate is None else f"{r.solve_rate:.2f} [{r.solve_rate_low:.2f}, {r.solve_rate_high:.2f}]"
        combined = (_f(r.combined) if r.combined is None or r.combined_low is None
                    else f"{r.combined:.2f} [{r.combined_low:.2f}, {r.combined_high:.2f}]")
        body.append([r.rank, r.model, r.n, r.solved, rate, _f(r.static), _f(r.llm), _f(r.cost_score),
                     combined, _usd(r.total_cost_usd), "—" if r.cost_per_solved_usd is None
                     else _usd(r.cost_per_solved_usd), _f(r.median_seconds), _f(r.mean_turns, 1), r.skipped,
                     r.errors])
    return headers, body


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


def intent_table(rows: list[IntentRow]) -> tuple[list[str], list[list[Any]]]:
    headers = ["intent", "model", "n", "solved", "solve rate", "combined"]
    return headers, [[r.intent, r.model, r.n, r.solved, _f(r.solve_rate), _f(r.combined)] for r in rows]


def render_summary(tr: Any, bench: BenchmarkSession) -> None:
    from tabulate import tabulate

    from pytest_modelbench.run.session import CAVEAT, HOW_TO_ADD_MODELS

    outcomes = bench.outcomes
    tr.write_sep("=", f"modelbench leaderboard — run {bench.run_id}")
    headers, body = leaderboard_table(model_rows(outcomes, bench.settings.models))
    tr.write_line(tabulate(body, headers=headers, tablefmt="github"))
    tr.write_line(RANK_RULE)
    intents = intent_rows(outcomes)
    if intents:
        tr.write_line("")
        tr.write_line("per intent:")
        headers, body = intent_table(intents)
        tr.write_line(tabulate(body, headers=headers, tablefmt="github"))
    recommendations = getattr(bench, "recommendations", None)
    if recommendations:
        tr.write_line("")
        tr.write_line(f"recommendation per intent (floor: {recommendations[0].floor} scored replays per model):")
        for line in recommendation_lines(recommendations):
            tr.write_line(line)
    repeats = repeat_lines(model_rows(outcomes, bench.settings.models))
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
    tr.write_line("")
    rubric = bench.rubric
    tr.write_line(f"rubric: {rubric.name} v{rubric.version}; runner: {bench.runner.name}; "
                  f"sessions: {len(bench.plan.sessions)}; models: {len(bench.settings.models)}")
    shard = bench.plan.shard
    if shard:
        tr.write_line(f"shard {shard['index']}/{shard['count']}: {len(bench.plan.sessions)} of the sample's "
                      f"{shard['sample_sessions']} session(s); join all shards' artifacts with modelbench merge")
    rows = model_rows(outcomes, bench.settings.models)
    names = sorted({name for r in rows for name in r.coverage})
    if names:
        # Grading coverage: the share of scored outcomes in which each component is present.
        cells = []
        for name in names:
            shares = [r.coverage.get(name, 0.0) for r in rows if r.n]
            cells.append(f"{name} {100 * min(shares):.0f}%" if shares and min(shares) == max(shares)
                         else f"{name} {100 * min(shares):.0f}-{100 * max(shares):.0f}%")
        tr.write_line("grading coverage: " + ", ".join(cells))
    reasons = sorted({f"{c.name}: {c.reason}" for o in outcomes for c in o.components if not c.present})
    if reasons:
        tr.write_line("missing components (never imputed): " + "; ".join(reasons[:8])
                      + (" ..." if len(reasons) > 8 else ""))
    if bench.settings.judge and bench.settings.judge in bench.settings.models:
        tr.write_line(f"warning: the judge {bench.settings.judge} is also a candidate: it grades its own work",
                      yellow=True)
    budget = bench.artifact.get("budget", {}) if getattr(bench, "artifact", None) else {}
    if bench.broker is not None:
        cap = "none" if budget.get("cap_usd") is None else f"${budget['cap_usd']:.4f}"
        tr.write_line(f"budget: cap {cap}, spent ${budget.get('spent_usd', 0.0):.4f} "
                      f"(judge ${budget.get('judge_spent_usd', 0.0):.4f}), skipped "
                      f"{budget.get('skipped', 0)} (cancelled-over-budget); model requests sent "
                      f"{budget.get('requests_sent', 0)}, cache hits {budget.get('cache_hits', 0)}")
    if any(o.evidence.get("replay", {}).get("leaks_test_output") for o in outcomes):
        tr.write_line("note: iterative replays saw the check's failing output (leaks test output)")
    if bench.runner_warning:
        tr.write_line(f"warning: {bench.runner_warning}", yellow=True)
    if not bench.settings.models_configured:
        tr.write_line(HOW_TO_ADD_MODELS)
    tr.write_line(f"store: {bench.settings.store}")
    if bench.artifact_path is not None:
        tr.write_line(f"artifact: {bench.artifact_path}")
    notes, warnings = getattr(bench, "report_notes", ([], []))
    for note in notes:
        tr.write_line(note)
    for warning in warnings:
        tr.write_line(f"warning: {warning}", yellow=True)
    tr.write_line(CAVEAT)


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

