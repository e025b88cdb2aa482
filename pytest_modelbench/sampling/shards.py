"""Shards across machines: the deterministic split (``--modelbench-shard K/N``) and ``modelbench merge``.

The split hashes each *session key*, so every candidate of a session runs in the same shard: the cost component
(relative to the session's other candidates) and the session's validation are then exactly those of a single run,
and a session is validated by one shard only. A hash, not a position, decides: adding sessions to a source never
moves the others between shards.

Pure module: no pytest.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_modelbench.analysis.recommend import recommend
from pytest_modelbench.errors import UserError
from pytest_modelbench.records import Outcome
from pytest_modelbench.schemas.validate import first_error
from pytest_modelbench.store.artifact import SCHEMA_VERSION, Artifact, RunHeader


class MergeError(UserError, ValueError):
    """Artifacts that do not make up one run: the message names the file and what differs."""


def shard_of(key: str, count: int) -> int:
    """The shard (1-based) of session ``key`` among ``count`` shards."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def in_shard(key: str, shard: tuple[int, int]) -> bool:
    index, count = shard
    return shard_of(key, count) == index


def sample_digest(keys: Iterable[str]) -> str:
    """Identity of a set of session keys (order does not matter)."""
    return hashlib.sha256("\n".join(sorted(set(keys))).encode("utf-8")).hexdigest()


def shard_record(shard: tuple[int, int], sample_keys: Sequence[str]) -> dict[str, Any]:
    """What a shard's artifact records (``run.config.shard``) so that merge can check the shards belong together."""
    return {"index": shard[0], "count": shard[1], "sample_sessions": len(set(sample_keys)),
            "sample_sha256": sample_digest(sample_keys)}


# Run config fields that must agree between the shards of one run (what was sampled and how it was scored).
SAME_CONFIG = ("models", "sessions", "sample_size", "sample_seed", "intents", "repeats")


def _item_key(o: dict[str, Any]) -> tuple[str, str, int]:
    return f"{o['source']}/{o['session_id']}", o["model"], int(o.get("repeat_index", 0))


def _check_shard(label: str, artifact: dict[str, Any]) -> tuple[int, int]:
    if not isinstance(artifact, dict) or "run" not in artifact or "outcomes" not in artifact:
        raise MergeError(f"{label}: not a modelbench JSON artifact")
    if artifact.get("schema_version") != SCHEMA_VERSION:
        raise MergeError(f"{label}: field 'schema_version': expected {SCHEMA_VERSION}, "
                         f"got {artifact.get('schema_version')!r}")
    run = artifact["run"] if isinstance(artifact["run"], dict) else {}
    shard = (run.get("config") or {}).get("shard")
    if not shard:  # said first: the most likely mistake, and what to do about it
        raise MergeError(f"{label}: run {run.get('id')} is not a shard (field 'run.config.shard' is empty; "
                         "run each shard with --modelbench-shard K/N)")
    err = first_error(artifact, "artifact")  # a shard must be what this version writes: schemas/artifact.schema.json
    if err:
        raise MergeError(f"{label}: field '{err[0]}': {err[1]}")
    if run.get("status") != "complete" or run.get("interrupted"):
        raise MergeError(f"{label}: run {run.get('id')} (shard {shard['index']}/{shard['count']}) is "
                         f"{'interrupted' if run.get('interrupted') else run.get('status')}; rerun that shard")
    return int(shard["index"]), int(shard["count"])


def _agree(field: str, labelled: Sequence[tuple[str, Any]]) -> None:
    first_label, first = labelled[0]
    for label, value in labelled[1:]:
        if value != first:
            raise MergeError(f"{label}: field '{field}' is {value!r} but {first!r} in {first_label}: "
                             "these shards are not from the same run")


def merge_artifacts(shards: Sequence[tuple[str, dict[str, Any]]], run_id: str, name: str | None = None,
                    now: float | None = None) -> dict[str, Any]:
    """One artifact from the artifacts of shards 1..N of a run. ``shards``: (label, artifact), label = file name.

    Checks the shards belong together (same N, every K once, same rubric, models and sample) and that every item
    appears once; recomputes the aggregates with the functions a single run uses.
    """
    if not shards:
        raise MergeError("no artifacts to merge")
    indexed = [(label, artifact, _check_shard(label, artifact)) for label, artifact in shards]
    _agree("run.config.shard.count", [(label, shard[1]) for label, _, shard in indexed])
    count = indexed[0][2][1]
    seen: dict[int, str] = {}
    for label, _, (index, _) in indexed:
        if index in seen:
            raise MergeError(f"{label}: shard {index}/{count} is also given as {seen[index]}")
        seen[index] = label
    missing = [k for k in range(1, count + 1) if k not in seen]
    if missing:
        raise MergeError(f"shard(s) {', '.join(f'{k}/{count}' for k in missing)} missing: a merge needs all {count}")
    configs = [(label, artifact["run"]["config"]) for label, artifact, _ in indexed]
    for key in ("name", "version", "weights", "static_weights"):
        # Not the rubric's path: a built-in rubric lives in each machine's own site-packages.
        _agree(f"run.config.rubric.{key}", [(label, (c.get("rubric") or {}).get(key)) for label, c in configs])
    _agree("budget.cap_usd", [(label, (artifact.get("budget") or {}).get("cap_usd")) for label, artifact, _ in indexed])
    for key in SAME_CONFIG:
        _agree(f"run.config.{key}", [(label, c.get(key)) for label, c in configs])
    _agree("run.config.sample_manifest.sha256",
           [(label, (c.get("sample_manifest") or {}).get("sha256")) for label, c in configs])
    for key in ("sample_sessions", "sample_sha256"):
        _agree(f"run.config.shard.{key}", [(label, c["shard"].get(key)) for label, c in configs])

    outcomes: dict[tuple[str, str, int], dict[str, Any]] = {}
    owner: dict[tuple[str, str, int], str] = {}
    sessions: dict[str, dict[str, Any]] = {}
    for label, artifact, shard in indexed:
        for s in artifact.get("sessions", []):
            if not in_shard(s["key"], shard):
                raise MergeError(f"{label}: session {s['key']} does not belong to shard {shard[0]}/{shard[1]}")
            sessions[s["key"]] = s
        for o in artifact["outcomes"]:
            item = _item_key(o)
            if item in outcomes:
                raise MergeError(f"{label}: item {item[0]}[{item[1]}] (repeat {item[2]}) is also in {owner[item]}: "
                                 "each item must be in exactly one shard")
            if not in_shard(item[0], shard):
                raise MergeError(f"{label}: item {item[0]}[{item[1]}] does not belong to shard {shard[0]}/{shard[1]}")
            outcomes[item] = o
            owner[item] = label
    first_config = configs[0][1]
    if sample_digest(sessions) != first_config["shard"]["sample_sha256"]:
        raise MergeError(f"the shards list {len(sessions)} session(s) but the sample has "
                         f"{first_config['shard']['sample_sessions']} (or other ones): not the same sample")

    records = [Outcome.from_dict(outcomes[k]) for k in sorted(outcomes)]
    by_index = sorted(indexed, key=lambda t: t[2][0])
    models = list(first_config.get("models") or [])
    # A shard's gates judged its part of the sample only (its trend even saw the other shards as runs): say whose.
    warnings = list(dict.fromkeys(f"shard {k}/{n}: {w}" for _, a, (k, n) in by_index for w in a.get("warnings", [])))
    expected = len(sessions) * len(models) * int(first_config.get("repeats") or 1)
    if len(records) < expected:
        warnings.append(f"{expected - len(records)} of the sample's {expected} item(s) have no outcome in any shard "
                        "(deselected or not run)")
    for label, artifact, (index, _) in indexed:
        if artifact.get("regressions"):
            warnings.append(f"shard {index}/{count} ({label}) reported {len(artifact['regressions'])} regression(s) "
                            "on its part of the sample; gate the merged run with modelbench compare BASELINE MERGED")
    candidates = _merge_candidates([(label, a) for label, a, _ in indexed], models, warnings)
    now = time.time() if now is None else now
    config = {**first_config, "shard": None,
              "merged_from": [{"run": a["run"]["id"], "shard": f"{k}/{n}", "artifact": Path(label).name,
                               "runner_used": a["run"]["config"].get("runner_used"),
                               "git_commit": a["run"]["config"].get("git_commit"),
                               "machine": a["run"]["config"].get("machine")}
                              for label, a, (k, n) in by_index]}
    return Artifact(
        run=RunHeader(id=run_id, name=name if name is not None else indexed[0][1]["run"].get("name"),
                      status="complete", interrupted=False,
                      created=min(a["run"]["created"] for _, a, _ in indexed),
                      completed=datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"), config=config),
        candidates=candidates,
        sessions=[sessions[k] for k in sorted(sessions)],
        outcomes=records,
        budget=_merge_budget([a["budget"] for _, a, _ in indexed], records),
        # the same per-run recommendation a single run over these outcomes stores
        recommendations=[r.to_dict() for r in recommend(records, run_id=run_id)],
        warnings=warnings,
    ).to_dict()


def _merge_candidates(shards: Sequence[tuple[str, dict[str, Any]]], models: Sequence[str],
                      warnings: list[str]) -> list[dict[str, Any]]:
    out = []
    for model in models:
        entries = [(label, c) for label, a in shards for c in a.get("candidates", []) if c.get("model") == model]
        prints = [(label, c.get("fingerprint") or {}) for label, c in entries]
        known = [fp for _, fp in prints if fp]
        fingerprint: dict[str, Any] = known[0] if known else {}
        if any(fp != fingerprint for fp in known):
            warnings.append(f"{model}: the shards saw different model fingerprints; the merged run mixes them")
            fingerprint = {"per_shard": {Path(label).name: fp for label, fp in prints}}
        reference = entries[0][1].get("reference", model.startswith("replay/")) if entries else \
            model.startswith("replay/")
        out.append({"model": model, "reference": reference, "fingerprint": fingerprint})
    return out


def _merge_budget(budgets: Sequence[dict[str, Any]], records: Sequence[Outcome]) -> dict[str, Any]:
    """Each shard had cap/N: the caps, spends and counters add up; skips are counted from the merged outcomes."""

    def total(key: str, digits: int = 9) -> float | int:
        values = [b.get(key) or 0 for b in budgets]
        return round(sum(values), digits) if any(isinstance(v, float) for v in values) else sum(values)

    caps = [b.get("cap_usd") for b in budgets]
    return {
        "cap_usd": None if any(c is None for c in caps) else round(sum(c for c in caps if c is not None), 9),
        "spent_usd": total("spent_usd"),
        "reserved_usd": total("reserved_usd"),
        "refused_calls": int(total("refused_calls")),
        "skipped": sum(1 for o in records if o.status == "cancelled-over-budget"),
        "judge_spent_usd": float(total("judge_spent_usd")),
        "candidates_spent_usd": float(total("candidates_spent_usd")),
        "requests_sent": int(total("requests_sent")),
        "cache_hits": int(total("cache_hits")),
        "shards": len(budgets),
    }


def total_cost(records: Sequence[Outcome]) -> float | None:
    """The run's total cost as the store records it: None when a complete outcome's price is unknown."""
    costs = [o.cost_usd for o in records if o.status == "complete"]
    return None if any(c is None for c in costs) else round(sum(c for c in costs if c is not None), 6)


__all__ = ["MergeError", "in_shard", "merge_artifacts", "sample_digest", "shard_of", "shard_record", "total_cost"]
