"""The JSON artifact: a versioned document per run (schema in ``schemas/artifact.schema.json``), written atomically."""

from __future__ import annotations

import json
import os
import platform
import secrets
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_modelbench.analysis.leaderboard import intent_rows, invalid_sessions, model_rows
from pytest_modelbench.records import Outcome

if TYPE_CHECKING:
    from pytest_modelbench.run.session import BenchmarkSession

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


def build_artifact(bench: BenchmarkSession, outcomes: list[Outcome], *, status: str, interrupted: bool,
                   total_cost: float | None) -> dict[str, Any]:
    import time

    return {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "id": bench.run_id,
            "name": bench.settings.name,
            "status": status,
            "interrupted": interrupted,
            "created": _iso(bench.started),
            "completed": _iso(time.time()),
            "config": bench.run_config(),
        },
        "candidates": [
            {"model": m, "reference": m.startswith("replay/"), "fingerprint": {"kind": "reference"}
             if m.startswith("replay/") else bench.fingerprints.get(m, {})}
            for m in bench.settings.models
        ],
        "sessions": [
            {"key": s.key, "intent": s.intent, "size_band": s.size_band, "content_hash": s.content_hash(),
             "prompt_first_line": prompt_first_line(s.prompt)}
            for s in bench.plan.sessions
        ],
        "outcomes": [o.to_dict() for o in outcomes],
        "aggregates": aggregates(outcomes, bench.settings.models),
        "budget": budget_summary(bench, outcomes),
        "regressions": [],
        "recommendations": [],
        "warnings": [w for w in (bench.runner_warning, judge_warning(bench)) if w],
        "extra": {},
    }


def aggregates(outcomes: list[Outcome], models: Sequence[str]) -> dict[str, Any]:
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


def judge_warning(bench: BenchmarkSession) -> str | None:
    judge = bench.settings.judge
    if judge and judge in bench.settings.models:
        return f"the judge {judge} is also a candidate: it grades its own work"
    return None


def budget_summary(bench: BenchmarkSession, outcomes: list[Outcome]) -> dict[str, Any]:
    """Cap and spend from the broker's ledger (the truth, judge included later), skips from the outcomes."""
    ledger = bench.budget_final or {}
    return {
        "cap_usd": bench.settings.budget_cap_usd,
        "spent_usd": ledger.get("spent_usd", 0.0),
        "reserved_usd": ledger.get("reserved_usd", 0.0),
        "refused_calls": ledger.get("refused", 0),
        "skipped": sum(1 for o in outcomes if o.status == "cancelled-over-budget"),
        "judge_spent_usd": round(sum((o.evidence.get("llm") or {}).get("cost_usd") or 0.0 for o in outcomes), 9),
        "candidates_spent_usd": round(sum(o.cost_usd or 0.0 for o in outcomes), 9),
        "requests_sent": bench.broker_stats.get("requests_sent", 0),
        "cache_hits": bench.broker_stats.get("cache_hits", 0),
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


__all__ = ["SCHEMA_VERSION", "aggregates", "build_artifact", "default_artifact_path", "environment_info",
           "new_run_id", "write_artifact"]
