"""Which model to use for which kind of task: one recommendation per intent (product.md §9, §11). Pure, seeded.

**The rule.** For each intent, only candidate models with at least :data:`FLOOR` (5) scored replays of that intent
(status complete, with a combined score) are eligible; the reference candidates ``replay/gold`` (the recorded
answer) and ``replay/noop`` (no change) are never recommended. The recommendation is the eligible model with the
best mean combined score (ties: solve rate, then name). With no eligible model the answer is *insufficient
evidence* and the confidence is ``none``.

**Confidence** compares the winner W with the runner-up R (the next eligible model) through their seeded percentile
bootstrap 95% intervals of the mean combined score, and the smaller number of scored replays ``n = min(n_W, n_R)``:

- ``high``: the intervals do not overlap (W's lower bound above R's upper bound) and n >= 20;
- ``medium``: each mean lies outside the other's interval (W's lower bound above R's mean and R's upper bound below
  W's mean; disjoint intervals qualify too) and n >= 10;
- ``low``: anything else, including a winner that is the only eligible model (nothing to separate it from);
- ``none``: no eligible model ("insufficient evidence").

**Evidence runs** are the ids of the runs whose outcomes the winner's numbers come from.

Under ``--repeats K`` every scored attempt is a replay: repeats count toward the floor and the bootstrap treats them
as independent, so few sessions repeated often give intervals narrower than the sessions alone would.

**Data.** :func:`recommend` takes the outcomes of one run (what the terminal prints and the artifact stores) or of
many. :func:`latest_items` reduces a store's history to one outcome per (session, model, repeat): the most recent
scored one, so the same sample rerun ten times is not counted ten times. ``modelbench recommend`` and
:func:`pytest_modelbench.recommend_model_for_task` read :func:`from_store`: the latest :data:`HISTORY_RUNS` complete
runs with the rubric version of the most recent complete run. With a store holding one run, terminal, artifact, CLI
and function therefore give the same answer, computed by this one function.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pytest_modelbench.analysis.stats import bootstrap_mean_ci
from pytest_modelbench.records import INTENTS, REFERENCE_MODELS, Outcome
from pytest_modelbench.store import DEFAULT_STORE

FLOOR = 5
HIGH_N = 20
MEDIUM_N = 10
HISTORY_RUNS = 10
SEED = 0
DIGITS = 6


@dataclass(frozen=True)
class Candidate:
    """One model's evidence for one intent."""

    model: str
    n: int
    combined: float
    combined_low: float
    combined_high: float
    solve_rate: float | None
    runs: tuple[str, ...]


@dataclass(frozen=True)
class Recommendation:
    intent: str
    model: str | None  # None: insufficient evidence
    confidence: str  # none | low | medium | high
    combined: float | None
    combined_low: float | None
    combined_high: float | None
    n: int
    solve_rate: float | None
    runner_up: str | None
    runner_up_combined: float | None
    runner_up_low: float | None
    runner_up_high: float | None
    evidence_runs: tuple[str, ...]
    reason: str
    floor: int = FLOOR
    candidates: tuple[Candidate, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["evidence_runs"] = list(self.evidence_runs)
        d["candidates"] = [{**asdict(c), "runs": list(c.runs)} for c in self.candidates]
        return d

    def text(self) -> str:
        """One line, as the terminal and ``modelbench recommend`` print it."""
        if self.model is None:
            return f"{self.intent}: insufficient evidence ({self.reason})"
        line = (f"{self.intent}: {self.model} (confidence {self.confidence}; combined {self.combined:.3f} "
                f"[{self.combined_low:.3f}, {self.combined_high:.3f}], n={self.n}")
        if self.runner_up is not None:
            line += (f"; runner-up {self.runner_up} {self.runner_up_combined:.3f} "
                     f"[{self.runner_up_low:.3f}, {self.runner_up_high:.3f}]")
        return line + f"; evidence runs: {', '.join(self.evidence_runs)})"


@dataclass(frozen=True)
class _Scored:
    run_id: str
    session: str
    model: str
    repeat: int
    intent: str
    combined: float
    solved: bool | None


def _scored(o: Outcome | Mapping[str, Any], run_id: str | None) -> _Scored | None:
    if isinstance(o, Outcome):
        if o.status != "complete" or o.combined_score is None:
            return None
        return _Scored(run_id or "", o.session_key, o.model, o.repeat_index, o.intent, o.combined_score, o.solved)
    if o.get("status") != "complete" or o.get("combined_score") is None:
        return None
    if "candidate_model" in o:  # a store row
        session, model, run = o["source_session_id"], o["candidate_model"], o.get("benchmark_run_id")
    else:  # an artifact outcome
        session, model, run = f"{o['source']}/{o['session_id']}", o["model"], o.get("benchmark_run_id")
    solved = o.get("solved")
    return _Scored(run_id or run or "", session, model, int(o.get("repeat_index") or 0), o.get("intent") or "explore",
                   float(o["combined_score"]), None if solved is None else bool(solved))


def latest_items(runs: Sequence[tuple[str, Iterable[Mapping[str, Any]]]]) -> list[Mapping[str, Any]]:
    """One row per (session, model, repeat): the scored one of the most recent run. ``runs``: newest first."""
    seen: dict[tuple[str, str, int], Mapping[str, Any]] = {}
    order: list[tuple[int, tuple[str, str, int]]] = []
    for rank, (run_id, rows) in enumerate(runs):
        for row in rows:
            item = _scored(row, run_id)
            if item is not None and (item.session, item.model, item.repeat) not in seen:
                seen[(item.session, item.model, item.repeat)] = {**row, "benchmark_run_id": run_id}
                order.append((rank, (item.session, item.model, item.repeat)))
    # Newest run first, then by item: evidence runs are listed newest first.
    return [seen[k] for _, k in sorted(order)]


def _candidate(model: str, items: list[_Scored], seed: int) -> Candidate:
    values = sorted(i.combined for i in items)  # the interval must not depend on the order outcomes arrive in
    ci = bootstrap_mean_ci(values, seed=seed)
    assert ci is not None
    solved = [i.solved for i in items if i.solved is not None]
    runs = tuple(dict.fromkeys(i.run_id for i in items if i.run_id))
    return Candidate(model, len(items), round(math.fsum(values) / len(values), DIGITS), ci[0], ci[1],
                     round(sum(solved) / len(solved), DIGITS) if solved else None, runs)


def confidence(winner: Candidate, runner_up: Candidate | None) -> str:
    """The label of the module docstring's rule (``low`` for a winner with no eligible rival)."""
    if runner_up is None:
        return "low"
    n = min(winner.n, runner_up.n)
    disjoint = winner.combined_low > runner_up.combined_high
    separated = disjoint or (winner.combined_low > runner_up.combined and runner_up.combined_high < winner.combined)
    if disjoint and n >= HIGH_N:
        return "high"
    if separated and n >= MEDIUM_N:
        return "medium"
    return "low"


def recommend_intent(intent: str, outcomes: Iterable[Outcome | Mapping[str, Any]], *, run_id: str | None = None,
                     floor: int = FLOOR, seed: int = SEED) -> Recommendation:
    """The recommendation for one intent over ``outcomes`` (``run_id`` names their run when they do not)."""
    by_model: dict[str, list[_Scored]] = {}
    for o in outcomes:
        item = _scored(o, run_id)
        if item is not None and item.intent == intent and item.model not in REFERENCE_MODELS:
            by_model.setdefault(item.model, []).append(item)
    ranked = sorted((_candidate(m, items, seed) for m, items in by_model.items()),
                    key=lambda c: (-c.combined, -(c.solve_rate if c.solve_rate is not None else -1.0), c.model))
    eligible = [c for c in ranked if c.n >= floor]
    if not eligible:
        if ranked:
            most = max(ranked, key=lambda c: c.n)  # ties: the better ranked
            reason = (f"no model has {floor} scored replays of this intent; most: {most.model} with {most.n}")
        else:
            reason = "no scored replay of this intent by a candidate model"
        return Recommendation(intent, None, "none", None, None, None, 0, None, None, None, None, None, (), reason,
                              floor, tuple(ranked))
    w = eligible[0]
    r = eligible[1] if len(eligible) > 1 else None
    label = confidence(w, r)
    reason = (f"best mean combined of {len(eligible)} model(s) with >= {floor} scored replays"
              + ("" if r is not None else "; no rival to separate it from"))
    return Recommendation(intent, w.model, label, w.combined, w.combined_low, w.combined_high, w.n, w.solve_rate,
                          r.model if r else None, r.combined if r else None, r.combined_low if r else None,
                          r.combined_high if r else None, w.runs, reason, floor, tuple(ranked))


def recommend(outcomes: Iterable[Outcome | Mapping[str, Any]], *, run_id: str | None = None,
              intents: Sequence[str] | None = None, floor: int = FLOOR, seed: int = SEED) -> list[Recommendation]:
    """One recommendation per intent: ``intents``, or every intent with a scored replay, in :data:`INTENTS` order."""
    items = list(outcomes)
    if intents is None:
        present = {s.intent for s in (_scored(o, run_id) for o in items) if s is not None}
        intents = [i for i in INTENTS if i in present] + sorted(present - set(INTENTS))
    return [recommend_intent(i, items, run_id=run_id, floor=floor, seed=seed) for i in intents]


def history(store: Any, rubric_version: int | None = None, limit: int = HISTORY_RUNS
            ) -> tuple[list[Mapping[str, Any]], dict[str, Any]]:
    """The rows :func:`from_store` recommends over, and where they came from (runs, rubric version)."""
    from pytest_modelbench.analysis.gate import history_runs

    if rubric_version is None:
        newest = next((r for r in store.runs(1000) if r["status"] == "complete"), None)
        rubric_version = newest["rubric_version"] if newest else None
    runs = history_runs(store, rubric_version, limit)
    return latest_items(runs), {"rubric_version": rubric_version, "runs": [r for r, _ in runs]}


def from_store(store: Any, *, intents: Sequence[str] | None = None, rubric_version: int | None = None,
               limit: int = HISTORY_RUNS, floor: int = FLOOR, seed: int = SEED
               ) -> tuple[list[Recommendation], dict[str, Any]]:
    """Recommendations over the store's recent history (see the module docstring)."""
    rows, info = history(store, rubric_version, limit)
    return recommend(rows, intents=intents, floor=floor, seed=seed), info


def intent_for_task(task_pattern: str | None, intent: str | None = None) -> tuple[str, str]:
    """The intent a task pattern asks about, and how it was found: ``intent`` (given), ``task_pattern`` (an intent
    name) or ``classified`` (the intent rules of :mod:`pytest_modelbench.intent` over the text)."""
    if intent is not None:
        if intent not in INTENTS:
            raise ValueError(f"intent: unknown intent {intent!r} (known: {', '.join(INTENTS)})")
        return intent, "intent"
    pattern = (task_pattern or "").strip()
    if not pattern:
        raise ValueError("task_pattern: expected an intent name or a task description, got nothing")
    if pattern.lower() in INTENTS:
        return pattern.lower(), "task_pattern"
    from pytest_modelbench.intent import classify_intent

    return classify_intent(pattern), "classified"


def answer(rec: Recommendation, task_pattern: str | None, intent_from: str, info: dict[str, Any]) -> dict[str, Any]:
    """The JSON answer for one task: what the function returns and ``modelbench recommend --json`` prints."""
    return {"task_pattern": task_pattern, "intent_from": intent_from, **rec.to_dict(), "history": info}


def recommendation_for_task(task_pattern: str | None, intent: str | None = None,
                            store_path: Path | None = None) -> dict[str, Any]:
    """:func:`pytest_modelbench.recommend_model_for_task`: the answer over the store at ``store_path``."""
    chosen, how = intent_for_task(task_pattern, intent)
    path = store_path if store_path is not None else Path(DEFAULT_STORE)
    if not path.is_file():
        rec = replace(recommend_intent(chosen, []), reason=f"no benchmark history at {path} (run pytest --modelbench)")
        return answer(rec, task_pattern, how, {"rubric_version": None, "runs": []})
    from pytest_modelbench.store.sqlite import Store

    store = Store(path)
    try:
        (rec,), info = from_store(store, intents=[chosen])
    finally:
        store.close()
    return answer(rec, task_pattern, how, info)


__all__ = ["FLOOR", "Candidate", "Recommendation", "answer", "confidence", "from_store", "history", "intent_for_task",
           "latest_items", "recommend", "recommend_intent", "recommendation_for_task"]
