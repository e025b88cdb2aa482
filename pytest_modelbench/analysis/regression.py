"""The regression gate and the trend gate (product.md §10): pure, seeded, no pytest.

Outcomes may be :class:`~pytest_modelbench.records.Outcome` objects, artifact outcome dicts or store rows; they are
paired on (session key, model, repeat index), and only items scored (status complete) on both sides count, so
budget-skipped and errored items never cause a failure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_modelbench.analysis.stats import mcnemar_exact, paired_bootstrap_ci, slope
from pytest_modelbench.records import Outcome

ALPHA = 0.05
DIGITS = 6


@dataclass(frozen=True)
class Regression:
    """One failing verdict: ``metric`` of ``model`` went from ``baseline`` to ``current``."""

    model: str
    metric: str  # combined | solve_rate | combined_trend
    baseline: float
    current: float
    delta: float
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def evidence_text(self) -> str:
        """The evidence in one phrase, as the terminal and the CLI print it."""
        e = self.evidence
        if self.metric == "combined_trend":
            return f"slope {e['slope_pp_per_run']:+.2f} points/run over {e['runs']} runs (threshold {e['threshold']})"
        where = f" vs {e['baseline_run']}" if e.get("baseline_run") else ""
        if self.metric == "combined":
            return f"{e['pairs']} pairs{where}, 95% CI of the change [{e['ci'][0]:+.3f}, {e['ci'][1]:+.3f}]"
        return f"{e['pairs']} pairs{where}, {e['losses']} lost / {e['gains']} gained, McNemar p={e['p']:.4g}"

    def describe(self) -> str:
        return (f"{self.model}: {self.metric} {self.baseline:.3f} -> {self.current:.3f} "
                f"(delta {self.delta:+.3f}); {self.evidence_text()}")


@dataclass(frozen=True)
class _Item:
    key: tuple[str, str, int]  # session key, model, repeat index
    status: str
    combined: float | None
    solved: bool | None


def _item(o: Outcome | Mapping[str, Any]) -> _Item:
    if isinstance(o, Outcome):
        return _Item((o.session_key, o.model, o.repeat_index), o.status, o.combined_score, o.solved)
    if "candidate_model" in o:  # a store row
        session, model = o["source_session_id"], o["candidate_model"]
    else:  # an artifact outcome
        session, model = f"{o['source']}/{o['session_id']}", o["model"]
    solved = o.get("solved")
    return _Item((session, model, int(o.get("repeat_index") or 0)), o["status"], o.get("combined_score"),
                 None if solved is None else bool(solved))


def _scored(outcomes: Iterable[Outcome | Mapping[str, Any]]) -> dict[tuple[str, str, int], _Item]:
    return {i.key: i for i in map(_item, outcomes) if i.status == "complete"}


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


@dataclass(frozen=True)
class PairedRow:
    """One model's paired comparison of two runs (the table ``modelbench compare`` prints)."""

    model: str
    pairs: int  # items scored with a combined score in both runs
    baseline: float | None
    current: float | None
    delta: float | None
    ci: tuple[float, float] | None  # paired bootstrap 95% interval of the change
    solved_pairs: int
    baseline_solve_rate: float | None
    current_solve_rate: float | None
    losses: int  # solved in the baseline, not now
    gains: int
    p: float  # exact McNemar


def paired_rows(baseline_outcomes: Iterable[Outcome | Mapping[str, Any]],
                current_outcomes: Iterable[Outcome | Mapping[str, Any]], seed: int = 0) -> list[PairedRow]:
    """Per model over the items scored (status complete) in both runs, sorted by model."""
    base = _scored(baseline_outcomes)
    cur = _scored(current_outcomes)
    pairs: dict[str, list[tuple[_Item, _Item]]] = {}
    for key in sorted(base.keys() & cur.keys()):
        pairs.setdefault(key[1], []).append((base[key], cur[key]))
    rows = []
    for model, items in sorted(pairs.items()):
        scored = [(b.combined, c.combined) for b, c in items if b.combined is not None and c.combined is not None]
        before = [b for b, _ in scored]
        after = [c for _, c in scored]
        solved = [(b.solved, c.solved) for b, c in items if b.solved is not None and c.solved is not None]
        losses = sum(1 for b, c in solved if b and not c)
        gains = sum(1 for b, c in solved if c and not b)
        rows.append(PairedRow(
            model=model, pairs=len(scored),
            baseline=round(_mean(before), DIGITS) if scored else None,
            current=round(_mean(after), DIGITS) if scored else None,
            delta=round(_mean(after) - _mean(before), DIGITS) if scored else None,
            ci=paired_bootstrap_ci(before, after, seed=seed) if scored else None,
            solved_pairs=len(solved),
            baseline_solve_rate=round(sum(1 for b, _ in solved if b) / len(solved), DIGITS) if solved else None,
            current_solve_rate=round(sum(1 for _, c in solved if c) / len(solved), DIGITS) if solved else None,
            losses=losses, gains=gains, p=mcnemar_exact(losses, gains),
        ))
    return rows


def compare_runs(baseline_outcomes: Iterable[Outcome | Mapping[str, Any]],
                 current_outcomes: Iterable[Outcome | Mapping[str, Any]],
                 tolerance: float = 0.05, seed: int = 0) -> list[Regression]:
    """Per model over paired scored items: a regression when the mean combined drops by more than ``tolerance``
    and the paired bootstrap 95% interval of the change excludes 0, or when the solved rate drops with an exact
    McNemar p < 0.05. Sorted by model, then metric."""
    return regressions_of(paired_rows(baseline_outcomes, current_outcomes, seed), tolerance, seed)


def regressions_of(rows: Sequence[PairedRow], tolerance: float = 0.05, seed: int = 0) -> list[Regression]:
    """The regressions among paired rows (see :func:`compare_runs`)."""
    found: list[Regression] = []
    for r in rows:
        if (r.ci is not None and r.delta is not None and r.baseline is not None and r.current is not None
                and r.delta < -tolerance and r.ci[1] < 0):
            found.append(Regression(r.model, "combined", r.baseline, r.current, r.delta,
                                    {"pairs": r.pairs, "ci": list(r.ci), "tolerance": tolerance, "seed": seed}))
        if (r.baseline_solve_rate is not None and r.current_solve_rate is not None and r.losses > r.gains
                and r.p < ALPHA):
            found.append(Regression(r.model, "solve_rate", r.baseline_solve_rate, r.current_solve_rate,
                                    round(r.current_solve_rate - r.baseline_solve_rate, DIGITS),
                                    {"pairs": r.solved_pairs, "losses": r.losses, "gains": r.gains, "p": r.p}))
    return found


def mean_combined(outcomes: Iterable[Outcome | Mapping[str, Any]]) -> dict[str, float]:
    """Mean combined score per model over scored items (one point of a model's trend series)."""
    by_model: dict[str, list[float]] = {}
    for item in _scored(outcomes).values():
        if item.combined is not None:
            by_model.setdefault(item.key[1], []).append(item.combined)
    return {m: round(_mean(v), DIGITS) for m, v in sorted(by_model.items())}


def trend(series: Mapping[str, Sequence[float]], window: int = 10, threshold: float = -0.5,
          min_runs: int = 3) -> list[Regression]:
    """Least-squares slope of each model's combined score (0-1, oldest first) over its last ``window`` runs, in
    percentage points per run; a regression when below ``threshold`` with at least ``min_runs`` runs."""
    found = []
    for model, values in sorted(series.items()):
        last = list(values)[-window:] if window > 0 else list(values)
        if len(last) < max(min_runs, 2):
            continue
        s = slope(last)
        if s is None:
            continue
        points = round(100 * s, DIGITS)
        if points < threshold:
            found.append(Regression(model, "combined_trend", last[0], last[-1], round(last[-1] - last[0], DIGITS),
                                    {"slope_pp_per_run": points, "runs": len(last), "window": window,
                                     "threshold": threshold, "series": list(last)}))
    return found


__all__ = ["PairedRow", "Regression", "compare_runs", "mean_combined", "paired_rows", "regressions_of", "trend"]
