"""``--modelbench-resume RUN_ID``: finish a run that was interrupted, killed or crashed, without redoing its work.

The resumed run keeps its id and collects the same items. Items whose stored outcome is ``complete`` are
*deselected* (pytest reports them as deselected) and their stored outcomes are reused as they are; every other item
(missing, ``failed``, ``pending``, ``running``, ``skipped``, ``cancelled-over-budget``) runs again and its new outcome
replaces the old row. The artifact written at the end holds every item of the run exactly once.

A run can only be resumed with the configuration it started with (models, sessions, sampling, intents, rubric,
sample manifest): anything else would mix outcomes that are not comparable. Pure module: no pytest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pytest_modelbench.errors import UserError
from pytest_modelbench.records import Outcome, Session
from pytest_modelbench.store.sqlite import outcome_from_row

DONE_STATUSES = ("complete",)
# What must be equal between the stored run and the resuming one, with how to show each in an error.
COMPARED = ("models", "sessions", "sample_size", "sample_seed", "intents", "shard", "repeats")
_NODE_ID = re.compile(r"^(?P<key>.+)\[(?P<model>[^\[\]]+)\]$")
_REPEAT = re.compile(r"^(?P<model>.+)-r(?P<repeat>\d+)$")


class ResumeError(UserError, ValueError):
    """The run cannot be resumed as asked; the message names the run and what differs."""


@dataclass(frozen=True)
class Resumed:
    """What a resumed run starts from: the stored run row and its finished outcomes."""

    run: dict[str, Any]
    done: tuple[Outcome, ...]

    @property
    def done_keys(self) -> set[tuple[str, str, int]]:
        return {(o.session_key, o.model, o.repeat_index) for o in self.done}


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between the stored run config and this invocation's (empty: compatible)."""
    diffs = []
    for key in COMPARED:
        if _norm(stored.get(key)) != _norm(current.get(key)):
            diffs.append(f"{key} {_show(stored.get(key))} (stored) vs {_show(current.get(key))} (now)")
    old_rubric, new_rubric = stored.get("rubric") or {}, current.get("rubric") or {}
    for key in ("version", "weights", "static_weights"):
        if _norm(old_rubric.get(key)) != _norm(new_rubric.get(key)):
            diffs.append(f"rubric {key} {_show(old_rubric.get(key))} (stored) vs {_show(new_rubric.get(key))} (now)")
    old_manifest = (stored.get("sample_manifest") or {}).get("sha256")
    new_manifest = (current.get("sample_manifest") or {}).get("sha256")
    if old_manifest != new_manifest:
        diffs.append(f"sample manifest sha256 {old_manifest} (stored) vs {new_manifest} (now)")
    return diffs


def _norm(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def plan_resume(run: Mapping[str, Any] | None, rows: Sequence[Mapping[str, Any]], run_id: str, store_path: Any,
                current_config: Mapping[str, Any], sessions: Sequence[Session],
                models: Sequence[str]) -> Resumed:
    """Check that ``run_id`` can be resumed with this configuration and return its finished outcomes."""
    where = f"--modelbench-resume {run_id}"
    if run is None:
        raise ResumeError(f"{where}: no run with that id in {store_path}")
    try:
        stored_config = json.loads(run.get("config_json") or "{}")
    except ValueError:
        stored_config = {}
    diffs = config_differences(stored_config, current_config)
    if diffs:
        raise ResumeError(f"{where}: this invocation's configuration differs from the stored run's: "
                          + "; ".join(diffs))
    by_key = {s.key: s for s in sessions}
    done = []
    for row in rows:
        session = by_key.get(row["source_session_id"])
        if session is None:
            raise ResumeError(f"{where}: session {row['source_session_id']} of the stored run is not in this "
                              "invocation's sample (did the sources change?)")
        if row["status"] in DONE_STATUSES and row["candidate_model"] in models:
            # The session gives source and id exactly (a source name may itself contain "/").
            done.append(replace(outcome_from_row(dict(row)), session_id=session.id, source=session.source))
    return Resumed(dict(run), tuple(done))


def crashed_outcome(nodeid: str, message: str, sessions_by_key: Mapping[str, Session],
                    models: Sequence[str]) -> Outcome | None:
    """The ``failed`` outcome of an item whose xdist worker died while running it (None: not one of ours)."""
    parsed = parse_node_id(nodeid, models)
    session = sessions_by_key.get(parsed[0]) if parsed else None
    if parsed is None or session is None:
        return None
    reason = f"the worker running this item died: {message}"
    return Outcome.unscored(session, parsed[1], "failed", repeat_index=parsed[2], reason=reason,
                            evidence={"error": reason, "crashed": True})


def parse_node_id(nodeid: str, models: Sequence[str]) -> tuple[str, str, int] | None:
    """``(session key, model, repeat index)`` of a modelbench item's node id, or None.

    Node ids read ``<source>/<id>[<model>]``, or ``<source>/<id>[<model>-r<i>]`` with ``--repeats``; a model id may
    itself end in ``-r1`` (deepseek-r1), so the known models decide.
    """
    m = _NODE_ID.match(nodeid)
    if m is None:
        return None
    inner = m["model"]
    if inner in models:
        return m["key"], inner, 0
    r = _REPEAT.match(inner)
    if r and r["model"] in models:
        return m["key"], r["model"], int(r["repeat"])
    return None


__all__ = ["DONE_STATUSES", "ResumeError", "Resumed", "config_differences", "crashed_outcome", "parse_node_id",
           "plan_resume"]
