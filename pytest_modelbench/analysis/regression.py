"""The regression gate and the trend gate (product.md §10, docs/gate.md): pure, seeded, no pytest.

Outcomes may be :class:`~pytest_modelbench.records.Outcome` objects, artifact outcome dicts or store rows; they are
paired on (session key, model, repeat index), and only items scored (status complete) on both sides count, so
budget-skipped and errored items never cause a failure.

A verdict needs both a practical size (a drop beyond the tolerance, a slope below the threshold) and statistical
evidence, with the family-wise error controlled by Holm's procedure over every test a gate makes in a run: the
paired gate at ``ALPHA_PAIRED`` and the trend gate at ``ALPHA_TREND``, so a run of unchanged models fails with
probability at most ``ALPHA_PAIRED + ALPHA_TREND`` = 5% (measured by ``bench/gate_calibration.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_modelbench.analysis.stats import holm, mcnemar_exact, mcnemar_one_sided, mean_t_test, slope
from pytest_modelbench.records import Outcome

# The error budget of a run's gate: 5% in all, most of it for the paired comparison with the baseline (one run
# against one run, the weaker evidence) and 1% for the trend, which sees up to a window of runs and so keeps power
# at a small alpha.
ALPHA_PAIRED = 0.04
ALPHA_TREND = 0.01
ALPHA = ALPHA_PAIRED + ALPHA_TREND
# Below this many runs there is no trend gate: over 3 runs the least-squares slope is (last - first) / 2, the
# middle run has no weight, so it is a comparison of two runs (the paired gate's job), not a trend. From 4 runs on
# every run weighs in the slope.
MIN_TREND_RUNS = 4
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
        holm_text = f"Holm p={e['p_holm']:.3g} over {e['tests']} tests" if "p_holm" in e else ""
        if self.metric == "combined_trend":
            text = f"slope {e['slope_pp_per_run']:+.2f} points/run over {e['runs']} runs (threshold {e['threshold']})"
            if "session_slope_pp_per_run" in e:
                text += (f"; per-session slope {e['session_slope_pp_per_run']:+.2f} over {e['sessions']} sessions, "
                         f"95% upper bound {e['upper_pp_per_run']:+.2f}, {holm_text}")
            return text
        where = f" vs {e['baseline_run']}" if e.get("baseline_run") else ""
        extra = f", {holm_text}" if holm_text else ""
        if self.metric == "combined":
            return f"{e['pairs']} pairs{where}, 95% CI of the change [{e['ci'][0]:+.3f}, {e['ci'][1]:+.3f}]{extra}"
        return f"{e['pairs']} pairs{where}, {e['losses']} lost / {e['gains']} gained, McNemar p={e['p']:.4g}{extra}"

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
    ci: tuple[float, float] | None  # paired t 95% interval of the change
    solved_pairs: int
    baseline_solve_rate: float | None
    current_solve_rate: float | None
    losses: int  # solved in the baseline, not now
    gains: int
    p: float  # exact McNemar, two-sided (the table's information)
    p_combined_drop: float = 1.0  # paired t test, one-sided: the combined score dropped
    p_solve_drop: float = 1.0  # exact McNemar, one-sided: more losses than gains


def paired_rows(baseline_outcomes: Iterable[Outcome | Mapping[str, Any]],
                current_outcomes: Iterable[Outcome | Mapping[str, Any]], seed: int = 0) -> list[PairedRow]:
    """Per model over the items scored (status complete) in both runs, sorted by model.

    The interval and the test of the combined score are paired t analyses of the per-item changes (``seed`` is
    kept for callers and recorded; nothing here is random any more): the interval then says the same as the test
    the gate decides with."""
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
        test = mean_t_test([c - b for b, c in scored])
        rows.append(PairedRow(
            model=model, pairs=len(scored),
            baseline=round(_mean(before), DIGITS) if scored else None,
            current=round(_mean(after), DIGITS) if scored else None,
            delta=round(_mean(after) - _mean(before), DIGITS) if scored else None,
            ci=test.interval() if test is not None else None,
            solved_pairs=len(solved),
            baseline_solve_rate=round(sum(1 for b, _ in solved if b) / len(solved), DIGITS) if solved else None,
            current_solve_rate=round(sum(1 for _, c in solved if c) / len(solved), DIGITS) if solved else None,
            losses=losses, gains=gains, p=mcnemar_exact(losses, gains),
            # One pair is no evidence: a single item that fails once is what flaky models do.
            p_combined_drop=test.p_below if test is not None and test.n >= 2 else 1.0,
            p_solve_drop=mcnemar_one_sided(losses, gains),
        ))
    return rows


def compare_runs(baseline_outcomes: Iterable[Outcome | Mapping[str, Any]],
                 current_outcomes: Iterable[Outcome | Mapping[str, Any]],
                 tolerance: float = 0.05, seed: int = 0, solve_tolerance: float = 0.05,
                 alpha: float = ALPHA_PAIRED) -> list[Regression]:
    """The paired gate over paired scored items (see :func:`regressions_of`). Sorted by model, then metric."""
    return regressions_of(paired_rows(baseline_outcomes, current_outcomes, seed), tolerance, seed,
                          solve_tolerance=solve_tolerance, alpha=alpha)


def regressions_of(rows: Sequence[PairedRow], tolerance: float = 0.05, seed: int = 0, solve_tolerance: float = 0.05,
                   alpha: float = ALPHA_PAIRED) -> list[Regression]:
    """The regressions among paired rows: per model, the combined score when its mean drops by more than
    ``tolerance``, the solve rate when it drops by more than ``solve_tolerance``, each only when its one-sided test
    (paired t; exact McNemar) rejects "no drop" after Holm's correction over every test made here (each model with
    pairs x each metric), so the chance that any unchanged model fails is at most ``alpha``."""
    tests: list[tuple[PairedRow, str, float]] = []
    for r in rows:
        if r.pairs:
            tests.append((r, "combined", r.p_combined_drop))
        if r.solved_pairs:
            tests.append((r, "solve_rate", r.p_solve_drop))
    adjusted = holm([p for _, _, p in tests])
    found: list[Regression] = []
    for (r, metric, p), p_holm in zip(tests, adjusted, strict=True):
        family = {"p_one_sided": p, "p_holm": p_holm, "tests": len(tests), "alpha": alpha}
        if p_holm >= alpha:
            continue
        if (metric == "combined" and r.ci is not None and r.delta is not None and r.baseline is not None
                and r.current is not None and r.delta < -tolerance):
            found.append(Regression(r.model, "combined", r.baseline, r.current, r.delta,
                                    {"pairs": r.pairs, "ci": list(r.ci), "tolerance": tolerance, "seed": seed,
                                     **family}))
        if (metric == "solve_rate" and r.baseline_solve_rate is not None and r.current_solve_rate is not None
                and r.current_solve_rate - r.baseline_solve_rate < -solve_tolerance):
            found.append(Regression(r.model, "solve_rate", r.baseline_solve_rate, r.current_solve_rate,
                                    round(r.current_solve_rate - r.baseline_solve_rate, DIGITS),
                                    {"pairs": r.solved_pairs, "losses": r.losses, "gains": r.gains, "p": r.p,
                                     "solve_tolerance": solve_tolerance, **family}))
    return found


def mean_combined(outcomes: Iterable[Outcome | Mapping[str, Any]]) -> dict[str, float]:
    """Mean combined score per model over scored items (one point of a model's trend series)."""
    by_model: dict[str, list[float]] = {}
    for item in _scored(outcomes).values():
        if item.combined is not None:
            by_model.setdefault(item.key[1], []).append(item.combined)
    return {m: round(_mean(v), DIGITS) for m, v in sorted(by_model.items())}


def session_means(outcomes: Iterable[Outcome | Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """model -> session key -> mean combined score over its scored repeats (one run's column of a trend panel)."""
    by: dict[str, dict[str, list[float]]] = {}
    for item in _scored(outcomes).values():
        if item.combined is not None:
            by.setdefault(item.key[1], {}).setdefault(item.key[0], []).append(item.combined)
    return {m: {k: round(_mean(v), DIGITS) for k, v in sorted(d.items())} for m, d in sorted(by.items())}


Panel = Mapping[str, Mapping[str, Sequence[float | None]]]
"""model -> session key -> the session's mean combined score in each run the model was scored in (oldest first;
None when the session was not scored in that run)."""


@dataclass(frozen=True)
class TrendRow:
    """One model's trend over the window: the plain slope of its run means (information) and the per-session
    slopes the gate decides with."""

    model: str
    runs: int
    series: tuple[float, ...]  # mean combined per run over the sessions scored in it
    slope_pp: float | None  # least-squares slope of ``series``, percentage points per run
    sessions: int  # sessions with a slope (scored in at least MIN_TREND_RUNS runs, or in every run when fewer)
    session_slope_pp: float | None  # mean of the per-session slopes
    upper_pp: float | None  # one-sided 95% upper confidence bound of that mean (t over sessions)
    p_decline: float  # one-sided t p-value of "the mean per-session slope is below 0"


def _session_slopes(values: Sequence[Sequence[float | None]], min_points: int) -> list[float]:
    out = []
    for ys in values:
        points = [(x, y) for x, y in enumerate(ys) if y is not None]
        if len(points) >= min_points:
            s = slope([y for _, y in points], [x for x, _ in points])
            if s is not None:
                out.append(s)
    return out


def trend_rows(panel: Panel, window: int = 10, min_runs: int = MIN_TREND_RUNS) -> list[TrendRow]:
    """Each model's trend over its last ``window`` runs, sorted by model.

    Sessions are the unit of evidence: each session's scores over the runs give it a slope, and the mean of those
    slopes is tested against 0 with a t distribution over sessions. Run-to-run noise of a flaky model then shows
    up as spread between sessions' slopes instead of passing for a trend of the run means."""
    rows = []
    for model, sessions in sorted(panel.items()):
        cut = {k: list(v)[-window:] if window > 0 else list(v) for k, v in sessions.items()}
        runs = max((len(v) for v in cut.values()), default=0)
        series = []
        for i in range(runs):
            scored = [y for v in cut.values() if i < len(v) and (y := v[i]) is not None]
            series.append(round(_mean(scored), DIGITS) if scored else None)
        points = [(x, y) for x, y in enumerate(series) if y is not None]
        plain = slope([y for _, y in points], [x for x, _ in points]) if len(points) >= 2 else None
        # In points per run, as the threshold is.
        slopes = [100 * s for s in _session_slopes(list(cut.values()), min(runs, min_runs) if runs >= 2 else 2)]
        test = mean_t_test(slopes)
        rows.append(TrendRow(
            model, runs, tuple(y for y in series if y is not None),
            None if plain is None else round(100 * plain, DIGITS), len(slopes),
            None if test is None else test.mean, None if test is None else test.upper(),
            1.0 if test is None else test.p_below))
    return rows


def trend(panel: Panel, window: int = 10, threshold: float = -0.5, min_runs: int = MIN_TREND_RUNS,
          alpha: float = ALPHA_TREND) -> list[Regression]:
    """The trend gate: a model regresses when, over its last ``window`` runs (at least ``min_runs``), the mean
    per-session slope is below ``threshold`` (points per run) and its one-sided t test rejects "no decline" after
    Holm's correction over the models tested, at family-wise level ``alpha``."""
    rows = trend_rows(panel, window, min_runs)
    tested = [r for r in rows if r.runs >= max(min_runs, 2) and r.sessions >= 2]
    adjusted = holm([r.p_decline for r in tested])
    found = []
    for r, p_holm in zip(tested, adjusted, strict=True):
        if r.session_slope_pp is None or r.session_slope_pp >= threshold or p_holm >= alpha:
            continue
        found.append(Regression(
            r.model, "combined_trend", r.series[0], r.series[-1], round(r.series[-1] - r.series[0], DIGITS),
            {"slope_pp_per_run": r.slope_pp, "session_slope_pp_per_run": r.session_slope_pp,
             "upper_pp_per_run": r.upper_pp, "sessions": r.sessions, "runs": r.runs, "window": window,
             "threshold": threshold, "series": list(r.series), "p_one_sided": r.p_decline, "p_holm": p_holm,
             "tests": len(tested), "alpha": alpha}))
    return found


__all__ = ["ALPHA", "ALPHA_PAIRED", "ALPHA_TREND", "MIN_TREND_RUNS", "PairedRow", "Panel", "Regression", "TrendRow",
           "compare_runs", "mean_combined", "paired_rows", "regressions_of", "session_means", "trend", "trend_rows"]
