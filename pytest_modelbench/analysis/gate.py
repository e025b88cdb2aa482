"""The CI gate at the end of a run: find the baseline, compare, compute the trend over the store's history.

No pytest here: a baseline the user names but that does not exist is a :class:`GateError`, which the session turns
into a UsageError before any replay runs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_modelbench.analysis.regression import (
    Panel,
    Regression,
    compare_runs,
    mean_combined,
    session_means,
    trend,
)
from pytest_modelbench.errors import UserError
from pytest_modelbench.records import Outcome
from pytest_modelbench.store.sqlite import HISTORY_LIMIT, Store


class GateError(UserError):
    """A baseline that cannot be found or read."""


@dataclass(frozen=True)
class Baseline:
    """The run compared against: from the store (``run_id``) or a JSON artifact (``path``)."""

    label: str
    run_id: str
    rubric_version: int | None
    manifest_sha256: str | None
    path: Path | None = None
    fingerprints: dict[str, Any] | None = None  # model -> fingerprint, from the baseline's artifact; None: unknown


@dataclass(frozen=True)
class GateResult:
    regressions: tuple[Regression, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    baseline: str | None = None

    def artifact_entries(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.regressions]


@dataclass
class _Collected:
    regressions: list[Regression] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _manifest_sha(config_json: str | dict[str, Any] | None) -> str | None:
    config = json.loads(config_json) if isinstance(config_json, str) else (config_json or {})
    return ((config or {}).get("sample_manifest") or {}).get("sha256")


def is_shard_run(row: dict[str, Any]) -> bool:
    """A shard's run (``--modelbench-shard``) is part of a run: never a baseline by name or ``latest``, nor a point
    of a trend or of the recommendations' history (its merged run holds the same outcomes)."""
    try:
        return bool((json.loads(row.get("config_json") or "{}") or {}).get("shard"))
    except (ValueError, AttributeError):
        return False


def _fingerprints(artifact: dict[str, Any]) -> dict[str, Any]:
    return {c["model"]: c.get("fingerprint") or {} for c in artifact.get("candidates", [])
            if isinstance(c, dict) and "model" in c}


def _from_row(label: str, row: dict[str, Any], store: Store) -> Baseline:
    # The store keeps no fingerprints; the run's artifact at its default place does, when it is still there.
    artifact = store.path.parent / "runs" / f"{row['id']}.json"
    try:
        fingerprints = _fingerprints(json.loads(artifact.read_text(encoding="utf-8")))
    except (OSError, ValueError, AttributeError):
        fingerprints = None
    return Baseline(label, row["id"], row["rubric_version"], _manifest_sha(row.get("config_json")),
                    fingerprints=fingerprints)


def resolve_baseline(store: Store, spec: str, rubric_version: int, root: Path,
                     exclude: str | None = None) -> Baseline | None:
    """``latest`` (the most recent complete run with this rubric version; None when there is none yet), a run
    NAME (its latest complete run), a RUN_ID, or a PATH to a JSON artifact. Called before this run is created.

    ``exclude`` is the id of the run being made (``--modelbench-resume``): a run is never its own baseline."""
    candidate = Path(spec).expanduser()
    candidate = candidate if candidate.is_absolute() else root / candidate
    if spec.endswith(".json") or candidate.is_file():
        try:
            artifact = json.loads(candidate.read_text(encoding="utf-8"))
            run = artifact["run"]
            return Baseline(f"{spec} (run {run['id']})", run["id"], run["config"]["rubric"]["version"],
                            _manifest_sha(run["config"]), path=candidate, fingerprints=_fingerprints(artifact))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GateError(f"--modelbench-baseline {spec}: not a readable modelbench JSON artifact ({exc})") from None
    complete = [r for r in store.runs(HISTORY_LIMIT)
                if r["status"] == "complete" and not is_shard_run(r) and r["id"] != exclude]
    if spec == "latest":
        # A run that scored nothing (--co, everything deselected) is no baseline.
        same = next((r for r in complete if r["rubric_version"] == rubric_version and store.outcomes(r["id"])), None)
        return _from_row(f"latest (run {same['id']})", same, store) if same else None
    if exclude is not None and spec == exclude:
        raise GateError(f"--modelbench-baseline {spec}: that is the run being resumed; a run cannot be its own "
                        "baseline")
    row = store.run(spec)
    if row is not None:
        return _from_row(f"run {spec}", row, store)
    named = [r for r in complete if r["name"] == spec]
    if named:
        return _from_row(f"{spec} (run {named[0]['id']})", named[0], store)
    raise GateError(f"--modelbench-baseline {spec}: no complete run with that id or name in {store.path}, "
                    "and no such JSON artifact")


def baseline_outcomes(store: Store, baseline: Baseline) -> list[Any]:
    if baseline.path is not None:
        return json.loads(baseline.path.read_text(encoding="utf-8"))["outcomes"]
    return store.outcomes(baseline.run_id)


def evaluate(store: Store, run_id: str, outcomes: Sequence[Outcome], rubric_version: int,
             manifest_sha256: str | None, *, baseline: Baseline | None, baseline_spec: str | None,
             tolerance: float, force: bool, seed: int, trend_window: int, trend_threshold: float,
             fingerprints: dict[str, Any] | None = None, solve_tolerance: float = 0.05) -> GateResult:
    """Both gates for the run ``run_id`` (still running, so not among the complete runs of the store).

    ``fingerprints`` (model -> the door's fingerprint of this run) are compared with the baseline's: a model whose
    provider model or Ollama digest changed is left out of the regression gate, with a warning, unless ``force``.
    How the two gates decide: docs/gate.md."""
    out = _Collected()
    if baseline_spec is not None:
        _compare(store, outcomes, rubric_version, manifest_sha256, baseline, tolerance, force, seed, out,
                 fingerprints or {}, solve_tolerance)
    _trend(store, run_id, outcomes, rubric_version, trend_window, trend_threshold, out)
    return GateResult(tuple(out.regressions), tuple(out.warnings), tuple(out.notes),
                      baseline.label if baseline else None)


def fingerprint_changes(baseline: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, str]:
    """Models whose fingerprint differs, with what differs. Only what both sides recorded is compared (a run
    served wholly from the response cache records none), and never the litellm version (not the model)."""
    changes: dict[str, str] = {}
    for model, now in sorted(current.items()):
        before = (baseline or {}).get(model) or {}
        if before.get("kind") == "reference" or not now:
            continue
        diffs = []
        if before.get("provider_models") and now.get("provider_models") and \
                sorted(before["provider_models"]) != sorted(now["provider_models"]):
            diffs.append(f"provider model {', '.join(sorted(before['provider_models']))} vs "
                         f"{', '.join(sorted(now['provider_models']))}")
        if before.get("ollama_digest") and now.get("ollama_digest") and before["ollama_digest"] != now["ollama_digest"]:
            diffs.append(f"ollama digest {str(before['ollama_digest'])[:12]} vs {str(now['ollama_digest'])[:12]}")
        if diffs:
            changes[model] = "; ".join(diffs)
    return changes


def _compare(store: Store, outcomes: Sequence[Outcome], rubric_version: int, manifest_sha256: str | None,
             baseline: Baseline | None, tolerance: float, force: bool, seed: int, out: _Collected,
             fingerprints: dict[str, Any] | None = None, solve_tolerance: float = 0.05) -> None:
    if baseline is None:
        out.notes.append("no baseline yet: this run passes and becomes the baseline")
        return
    mismatches = []
    if baseline.rubric_version != rubric_version:
        mismatches.append(f"rubric version {baseline.rubric_version} vs {rubric_version}")
    if baseline.manifest_sha256 and manifest_sha256 and baseline.manifest_sha256 != manifest_sha256:
        mismatches.append("a different sample manifest")
    if mismatches and not force:
        out.warnings.append(f"baseline {baseline.label} differs ({'; '.join(mismatches)}): no regression gate "
                            "(--modelbench-force-compare to compare anyway)")
        return
    if mismatches:
        out.warnings.append(f"baseline {baseline.label} differs ({'; '.join(mismatches)}); compared anyway (forced)")
    changed = fingerprint_changes(baseline.fingerprints, fingerprints or {})
    for model, what in changed.items():
        if force:
            out.warnings.append(f"baseline {baseline.label}: model {model} changed ({what}); compared anyway (forced)")
        else:
            out.warnings.append(f"baseline {baseline.label}: model {model} changed ({what}): no regression gate "
                                "for it (--modelbench-force-compare to compare anyway)")
    skip = set() if force else set(changed)
    found = compare_runs(baseline_outcomes(store, baseline), [o for o in outcomes if o.model not in skip],
                         tolerance=tolerance, seed=seed, solve_tolerance=solve_tolerance)
    out.regressions.extend(dataclasses.replace(r, evidence={**r.evidence, "baseline_run": baseline.run_id})
                           for r in found)
    out.notes.append(f"compared with baseline {baseline.label}: {len(found)} regression(s)")


def _trend(store: Store, run_id: str, outcomes: Sequence[Outcome], rubric_version: int, window: int,
           threshold: float, out: _Collected) -> None:
    if not outcomes:
        return
    history = [rows for _, rows in history_runs(store, rubric_version, window - 1, exclude=run_id)][::-1]
    if not history:
        return
    found, warnings = trend_regressions(history, outcomes, window, threshold)
    out.warnings.extend(warnings)
    out.regressions.extend(found)


def trend_regressions(history: Sequence[Sequence[Outcome | dict[str, Any]]],
                      outcomes: Sequence[Outcome | dict[str, Any]], window: int, threshold: float
                      ) -> tuple[list[Regression], list[str]]:
    """The trend gate of a run: ``history`` (earlier runs, oldest first) then the run's ``outcomes``; only models
    scored in this run are judged, each over the runs in which it was scored."""
    panel, warnings = trend_panel([*history, list(outcomes)])
    current = set(session_means(outcomes))
    return trend({m: v for m, v in panel.items() if m in current}, window=window, threshold=threshold), warnings


def history_runs(store: Store, rubric_version: int | None, limit: int, exclude: str | None = None
                 ) -> list[tuple[str, list[dict[str, Any]]]]:
    """The newest ``limit`` complete runs with ``rubric_version`` (None: that of the newest complete run) that
    scored something, newest first, each with its outcome rows."""
    complete = [r for r in store.runs(HISTORY_LIMIT)
                if r["status"] == "complete" and r["id"] != exclude and not is_shard_run(r)]
    if rubric_version is None and complete:
        rubric_version = complete[0]["rubric_version"]
    found: list[tuple[str, list[dict[str, Any]]]] = []
    for row in complete:
        if len(found) >= limit:
            break
        if row["rubric_version"] != rubric_version:
            continue
        rows = store.outcomes(row["id"])
        if rows:  # runs that scored nothing (--co, everything deselected) are not points of a trend
            found.append((row["id"], rows))
    return found


def _common_sessions(runs: Sequence[Sequence[Outcome | dict[str, Any]]]
                     ) -> tuple[frozenset[str] | None, list[str]]:
    """The sessions all ``runs`` share (None: no runs, or none shared), and warnings."""
    def key(o: Outcome | dict[str, Any]) -> str:
        return o.session_key if isinstance(o, Outcome) else o["source_session_id"]

    sets = [frozenset(key(o) for o in rows) for rows in runs]
    if not sets:
        return None, []
    common = frozenset.intersection(*sets)
    if len(set(sets)) > 1:
        # A -k run or a new sample is not a drop: compare the runs on the sessions they all share.
        if not common:
            return None, ["trend: the runs in the window share no session; no trend gate"]
        return common, [f"trend: the session set changed across the last {len(sets)} runs; slopes use the "
                        f"{len(common)} session(s) they all share"]
    return common, []


def trend_series(runs: Sequence[Sequence[Outcome | dict[str, Any]]]) -> tuple[dict[str, list[float]], list[str]]:
    """Each model's mean combined per run (oldest first), over the sessions all ``runs`` share, and warnings."""
    common, warnings = _common_sessions(runs)
    if common is None:
        return {}, warnings
    series: dict[str, list[float]] = {}
    for rows in runs:
        kept = [o for o in rows if (o.session_key if isinstance(o, Outcome) else o["source_session_id"]) in common]
        for model, mean in mean_combined(kept).items():
            series.setdefault(model, []).append(mean)
    return series, warnings


def trend_panel(runs: Sequence[Sequence[Outcome | dict[str, Any]]]) -> tuple[Panel, list[str]]:
    """Each model's sessions over the runs (oldest first) it was scored in, on the sessions all ``runs`` share:
    what the trend gate decides with (see :func:`pytest_modelbench.analysis.regression.trend`)."""
    common, warnings = _common_sessions(runs)
    if common is None:
        return {}, warnings
    columns = [session_means(o for o in rows
                             if (o.session_key if isinstance(o, Outcome) else o["source_session_id"]) in common)
               for rows in runs]
    panel: dict[str, dict[str, list[float | None]]] = {}
    for model in sorted({m for column in columns for m in column}):
        present = [column[model] for column in columns if model in column]
        keys = sorted({k for c in present for k in c})
        panel[model] = {k: [c.get(k) for c in present] for k in keys}
    return panel, warnings


__all__ = ["Baseline", "GateError", "GateResult", "baseline_outcomes", "evaluate", "history_runs", "resolve_baseline",
           "trend_panel", "trend_regressions", "trend_series"]
