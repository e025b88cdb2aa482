"""Closed integer intervals represented as ``(start, end)`` tuples."""
from __future__ import annotations

from collections.abc import Iterable

Interval = tuple[int, int]


def overlaps(a: Interval, b: Interval) -> bool:
    """Return True if closed intervals *a* and *b* share at least one point."""
    return a[0] <= b[1] and b[0] <= a[1]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge overlapping intervals; the result is sorted by start.

    Raises:
        ValueError: if an interval has ``start > end``.
    """
    result: list[Interval] = []
    for start, end in sorted(intervals):
        if start > end:
            raise ValueError(f"invalid interval ({start}, {end})")
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], end))
        else:
            result.append((start, end))
    return result


def total_length(intervals: Iterable[Interval]) -> int:
    """Total length covered by *intervals*, counting overlaps once."""
    return sum(end - start for start, end in merge(intervals))
