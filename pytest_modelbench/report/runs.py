"""Find a stored run for the reports: its JSON artifact (or, without one, a document rebuilt from the store) and
the trend history of the store. Pure: no pytest. Used by ``modelbench report|export|show`` and the end of a run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_modelbench.errors import UserError
from pytest_modelbench.store.sqlite import HISTORY_LIMIT, Store

TREND_RUNS = 20


class RunNotFound(UserError):
    """The run a user named cannot be found or read (a CLI error: exit status 2)."""


@dataclass(frozen=True)
class RunDocument:
    """One run as the reports read it."""

    artifact: dict[str, Any]
    origin: str  # where it came from, for messages: the artifact path, or "store PATH (no JSON artifact)"
    history: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def _iso(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _is_artifact_path(spec: str, root: Path) -> Path | None:
    candidate = Path(spec).expanduser()
    candidate = candidate if candidate.is_absolute() else root / candidate
    return candidate if spec.endswith(".json") or candidate.is_file() else None


def read_artifact_file(path: Path, spec: str) -> dict[str, Any]:
    try:
        artifact = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunNotFound(f"{spec}: no such file") from None
    except OSError as exc:
        raise RunNotFound(f"{spec}: cannot read the artifact ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise RunNotFound(f"{spec}: not JSON ({exc})") from None
    if not isinstance(artifact, dict) or not isinstance(artifact.get("run"), dict) \
            or not isinstance(artifact.get("outcomes"), list) or "id" not in artifact["run"]:
        raise RunNotFound(f"{spec}: not a modelbench JSON artifact (field 'run' or 'outcomes' missing)")
    return artifact


def resolve_run_id(store: Store, spec: str, root: Path) -> str:
    """``latest`` (the newest run of the store), a run id, or a run name (its newest complete run)."""
    if spec == "latest":
        rows = store.runs(1)
        if not rows:
            raise RunNotFound(f"latest: the store {store.path} has no run yet")
        return rows[0]["id"]
    from pytest_modelbench.analysis.gate import GateError, resolve_baseline

    try:
        found = resolve_baseline(store, spec, -1, root)
    except GateError as exc:
        raise RunNotFound(str(exc).replace("--modelbench-baseline ", "")) from None
    assert found is not None  # only "latest" may come back empty
    return found.run_id


def load_run(spec: str, store_path: Path, root: Path, *, trend_runs: int = TREND_RUNS) -> RunDocument:
    """RUN as the CLI takes it: an artifact path, ``latest``, a run id or a run name.

    A run of the store is read from its JSON artifact next to the store when there is one, else rebuilt from the
    store (which keeps outcomes but not budget, fingerprints, recommendations nor prompts)."""
    path = _is_artifact_path(spec, root)
    if path is not None:
        if not path.is_file():
            raise RunNotFound(f"{spec}: no such artifact file")
        artifact = read_artifact_file(path, spec)
        history: list[dict[str, Any]] = []
        if store_path.is_file():
            store = Store(store_path)
            try:
                if store.run(artifact["run"]["id"]) is not None:
                    history = trend_history(store, artifact["run"]["id"], trend_runs)
            finally:
                store.close()
        return RunDocument(artifact, str(path), tuple(history))
    if not store_path.is_file():
        raise RunNotFound(f"--store {store_path}: no such store (run pytest --modelbench first, or give an artifact "
                          "path)")
    store = Store(store_path)
    try:
        run_id = resolve_run_id(store, spec, root)
        from pytest_modelbench.store.artifact import default_artifact_path

        default = default_artifact_path(store_path, run_id)
        stored: dict[str, Any] | None = None
        if default.is_file():
            try:
                candidate = read_artifact_file(default, str(default))
            except RunNotFound:
                candidate = None
            if candidate is not None and candidate["run"]["id"] == run_id:
                stored, origin = candidate, str(default)
        if stored is None:
            stored, origin = artifact_from_store(store, run_id), f"store {store_path} (no JSON artifact)"
        return RunDocument(stored, origin, tuple(trend_history(store, run_id, trend_runs)))
    finally:
        store.close()


def artifact_from_store(store: Store, run_id: str) -> dict[str, Any]:
    """An artifact-shaped document from the store alone; what the store does not keep is absent and said so."""
    from pytest_modelbench.store.artifact import Artifact, RunHeader

    row = store.run(run_id)
    if row is None:
        raise RunNotFound(f"{run_id}: no such run in {store.path}")
    config = json.loads(row.get("config_json") or "{}")
    models = json.loads(row["candidate_models_json"])
    outcomes = store.outcome_records(run_id)
    intents = {o.session_key: o.intent for o in outcomes}
    keys = list(dict.fromkeys([*json.loads(row["source_session_ids_json"]), *intents]))
    config.setdefault("rubric", {"name": "?", "version": row["rubric_version"], "weights": {}})
    return Artifact(
        run=RunHeader(id=run_id, name=row["name"], status=row["status"], interrupted=False,
                      created=_iso(row["created_ts"]), completed=_iso(row["completed_ts"]), config=config),
        candidates=[{"model": m, "reference": m.startswith("replay/"), "fingerprint": {}} for m in models],
        sessions=[{"key": k, "intent": intents.get(k, "unknown"), "size_band": "unknown", "content_hash": ""}
                  for k in keys],
        outcomes=outcomes,
        budget={"cap_usd": None, "spent_usd": row["total_cost_usd"],
                "skipped": sum(1 for o in outcomes if o.status == "cancelled-over-budget")},
        warnings=[f"rebuilt from the store: no JSON artifact of run {run_id} next to it; budget cap, model "
                  "fingerprints, regressions, recommendations, prompts and the interrupted flag are not kept "
                  "in the store"],
        extra={"rebuilt_from_store": True},
    ).to_dict()


def trend_history(store: Store, run_id: str, limit: int = TREND_RUNS) -> list[dict[str, Any]]:
    """This run and the complete runs before it with the same rubric version, oldest first, at most ``limit``
    that scored something: per model the mean combined score (the point the trend gate uses)."""
    from pytest_modelbench.analysis.regression import mean_combined

    current = store.run(run_id)
    if current is None:
        return []
    points: list[dict[str, Any]] = []
    for row in store.runs(HISTORY_LIMIT):  # newest first
        if len(points) >= limit:
            break
        if row["rubric_version"] != current["rubric_version"] or row["created_ts"] > current["created_ts"]:
            continue
        if row["id"] != run_id and row["status"] != "complete":
            continue
        outcomes = store.outcomes(row["id"])
        means = mean_combined(outcomes)
        if not means:
            continue
        keys = sorted({o["source_session_id"] for o in outcomes})
        points.append({"run_id": row["id"], "name": row["name"], "created": _iso(row["created_ts"]),
                       "combined": means,
                       "session_set": hashlib.sha256("\n".join(keys).encode()).hexdigest()[:12]})
    return points[::-1]


__all__ = ["RunDocument", "RunNotFound", "artifact_from_store", "load_run", "read_artifact_file", "resolve_run_id",
           "trend_history"]
