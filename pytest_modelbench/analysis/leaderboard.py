"""The one leaderboard computation. Terminal, JSON artifact and CLI all read these aggregates."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_modelbench.analysis.stats import bootstrap_mean_ci, pass_at_k, wilson_interval
from pytest_modelbench.records import Outcome

# What a rank means, printed under every leaderboard (terminal, HTML report).
RANK_RULE = ("rank: by mean combined score (0-1; rubric v2 gives 0 to a replay that neither solves its session nor "
             "improves a test), ties broken by solve rate, then by the mean change in tests (a replay that breaks "
             "tests ranks below one that does nothing); $/solved = total $ / solved sessions")


@dataclass(frozen=True)
class ModelRow:
    rank: int
    model: str
    n: int  # scored replays (status complete)
    solved: int
    solve_rate: float | None
    solve_rate_low: float | None
    solve_rate_high: float | None
    static: float | None
    llm: float | None
    cost_score: float | None
    combined: float | None
    total_cost_usd: float | None
    cost_per_solved_usd: float | None
    median_seconds: float | None
    mean_turns: float | None
    skipped: int
    errors: int
    coverage: dict[str, float]  # share of scored outcomes with each component present
    combined_low: float | None = None  # seeded percentile bootstrap 95% interval of the mean combined
    combined_high: float | None = None
    repeats: int = 1  # the most scored attempts of any one session (--repeats K)
    pass_at_k: dict[str, float] = field(default_factory=dict)  # "k" -> unbiased pass@k over sessions with >= k
    spread_sd: float | None = None  # mean over sessions of the SD of combined across repeats (None: K = 1)
    spread_range: float | None = None  # the largest max-min of combined across one session's repeats
    tests_change: float | None = None  # mean signed test_pass_delta (rubric v2: fixed - broken, over tests to fix)
    tampered: int = 0  # scored replays whose check result was forged and caught (never solved; docs/verdicts.md)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IntentRow:
    intent: str
    model: str
    n: int
    solved: int
    solve_rate: float | None
    combined: float | None


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 6) if present else None


def _component(outcome: Outcome, name: str) -> float | None:
    for c in outcome.components:
        if c.name == name:
            return c.value
    return None


def _tests_change(outcome: Outcome) -> float | None:
    value = (outcome.evidence.get("tests") or {}).get("test_pass_delta")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def tampered_evidence(outcome: Outcome) -> str:
    """What the harness expected and got when the code under test forged its check result, else ""."""
    after = (outcome.evidence.get("tests") or {}).get("after") or {}
    return str(after.get("tampered") or "")


def tampered_outcomes(outcomes: Sequence[Outcome]) -> list[dict[str, str]]:
    """Every replay caught forging its verdict, with the evidence (the leaderboard lists them under the table)."""
    return [{"session": o.session_key, "model": o.model, "evidence": tampered_evidence(o)}
            for o in sorted(outcomes, key=lambda o: (o.model, o.session_key, o.repeat_index))
            if tampered_evidence(o)]


def _repeat_stats(scored: Sequence[Outcome]) -> dict[str, Any]:
    """pass@k for k = 1..K and the spread of combined across repeats of one session (``--repeats K``)."""
    by_session: dict[str, list[Outcome]] = {}
    for o in scored:
        by_session.setdefault(o.session_key, []).append(o)
    if not by_session:
        return {"repeats": 1, "pass_at_k": {}, "spread_sd": None, "spread_range": None}
    most = max(len(v) for v in by_session.values())
    passes = {}
    for k in range(1, most + 1):
        values = [pass_at_k(len(v), sum(1 for o in v if o.solved), k) for v in by_session.values() if len(v) >= k]
        passes[str(k)] = round(statistics.fmean(values), 6)
    combos = [[o.combined_score for o in v if o.combined_score is not None] for v in by_session.values()]
    combos = [c for c in combos if len(c) >= 2]
    return {
        "repeats": most,
        "pass_at_k": passes,
        "spread_sd": round(statistics.fmean(statistics.pstdev(c) for c in combos), 6) if combos else None,
        "spread_range": round(max(max(c) - min(c) for c in combos), 6) if combos else None,
    }


def model_rows(outcomes: Sequence[Outcome], models: Sequence[str] | None = None, seed: int = 0) -> list[ModelRow]:
    """Aggregate per model, ranked by combined score, then solve rate, then the mean change in tests, then name
    (deterministic; :data:`RANK_RULE` says it in words).

    The interval of the mean combined is a percentile bootstrap with a fixed ``seed``: the same outcomes always give
    the same bytes."""
    by_model: dict[str, list[Outcome]] = {m: [] for m in models or ()}
    for o in outcomes:
        by_model.setdefault(o.model, []).append(o)
    rows = []
    for model, items in by_model.items():
        scored = [o for o in items if o.status == "complete"]
        solved = sum(1 for o in scored if o.solved)
        interval = wilson_interval(solved, len(scored))
        costs = [o.cost_usd for o in scored]
        total = None if any(c is None for c in costs) else round(sum(c for c in costs if c is not None), 6)
        combined = sorted(o.combined_score for o in scored if o.combined_score is not None)
        ci = bootstrap_mean_ci(combined, seed=seed)
        names = sorted({c.name for o in scored for c in o.components})
        coverage = {
            name: round(sum(1 for o in scored if _component(o, name) is not None) / len(scored), 6)
            for name in names
        } if scored else {}
        rows.append(dict(
            model=model,
            n=len(scored),
            solved=solved,
            solve_rate=round(solved / len(scored), 6) if scored else None,
            solve_rate_low=round(interval[0], 6) if interval else None,
            solve_rate_high=round(interval[1], 6) if interval else None,
            static=_mean(o.static_score for o in scored),
            llm=_mean(o.llm_score for o in scored),
            cost_score=_mean(_component(o, "cost") for o in scored),
            combined=_mean(o.combined_score for o in scored),
            total_cost_usd=total,
            cost_per_solved_usd=round(total / solved, 6) if total is not None and solved else None,
            median_seconds=round(statistics.median(o.duration_seconds for o in scored), 3) if scored else None,
            mean_turns=_mean(o.num_turns for o in scored),
            skipped=sum(1 for o in items if o.status in ("skipped", "cancelled-over-budget")),
            errors=sum(1 for o in items if o.status == "failed"),
            tampered=sum(1 for o in scored if tampered_evidence(o)),
            coverage=coverage,
            combined_low=ci[0] if ci else None,
            combined_high=ci[1] if ci else None,
            tests_change=_mean(_tests_change(o) for o in scored),
            **_repeat_stats(scored),
        ))
    rows.sort(key=lambda r: (-(r["combined"] if r["combined"] is not None else -1.0),
                             -(r["solve_rate"] if r["solve_rate"] is not None else -1.0),
                             -(r["tests_change"] if r["tests_change"] is not None else -2.0), r["model"]))
    return [ModelRow(rank=i + 1, **r) for i, r in enumerate(rows)]


def intent_rows(outcomes: Sequence[Outcome]) -> list[IntentRow]:
    groups: dict[tuple[str, str], list[Outcome]] = {}
    for o in outcomes:
        if o.status == "complete":
            groups.setdefault((o.intent, o.model), []).append(o)
    rows = []
    for (intent, model), items in sorted(groups.items()):
        solved = sum(1 for o in items if o.solved)
        rows.append(IntentRow(intent, model, len(items), solved, round(solved / len(items), 6),
                              _mean(o.combined_score for o in items)))
    return rows


def invalid_sessions(outcomes: Sequence[Outcome]) -> list[dict[str, str]]:
    """Sessions left out of the leaderboard, each once, with the reason."""
    seen: dict[str, str] = {}
    for o in outcomes:
        if o.status == "skipped" and o.skip_reason.startswith("invalid session") and o.session_key not in seen:
            seen[o.session_key] = o.skip_reason
    return [{"session": k, "reason": v} for k, v in sorted(seen.items())]
