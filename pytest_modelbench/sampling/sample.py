"""Seeded, stratified sampling of sessions (product.md §4). Pure and deterministic across machines.

Strata are intent × size band (× original model where known). Allocation is proportional with at least one
session per non-empty stratum (largest remainders break ties); within a stratum sessions are ordered by id and
shuffled with a seed derived from the run seed and the stratum, so the input order never matters.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence

from pytest_modelbench.records import Session

Stratum = tuple[str, ...]


def default_stratum(session: Session) -> Stratum:
    model = session.original.model or ""
    return (session.intent, session.size_band, model) if model else (session.intent, session.size_band)


def _rng(seed: int, *parts: str) -> random.Random:
    digest = hashlib.sha256("\x1f".join((str(seed), *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def allocate(sizes: dict[Stratum, int], n: int, seed: int) -> dict[Stratum, int]:
    """How many to take from each stratum: proportional, at least one per non-empty stratum, summing to ``n``."""
    strata = sorted(s for s, size in sizes.items() if size > 0)
    total = sum(sizes[s] for s in strata)
    if n >= total:
        return {s: sizes[s] for s in strata}
    if n < len(strata):
        # Not enough room for one per stratum: a seeded draw of strata, weighted by size.
        rng = _rng(seed, "strata")
        chosen: list[Stratum] = []
        pool = list(strata)
        while len(chosen) < n:
            pick = rng.choices(pool, weights=[sizes[s] for s in pool])[0]
            pool.remove(pick)
            chosen.append(pick)
        return {s: (1 if s in chosen else 0) for s in strata}
    alloc = {s: 1 for s in strata}
    remaining = n - len(strata)
    spare = {s: sizes[s] - 1 for s in strata}
    spare_total = sum(spare.values())
    if remaining and spare_total:
        quotas = {s: remaining * spare[s] / spare_total for s in strata}
        for s in strata:
            alloc[s] += int(quotas[s])
        left = n - sum(alloc.values())
        order = sorted(strata, key=lambda s: (-(quotas[s] - int(quotas[s])), s))
        for s in order:
            if left <= 0:
                break
            if alloc[s] < sizes[s]:
                alloc[s] += 1
                left -= 1
    return alloc


def stratified_sample(
    sessions: Sequence[Session],
    n: int | None,
    seed: int,
    stratum: Callable[[Session], Stratum] = default_stratum,
) -> list[Session]:
    """Return the sample ordered by session key. ``n`` of None or 0 means every session."""
    ordered = sorted(sessions, key=lambda s: s.key)
    if not n or n >= len(ordered):
        return ordered
    groups: dict[Stratum, list[Session]] = {}
    for s in ordered:
        groups.setdefault(stratum(s), []).append(s)
    alloc = allocate({k: len(v) for k, v in groups.items()}, n, seed)
    picked: list[Session] = []
    for key, members in groups.items():
        members = list(members)
        _rng(seed, *key).shuffle(members)
        picked.extend(members[: alloc.get(key, 0)])
    return sorted(picked, key=lambda s: s.key)


def stratum_counts(
    sessions: Sequence[Session], stratum: Callable[[Session], Stratum] = default_stratum
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in sessions:
        label = " × ".join(stratum(s))
        counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items()))
