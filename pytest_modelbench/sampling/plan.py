"""The plan of a run: every source named by ``--sessions`` loaded and sampled, in run order.

Pure module: no pytest. The plugin passes the two hooks that decide (``pytest_modelbench_source`` and
``pytest_modelbench_sample``) as plain callables; a bad source, manifest or workspace raises a :class:`UserError`
naming it, which the plugin turns into a ``pytest.UsageError``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_modelbench.errors import UserError
from pytest_modelbench.records import Session
from pytest_modelbench.replay.workspace import WorkspaceError
from pytest_modelbench.sources import Source, SourceError

# spec -> the source it names, or None when nothing knows it
FindSource = Callable[[str], Source | None]
# (source, its sessions, sample size or None for the source's default, seed) -> the sample
SampleSessions = Callable[[Source, list[Session], int | None, int], list[Session]]


class PlanError(UserError, ValueError):
    """The sessions asked for cannot be planned: the message names the ``--sessions`` source or manifest field."""


@dataclass(frozen=True)
class Plan:
    """The sampled sessions of every source, in run order."""

    sessions: tuple[Session, ...]
    strata: dict[str, dict[str, int]]  # source -> stratum label -> count
    shard: dict[str, Any] | None = None  # with --modelbench-shard: index, count, and the whole sample's identity
    warnings: tuple[str, ...] = ()  # for the user, once (the manifest's sessions changed since it was written)


@dataclass(frozen=True)
class PlanRequest:
    """The options that decide the plan."""

    specs: tuple[str, ...]  # --sessions, in order
    intents: tuple[str, ...] = ()
    sample_size: int | None = None
    sample_seed: int = 0
    store: Path | None = None  # the history store (transcript sources keep their index next to it)
    check_command: str | None = None
    manifest: Path | None = None  # --sample-manifest
    is_worker: bool = False  # an xdist worker reads what the controller wrote and writes nothing


def shard_plan(plan: Plan, shard: tuple[int, int]) -> Plan:
    """The sessions of shard K of N (all candidates of a session together); strata stay those of the whole sample."""
    from pytest_modelbench.sampling.shards import in_shard, shard_record

    mine = tuple(s for s in plan.sessions if in_shard(s.key, shard))
    return Plan(mine, plan.strata, shard_record(shard, [s.key for s in plan.sessions]), plan.warnings)


def build_plan(request: PlanRequest, find_source: FindSource, sample_sessions: SampleSessions) -> Plan:
    """Load every source of ``request.specs`` and sample it.

    With a manifest (``--sample-manifest``) the sample is read from it when it exists, and written to it otherwise.
    Transcript sources are sampled on light sessions; only the sample gets its workspace built (``materialize``).
    """
    from pytest_modelbench.sampling.manifest import build_manifest, read_manifest, write_manifest
    from pytest_modelbench.sampling.sample import stratum_counts
    from pytest_modelbench.sources.transcripts.source import TranscriptSource

    chosen: list[Session] = []
    notes: list[str] = []  # sources that gave nothing to replay, and why
    strata: dict[str, dict[str, int]] = {}
    seen: dict[str, str] = {}
    provided: set[str] = set()
    manifest_path = request.manifest
    manifest = read_manifest(manifest_path) if manifest_path is not None and manifest_path.exists() else None
    for spec in request.specs:
        try:
            source = find_source(spec)
            if source is None:
                raise SourceError(f"--sessions {spec}: not a known source (demo, humaneval) nor an existing path")
            if isinstance(source, TranscriptSource):
                # The controller imports new transcript lines; workers read the same index, so they sample the same.
                source.configure(store=request.store, check_command=request.check_command,
                                 refresh=not request.is_worker)
            sessions = list(source.sessions())
        except WorkspaceError as exc:
            raise PlanError(f"--sessions {spec}: {exc}") from None
        if isinstance(source, TranscriptSource) and not sessions and not request.is_worker:
            from pytest_modelbench.sources.transcripts.common import yield_lines

            said = yield_lines([e.replayable(request.check_command) for e in source.entries()])
            notes.append(f"--sessions {spec}: nothing to replay: {'; '.join(said)}. Every session and why: "
                         f"modelbench sessions --sessions {spec} --all")
        provided.update(s.key for s in sessions)
        if request.intents:
            sessions = [s for s in sessions if s.intent in request.intents]
        if manifest is not None:
            wanted = set(manifest.keys)
            sample = [s for s in sorted(sessions, key=lambda s: s.key) if s.key in wanted]
        else:
            size = request.sample_size if request.sample_size is not None else source.default_sample_size
            sample = sample_sessions(source, sessions, size, request.sample_seed)
        if isinstance(source, TranscriptSource):
            sample = source.materialize(sample)
        for s in sample:
            if s.key in seen:
                raise PlanError(f"--sessions {spec}: session {s.key} is also provided by --sessions {seen[s.key]}")
            seen[s.key] = spec
        strata[source.name] = stratum_counts(sample)
        chosen.extend(sample)
    warnings: list[str] = list(notes)
    if manifest is not None and manifest_path is not None:
        changed = _check_manifest(manifest, manifest_path, chosen, provided, request.specs)
        if changed and not request.is_worker:
            warnings.append(f"--sample-manifest {manifest_path}: {len(changed)} session(s) changed since the "
                            f"manifest was written (content hash): {', '.join(changed[:5])}")
    elif manifest_path is not None and not request.is_worker:
        write_manifest(manifest_path, build_manifest(chosen, request.sample_seed, request.sample_size,
                                                     request.specs, strata))
    return Plan(tuple(chosen), strata, warnings=tuple(warnings))


def _check_manifest(manifest: Any, path: Path, chosen: Sequence[Session], provided: set[str],
                    specs: Sequence[str]) -> list[str]:
    """Every manifest entry must be provided by the sources; returns the keys whose content changed since."""
    by_key = {s.key: s for s in chosen}
    changed = []
    for i, entry in enumerate(manifest.entries):
        if entry.key not in provided:
            raise PlanError(f"{path}: field 'sessions[{i}].key': {entry.key} is not provided by --sessions "
                            f"{', '.join(specs)}")
        if entry.key in by_key and entry.content_hash and by_key[entry.key].content_hash() != entry.content_hash:
            changed.append(entry.key)
    return changed


def manifest_identity(path: Path | None) -> dict[str, str] | None:
    """Path and content hash of the sample manifest (the baseline gate compares like with like on it)."""
    if path is None or not path.is_file():
        return None
    import hashlib

    return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


__all__ = ["FindSource", "Plan", "PlanError", "PlanRequest", "SampleSessions", "build_plan", "manifest_identity",
           "shard_plan"]
