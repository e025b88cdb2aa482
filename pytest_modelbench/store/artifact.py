"""The JSON artifact: a versioned document per run (schema in ``schemas/artifact.schema.json``), written atomically."""

from __future__ import annotations

import json
import os
import platform
import secrets
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_modelbench.analysis.leaderboard import intent_rows, invalid_sessions, model_rows
from pytest_modelbench.records import Outcome, Session

SCHEMA_VERSION = 1


def new_run_id(now: datetime | None = None) -> str:
    """A new run id, ``bench_<8 hex>_<YYYYmmdd>_<HHMMSS>`` (UTC), as the schema's ``run.id`` pattern reads."""
    now = now or datetime.now(UTC)
    return f"bench_{secrets.token_hex(4)}_{now:%Y%m%d_%H%M%S}"


def default_artifact_path(store: Path, run_id: str) -> Path:
    return store.parent / "runs" / f"{run_id}.json"


def _git_commit(root: Path) -> str | None:
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def environment_info(root: Path) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for dist in ("pytest-modelbench", "pytest", "pytest-xdist", "litellm"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    return {
        "versions": {"python": platform.python_version(), **versions},
        "machine": {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count()},
        "git_commit": _git_commit(root),
    }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunHeader:
    """The artifact's ``run`` object."""

    id: str
    name: str | None
    status: str
    interrupted: bool
    created: str  # ISO 8601, UTC
    completed: str
    config: Mapping[str, Any]


@dataclass(frozen=True)
class Artifact:
    """A run's JSON artifact as a typed record. :meth:`to_dict` is the one place the document is assembled: at the
    end of a run, by ``modelbench merge`` and for a run rebuilt from the store; the aggregates are computed there."""

    run: RunHeader
    candidates: Sequence[Mapping[str, Any]]  # one per model, in the run's model order
    sessions: Sequence[Mapping[str, Any]]
    outcomes: Sequence[Outcome]
    budget: Mapping[str, Any]
    regressions: Sequence[Mapping[str, Any]] = ()
    recommendations: Sequence[Mapping[str, Any]] = ()
    warnings: Sequence[str] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        return [str(c["model"]) for c in self.candidates]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "run": {"id": self.run.id, "name": self.run.name, "status": self.run.status,
                    "interrupted": self.run.interrupted, "created": self.run.created,
                    "completed": self.run.completed, "config": dict(self.run.config)},
            "candidates": [dict(c) for c in self.candidates],
            "sessions": [dict(s) for s in self.sessions],
            "outcomes": [o.to_dict() for o in self.outcomes],
            "aggregates": aggregates(self.outcomes, self.models),
            "budget": dict(self.budget),
            "regressions": [dict(r) for r in self.regressions],
            "recommendations": [dict(r) for r in self.recommendations],
            "warnings": list(self.warnings),
            "extra": dict(self.extra),
        }


@dataclass(frozen=True)
class RunFacts:
    """What the controller knows of a finished run besides its outcomes: the data its artifact is built from."""

    run_id: str
    name: str | None
    started: float  # epoch seconds
    config: Mapping[str, Any]  # the run config the store holds (options, rubric, strata, environment)
    models: Sequence[str]
    sessions: Sequence[Session]
    budget_cap_usd: float | None = None
    ledger: Mapping[str, Any] = field(default_factory=dict)  # the broker's budget ledger, when models ran
    fingerprints: Mapping[str, Any] = field(default_factory=dict)  # model -> what the door saw of it
    broker_stats: Mapping[str, Any] = field(default_factory=dict)  # requests sent, cache hits
    settings: Mapping[str, Any] = field(default_factory=dict)  # model -> generation settings the door sent
    warnings: Sequence[str] = ()


def build_artifact(facts: RunFacts, outcomes: Sequence[Outcome], *, status: str, interrupted: bool,
                   recommendations: Sequence[Mapping[str, Any]] = (), regressions: Sequence[Mapping[str, Any]] = (),
                   warnings: Sequence[str] = ()) -> Artifact:
    """The artifact of a run that just ended (``warnings``: the gate's, after the run's own)."""
    import time

    return Artifact(
        run=RunHeader(id=facts.run_id, name=facts.name, status=status, interrupted=interrupted,
                      created=_iso(facts.started), completed=_iso(time.time()), config=facts.config),
        candidates=[{"model": m, "reference": m.startswith("replay/"), "fingerprint": {"kind": "reference"}
                     if m.startswith("replay/") else facts.fingerprints.get(m, {}),
                     # temperature, seed, system prompt (redacted), ... as the door sent them (models/door.py)
                     "settings": facts.settings.get(m)} for m in facts.models],
        sessions=[{"key": s.key, "intent": s.intent, "size_band": s.size_band, "content_hash": s.content_hash(),
                   "prompt_first_line": prompt_first_line(s.prompt)} for s in facts.sessions],
        outcomes=outcomes,
        budget=budget_summary(facts, outcomes),
        regressions=regressions,
        recommendations=recommendations,
        warnings=[*facts.warnings, *warnings],
    )


def aggregates(outcomes: Sequence[Outcome], models: Sequence[str]) -> dict[str, Any]:
    """The artifact's aggregates; the one place a run's outcomes become them (runs and ``modelbench merge``)."""
    return {
        "per_model": [r.to_dict() for r in model_rows(outcomes, models)],
        "per_intent": [asdict(r) for r in intent_rows(outcomes)],
        "invalid_sessions": invalid_sessions(outcomes),
    }


PROMPT_LINE_CHARS = 200


def prompt_first_line(prompt: str) -> str:
    """The first non-blank line of a session's prompt, redacted and cut to PROMPT_LINE_CHARS (reports show it)."""
    from pytest_modelbench.models.redact import redact

    line = next((ln.strip() for ln in redact(prompt or "").splitlines() if ln.strip()), "")
    return line if len(line) <= PROMPT_LINE_CHARS else line[:PROMPT_LINE_CHARS - 1] + "…"


def judge_warning(judge: str | None, models: Sequence[str]) -> str | None:
    if judge and judge in models:
        return f"the judge {judge} is also a candidate: it grades its own work"
    return None


def door_warning(broker_stats: Mapping[str, Any]) -> str | None:
    """Connections the model door refused (no or a wrong per-run secret): someone else reached its TCP port."""
    refused = broker_stats.get("refused_connections", 0)
    if not refused:
        return None
    return (f"the model door refused {refused} connection(s) that did not present the run's secret: "
            + "; ".join(broker_stats.get("refusals", [])[:5]))


def ahead_warning(broker_stats: Mapping[str, Any]) -> str | None:
    """Calls the door made ahead of their items and paid for, which no item then took (models/ahead.py)."""
    unused = (broker_stats.get("ahead") or {}).get("unused", 0)
    if not unused:
        return None
    return (f"{unused} model call(s) made ahead of their items were paid for but not used: their items did not reach "
            "the model (an invalid session, a crashed worker, an interrupted run); with the response cache on, a rerun "
            "or --modelbench-resume does not pay for them again")


def budget_summary(facts: RunFacts, outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Cap and spend from the broker's ledger (the truth, judge included later), skips from the outcomes."""
    ledger = facts.ledger
    return {
        "cap_usd": facts.budget_cap_usd,
        "spent_usd": ledger.get("spent_usd", 0.0),
        "reserved_usd": ledger.get("reserved_usd", 0.0),
        "refused_calls": ledger.get("refused", 0),
        "skipped": sum(1 for o in outcomes if o.status == "cancelled-over-budget"),
        "judge_spent_usd": round(sum((o.evidence.get("llm") or {}).get("cost_usd") or 0.0 for o in outcomes), 9),
        "candidates_spent_usd": round(sum(o.cost_usd or 0.0 for o in outcomes), 9),
        "requests_sent": facts.broker_stats.get("requests_sent", 0),
        "cache_hits": facts.broker_stats.get("cache_hits", 0),
    }


def write_artifact(artifact: dict[str, Any], path: Path) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file. Every string is
    redacted first (an artifact is made to be shared)."""
    from pytest_modelbench.models.redact import redact_obj

    artifact = redact_obj(artifact)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(artifact, fh, indent=2, sort_keys=False, default=str)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["SCHEMA_VERSION", "Artifact", "RunFacts", "RunHeader", "aggregates", "build_artifact", "budget_summary",
           "judge_warning", "door_warning", "ahead_warning", "prompt_first_line", "default_artifact_path",
           "environment_info", "new_run_id", "write_artifact"]
