"""Summary statistics."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean."""
    if not values:
        raise ValueError("mean() of empty data")
    return sum(values) / len(values)


def median(values: Sequence[float]) -> float:
    """Middle value."""
    if not values:
        raise ValueError("median() of empty data")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def mode(values: Sequence[float]) -> float:
    """Most common value."""
    if not values:
        raise ValueError("mode() of empty data")
    counts = Counter(values)
    best = max(counts.values())
    return min(v for v, c in counts.items() if c == best)
